"""Real ground truth: AFLW2000-3D samples (pose and 68 landmarks). Needs ../shared/data."""

import json

import numpy as np
import pytest

from expnet.cli import main


@pytest.fixture(scope="module")
def labelled(shared_data, tmp_path_factory):
    folder = shared_data / "aflw2000-samples"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    out = tmp_path_factory.mktemp("aflw") / "aflw.jsonl"
    assert main(["label", str(folder), "-o", str(out), "--quiet", "--workers", "2"]) == 0
    return [json.loads(line) for line in open(out)]


def test_every_image_has_a_row_and_most_are_fitted(labelled):
    assert len(labelled) == 16
    assert sum(r["status"] == "ok" for r in labelled) >= 14


def test_pose_against_ground_truth(labelled):
    from scipy.io import loadmat
    errors = []
    for r in labelled:
        if r["status"] != "ok":
            continue
        truth = np.degrees(loadmat(r["image"][:-4] + ".mat")["Pose_Para"][0, :3])  # pitch, yaw, roll
        p = r["pose"]
        errors.append(np.abs(np.array([p["pitch"], p["yaw"], p["roll"]]) - truth))
    median = np.median(errors, axis=0)
    assert (median < 8.0).all(), f"median |error| pitch/yaw/roll = {median}"


def test_landmarks_against_ground_truth(labelled):
    from scipy.io import loadmat
    nme = []
    for r in labelled:
        if r["status"] != "ok":
            continue
        gt = loadmat(r["image"][:-4] + ".mat")["pt3d_68"][:2].T
        size = np.sqrt(np.prod(gt.max(0) - gt.min(0)))
        nme.append(np.linalg.norm(np.array(r["landmarks"]) - gt, axis=1).mean() / size)
    assert np.median(nme) < 0.06

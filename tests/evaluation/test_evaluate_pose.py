"""expnet evaluate pose: the AFLW2000-3D protocol (issue 13, item 5)."""

import json
from pathlib import Path

import numpy as np
import pytest

from expnet.cli import main
from expnet.evaluation.pose import MethodPoses, PoseSet, load_pose_set, score


def _set(angles) -> PoseSet:
    angles = np.asarray(angles, dtype=float)
    pts = np.tile(np.stack([np.linspace(100, 200, 68), np.linspace(50, 250, 68)], 1), (len(angles), 1, 1))
    return PoseSet([Path(f"img{k}.jpg") for k in range(len(angles))], angles, pts)


def test_perfect_answers_score_zero_and_misses_are_counted():
    data = _set([[0, 10, 0], [5, 45, -3], [-2, -75, 1], [1, 88, 0]])
    perfect = score(data, MethodPoses(data.angles.copy(), data.landmarks.copy()), "m", "gt")
    assert perfect.found == 4 and perfect.mae["mean"] == 0 and perfect.nme == 0
    assert perfect.rotation["mean"] == pytest.approx(0, abs=1e-3)
    assert {k: v["images"] for k, v in perfect.mae_by_yaw.items()} == {"0-30": 1, "30-60": 1, "60-90": 2}
    angles = data.angles.copy()
    angles[0] = np.nan                                  # a face the method missed
    angles[1, 1] += 10                                  # 10 degrees off in yaw
    angles[2, 2] += 360                                 # the same roll, another turn
    s = score(data, MethodPoses(angles, data.landmarks + 3.0), "m", "own")
    assert s.found == 3 and s.per_image[0]["predicted"] is None
    assert s.mae["yaw"] == pytest.approx(10 / 3, abs=0.01) and s.mae["roll"] == 0
    assert s.mae_by_yaw["30-60"]["yaw"] == 10
    assert s.rotation["30-60"] == pytest.approx(10, abs=0.01)       # a turn about one axis: its angle
    assert s.rotation["mean"] == pytest.approx(10 / 3, abs=0.01)
    assert [r["rotation_error"] for r in s.per_image][0] is None
    side = np.sqrt(100 * 200)
    assert s.nme == pytest.approx(np.hypot(3, 3) / side, abs=1e-4)


def test_the_geodesic_error_sees_through_euler_coupling_at_large_yaw():
    # AFLW2000-3D's image00475 (yaw 65.6, pitch 40, roll 20) and a reading of it: pitch and roll
    # each 15 degrees off, yet the head is turned within 8 degrees of the truth
    data = _set([[40, 65.6, 20]])
    s = score(data, MethodPoses(np.array([[24.9, 71.3, 4.9]]), data.landmarks.copy()), "m", "gt")
    assert s.mae["mean"] == pytest.approx(12, abs=0.1)
    assert s.rotation["mean"] == pytest.approx(8.0, abs=0.1)


def test_boxes_come_from_the_ground_truth_landmarks():
    box = _set([[0, 0, 0]]).boxes()[0]
    # extents x 100-200, y 50-250: centre (150, 50 + 0.38 * 200), side 1.05 * 200
    np.testing.assert_allclose(box, [150 - 105, 126 - 105, 150 + 105, 126 + 105])


def test_a_folder_without_the_layout_is_refused(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="AFLW2000-3D layout"):
        load_pose_set(tmp_path)
    assert main(["evaluate", "pose", str(tmp_path)]) == 2
    assert main(["evaluate", "pose"]) == 2


def test_aflw2000_samples_report(shared_data, tmp_path):
    folder = shared_data / "aflw2000-samples"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    assert main(["evaluate", "pose", str(folder), "--report", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    by_method = {s["method"]: s for s in results["scores"]}
    assert set(by_method) == {"expnet", "dlib-fit", "mesh-pose"}
    assert all(s["found"] == s["images"] == 16 for s in by_method.values())     # gt boxes: nothing missed
    assert by_method["expnet"]["mae_by_yaw"]["0-30"]["mean"] < 6                # near-frontal faces are easy
    assert by_method["expnet"]["nme"] < 0.1
    # the teacher of --pose mesh: FaceMesh's depth reads the pitch the 2D fit of dlib's points flattens
    assert by_method["mesh-pose"]["mae"]["pitch"] < by_method["dlib-fit"]["mae"]["pitch"] - 2
    assert by_method["mesh-pose"]["rotation"]["mean"] < by_method["dlib-fit"]["rotation"]["mean"]
    assert (tmp_path / "error-vs-yaw.png").stat().st_size > 10_000
    assert "| expnet | gt | 16/16 |" in (tmp_path / "report.md").read_text()

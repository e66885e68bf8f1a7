"""expnet evaluate on a tiny folder dataset built from a registry sample face."""

import json

import cv2
import numpy as np
import pytest

from expnet.assets.samples import read_pts, sample_path
from expnet.cli import main
from expnet.io.images import load_image


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory):
    """Face crops of one photo, 'happy' = as is, 'sad' = mirrored and darker: an easy 2-class set."""
    root = tmp_path_factory.mktemp("emo")
    path = sample_path("takeo.ppm")
    gray, pts = load_image(path, "L"), read_pts(path.with_suffix(".pts"))
    lo, hi = pts.min(0).astype(int) - 10, pts.max(0).astype(int) + 10
    face = gray[max(lo[1], 0):hi[1], max(lo[0], 0):hi[0]]
    for k in range(4):
        for label, img in (("happy", face), ("sad", (cv2.flip(face, 1) * 0.6).astype(np.uint8))):
            (root / label).mkdir(exist_ok=True)
            shift = np.roll(img, k, axis=1)
            cv2.imwrite(str(root / label / f"{k}.png"), cv2.resize(shift, (48, 48), interpolation=cv2.INTER_AREA))
    return root


def test_evaluate_writes_report(folder_dataset, onnx_model, tmp_path):
    report = tmp_path / "report"
    code = main(["evaluate", "emotion", "--dataset", "folder", "--root", str(folder_dataset),
                 "--method", "raw-pixels", "--method", "majority", "--method", "expnet", "--model", str(onnx_model),
                 "--method", "dlib-fit", "--scales", "1,0.5", "--report", str(report),
                 "--cache", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    results = json.loads((report / "results.json").read_text())["results"]
    res = results[folder_dataset.name]
    assert set(res) == {"raw-pixels", "majority", "expnet", "dlib-fit"}
    assert res["raw-pixels"]["1.0"]["accuracy"] == 1.0  # the two classes differ in raw pixels
    assert res["majority"]["1.0"]["accuracy"] == 0.0   # 4 v 4: leaving one out, the other class wins
    assert res["expnet"]["1.0"]["n"] == 8 and res["expnet"]["1.0"]["coverage"] == 1.0
    md = (report / "report.md").read_text()
    assert "| raw-pixels | 100.0 |" in md
    for png in (f"accuracy-vs-scale-{folder_dataset.name}.png", f"confusion-{folder_dataset.name}-expnet.png"):
        assert (report / png).stat().st_size > 1000
    # features are cached: the second run reads them instead of recomputing
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(cached) == 6  # 3 methods x 2 scales


def test_external_features_file(folder_dataset, tmp_path):
    from expnet.evaluation.datasets import load_emotion_folders
    data = load_emotion_folders(folder_dataset)
    feats = np.array([[0.0] if lab == "happy" else [5.0] for lab in data.labels])
    np.savez(tmp_path / "mine.npz", image=data.paths, features=feats)
    out = tmp_path / "r"
    assert main(["evaluate", "emotion", "--dataset", "folder", "--root", str(folder_dataset),
                 "--method", "majority", "--features", str(tmp_path / "mine.npz"), "--scales", "1",
                 "--report", str(out), "--cache", str(tmp_path / "c"), "--quiet"]) == 0
    res = json.loads((out / "results.json").read_text())["results"][folder_dataset.name]
    assert res["features:mine"]["1.0"]["accuracy"] == 1.0
    assert (out / f"confusion-{folder_dataset.name}-features_mine.png").exists()


def test_missing_dataset_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", "emotion", "--dataset", "ckplus48", "--root", str(tmp_path / "none")]) == 2
    assert "not a folder" in capsys.readouterr().err

"""ExpNet and expnet predict with a tiny network that the tests train and export (the shipped
model's quality is checked in test_shipped_model.py)."""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from expnet.assets.samples import sample_path  # noqa: E402
from expnet.cli import main  # noqa: E402


def test_expnet_predicts_all_fields(onnx_model):
    from expnet.inference.predictor import ExpNet
    net = ExpNet(onnx_model)
    result = net.predict(sample_path("takeo.ppm"))
    assert result.error is None and len(result.faces) == 1
    d = result.to_dict()
    face = d["faces"][0]
    assert set(d) == {"image", "width", "height", "faces", "error"}
    assert set(face) >= {"box", "score", "expression", "expression_normalized", "pose", "shape"}
    assert set(face["pose"]) == {"yaw", "pitch", "roll", "rotation", "translation", "scale"}
    assert len(face["expression"]) == 10 and len(face["shape"]) == 40
    e = np.array(face["expression"])
    assert np.allclose((e - net.coder.expression_mean) / net.coder.expression_std,
                       face["expression_normalized"], atol=1e-3)


def test_outputs_are_averaged_over_the_crop_sizes(onnx_model):
    from expnet.inference.predictor import CROP_SCALES, ExpNet
    img = sample_path("takeo.ppm")
    averaged = ExpNet(onnx_model).predict(img).faces[0]
    singles = [ExpNet(onnx_model, crop_scales=(k,)).predict(img).faces[0] for k in CROP_SCALES]
    assert len(CROP_SCALES) > 1
    assert not np.allclose(singles[0].expression_normalized, singles[-1].expression_normalized)
    assert np.allclose(averaged.expression_normalized, np.mean([f.expression_normalized for f in singles], 0),
                       atol=1e-5)
    assert np.allclose(averaged.shape, np.mean([f.shape for f in singles], 0), rtol=1e-4, atol=1e-3)
    assert np.allclose(averaged.pose.translation, np.mean([f.pose.translation for f in singles], 0), atol=1e-3)
    r = averaged.pose.rotation
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9) and np.linalg.det(r) > 0
    assert np.all(np.abs(averaged.pose.angles - np.mean([f.pose.angles for f in singles], 0)) < 1e-2)
    for bad in ((), (0.0,), ("a",), (1.0, float("nan"))):
        with pytest.raises(ValueError, match="crop_scales"):
            ExpNet(onnx_model, crop_scales=bad)


def test_crop_input_and_bad_files(onnx_model, tmp_path):
    from expnet.inference.predictor import ExpNet
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    net = ExpNet(onnx_model, detector=None)
    crop = np.full((60, 50), 120, np.uint8)
    results = list(net.predict_many([crop, tmp_path / "bad.jpg", crop]))
    assert [bool(r.faces) for r in results] == [True, False, True]
    assert "not a recognised image" in results[1].error
    assert results[0].faces[0].detector == "none"
    with pytest.raises(ValueError, match="crops must have shape"):
        net.run_crops(np.zeros((2, 10, 10)))


def test_cli_predict_formats_and_user_boxes(onnx_model, tmp_path):
    img = sample_path("takeo.ppm")
    boxes = tmp_path / "boxes.csv"
    boxes.write_text(f"image,x0,y0,x1,y1\n{img},30,70,128,168\n{img},0,0,60,60\n")
    out = tmp_path / "p.jsonl"
    assert main(["predict", str(img), "--model", str(onnx_model), "-o", str(out), "--boxes", str(boxes),
                 "--quiet"]) == 0
    row = json.loads(out.read_text())
    assert len(row["faces"]) == 2 and row["faces"][0]["box"] == [30, 70, 128, 168]
    assert row["faces"][0]["detector"] == "user"
    for suffix in ("csv", "npz"):
        path = tmp_path / f"p.{suffix}"
        assert main(["predict", str(img), str(tmp_path / "boxes.csv"), "--model", str(onnx_model),
                     "-o", str(path), "--quiet"]) == 1  # one input failed: the documented status
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert rows[0]["exp0"] and rows[1]["error"]  # the .csv given as an image is a reported failure
    data = np.load(tmp_path / "p.npz")
    assert data["expression"].shape == (1, 10) and data["rotation"].shape == (1, 3, 3)
    bad = tmp_path / "bad_boxes.csv"
    bad.write_text("a.jpg,1,2,3\n")
    assert main(["predict", str(img), "--model", str(onnx_model), "--boxes", str(bad)]) == 2


def test_video_frames_and_clip_mean(onnx_model, tmp_path):
    from conftest import sample_video

    from expnet.inference.predictor import ExpNet
    from expnet.inference.video import predict_video
    path = sample_video(tmp_path / "clip.avi", 5)
    items = list(predict_video(ExpNet(onnx_model), path))
    clip, track, frames = items[-1], items[-2], items[:-2]
    assert clip.frames == 5 and clip.frames_with_face == 5 and len(frames) == 5 and track.track == 0
    assert np.allclose(clip.expression_mean, np.mean([i.faces[0].expression for i in frames], 0))
    assert np.allclose(track.expression_mean, clip.expression_mean)  # one face, one track
    (tmp_path / "broken.avi").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="cannot be opened"):
        list(predict_video(ExpNet(onnx_model), tmp_path / "broken.avi"))


def test_predict_resumes_an_interrupted_jsonl(onnx_model, tmp_path):
    import shutil as sh
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        sh.copy(sample_path("takeo.ppm"), src / f"t{i}.ppm")
    out = tmp_path / "p.jsonl"
    done = json.dumps({"image": str(src / "t0.ppm"), "width": 1, "height": 1, "faces": [], "error": "kept"})
    (tmp_path / "p.jsonl.partial").write_text(done + "\n" + '{"image": "cut sho')
    # the kept row carries an error, so the whole job reports a failed input
    assert main(["predict", str(src), "--model", str(onnx_model), "-o", str(out), "--quiet"]) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["image"].rsplit("/", 1)[-1] for r in rows] == ["t0.ppm", "t1.ppm", "t2.ppm"]
    assert rows[0]["error"] == "kept" and rows[1]["faces"]  # t0 was not run again
    assert not (tmp_path / "p.jsonl.partial").exists()


@pytest.mark.parametrize("detector", ["blazeface", "dlib-hog", "auto"])
def test_parallel_preparation_gives_the_same_predictions(onnx_model, tmp_path, detector, monkeypatch):
    """Threads where every backend releases Python's lock (BlazeFace, dlib-hog), processes where
    one does not (dlib's CNN in the `auto` chain): same rows, in order."""
    import multiprocessing

    from expnet.inference import predictor
    (tmp_path / "bad.jpg").write_bytes(b"")
    inputs = [sample_path("takeo.ppm"), tmp_path / "bad.jpg"] + [sample_path("einstein.jpg")] * 20
    net = predictor.ExpNet(onnx_model, detector=detector)
    one = [r.to_dict() for r in net.predict_many(inputs)]
    pools = []
    real_threaded, real_context = predictor._threaded, multiprocessing.get_context

    def spy_threaded(*a):
        pools.append("threads")
        return real_threaded(*a)

    def spy_context(method=None):
        pools.append("processes")
        return real_context(method)
    monkeypatch.setattr(predictor, "_threaded", spy_threaded)
    monkeypatch.setattr(multiprocessing, "get_context", spy_context)
    two = [r.to_dict() for r in net.predict_many(inputs, workers=2)]
    assert one == two and one[1]["error"] and one[0]["faces"] and len(two) == 22
    assert pools == ["processes" if detector == "auto" else "threads"]

"""The trained model that ships in the package: it loads, answers on the default photo, and (with
the shared datasets) separates CK+ emotions as well as its landmark teacher."""

import json

import numpy as np
import pytest

from expnet.assets.samples import sample_path
from expnet.inference.predictor import ExpNet, default_model_path


def test_shipped_model_is_small_and_described():
    path = default_model_path()
    assert path.exists(), "the trained model must be committed in expnet/models/"
    assert path.stat().st_size < 5_000_000
    net = ExpNet()
    meta = net.metadata
    assert meta["basis"].startswith("3DDFA BFM-sim") and meta["epochs"] >= 1
    card = path.parent / "MODEL_CARD.md"
    assert card.exists() and (path.parent / "training_log.csv").exists()


def test_model_info_describes_the_model_it_is_given(tmp_path, capsys):
    from expnet.cli import main
    other = tmp_path / "other.onnx"
    other.write_bytes(default_model_path().read_bytes())
    assert main(["model", "info", str(other)]) == 0
    assert json.loads(capsys.readouterr().out)["network"]["file"] == str(other)
    assert main(["model", "info"]) == 0  # no path: the shipped model
    assert json.loads(capsys.readouterr().out)["network"]["file"] == str(default_model_path())
    assert main(["model", "info", str(other), "--model", str(other)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["model", "export-mesh", str(tmp_path / "face.obj"), "--model", str(other)]) == 2
    assert not (tmp_path / "face.obj").exists()


def test_default_photo_gives_a_plausible_face():
    result = ExpNet().predict(sample_path())
    assert result.error is None and len(result.faces) >= 1
    face = result.faces[0]
    assert abs(face.pose.yaw) < 30 and abs(face.pose.pitch) < 30 and abs(face.pose.roll) < 20
    assert np.abs(face.expression_normalized).max() < 6
    d = result.to_dict()
    json.dumps(d)  # serialisable as a JSON Lines row
    # the projected model face lies on the detected face
    from expnet.face.model import FaceModel
    pts = face.pose.project(FaceModel.load().landmarks.vertices(face.shape, face.expression))
    x0, y0, x1, y1 = face.box
    centre = pts.mean(0)
    assert x0 < centre[0] < x1 and y0 < centre[1] < y1


def test_ckplus48_accuracy(shared_data, tmp_path):
    from expnet.evaluation.datasets import load_dataset
    from expnet.evaluation.experiment import evaluate
    root = shared_data / "ckplus48"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    data = load_dataset("ckplus48", root)
    net = evaluate(data, "expnet", (1.0,), cache_dir=tmp_path, progress=False)[1.0]
    teacher = evaluate(data, "dlib-fit", (1.0,), cache_dir=tmp_path, progress=False)[1.0]
    assert net.accuracy >= 0.78, f"CK+48 5-NN accuracy {net.accuracy:.3f}"
    # A regression guard: the shipped model is 1.6 points below its teacher here (80.7 v 82.3);
    # matching the teacher at full size is still open work.
    assert net.accuracy >= teacher.accuracy - 0.02, (net.accuracy, teacher.accuracy)


def test_small_faces_hold_up_on_held_out_lfw_identities(shared_data, tmp_path):
    from expnet.evaluation.datasets import load_dataset
    from expnet.evaluation.experiment import evaluate
    root = shared_data / "lfw-expressions"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    scores = evaluate(load_dataset("lfw-expressions", root), "expnet", (1.0, 0.2), cache_dir=tmp_path,
                      progress=False)
    assert scores[0.2].accuracy >= scores[1.0].accuracy - 0.05, {s: v.accuracy for s, v in scores.items()}
    assert scores[1.0].accuracy > 0.75

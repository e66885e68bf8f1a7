"""expnet evaluate compare: models scored on the same items, exact McNemar tests, pose tables."""

import json
import shutil

import numpy as np
import pytest

from expnet.cli import main
from expnet.evaluation.compare import compare_models, mcnemar, write_compare_report
from expnet.evaluation.datasets import load_emotion_folders


def test_mcnemar_counts_the_discordant_items_and_is_exact():
    a = np.array([1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 0, 1, 0], bool)
    assert mcnemar(a, b) == (2, 1, 1.0)
    only_a, only_b, p = mcnemar(np.ones(30, bool), np.r_[np.zeros(10, bool), np.ones(20, bool)])
    assert (only_a, only_b) == (10, 0) and p == pytest.approx(2 * 0.5 ** 10)
    assert mcnemar(np.ones(5, bool), np.ones(5, bool))[2] == 1.0
    with pytest.raises(ValueError, match="same items"):
        mcnemar(np.ones(3, bool), np.ones(4, bool))


def _emotion_folder(root, n=6):
    """Faces in <emotion>/ folders: the registry sample photos, mirrored and shifted copies."""
    import cv2

    from expnet.assets.samples import sample_path
    from expnet.io.images import load_image
    for k, emotion in enumerate(["happy", "sad"]):
        face = cv2.resize(load_image(sample_path("takeo.ppm"), "L"), (96, 96))
        (root / emotion).mkdir(parents=True)
        for i in range(n):
            img = np.roll(face if k == 0 else face[:, ::-1], i - n // 2, axis=1)
            cv2.imwrite(str(root / emotion / f"{emotion}{i}.png"), img)
    return load_emotion_folders(root, "toy")


def test_compare_scores_models_on_the_same_items_and_tests_them_paired(onnx_model, tmp_path):
    data = _emotion_folder(tmp_path / "toy")
    result = compare_models([str(onnx_model), "expnet/models/expnet.onnx"], sets=[(data, 1.0)],
                            cache_dir=tmp_path / "cache", progress=False)
    assert set(result.accuracy) == {str(onnx_model), "expnet/models/expnet.onnx"}
    assert all(0 <= acc["toy@1"] <= 1 for acc in result.accuracy.values())
    (test,) = result.tests  # the second model against the reference (the first)
    assert test.reference == str(onnx_model) and test.only_model + test.only_reference <= 12
    assert result.reference_mean["toy@1"] == result.accuracy[str(onnx_model)]["toy@1"]
    report = write_compare_report(tmp_path / "report", result)
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert saved["tests"][0]["verdict"] in ("better", "worse", "no difference at p < 0.05")
    assert "McNemar" in report.read_text() and "5-NN emotion accuracy" in report.read_text()


def test_compare_needs_models_and_something_to_score(tmp_path):
    assert main(["evaluate", "compare"]) == 2
    assert main(["evaluate", "compare", "expnet/models/expnet.onnx"]) == 2


def test_compare_pose_tables_on_the_aflw_samples(shared_data, onnx_model, tmp_path):
    out = tmp_path / "cmp"
    assert main(["evaluate", "compare", "expnet/models/expnet.onnx", str(onnx_model), "--aflw",
                 str(shared_data / "aflw2000-samples"), "--report", str(out)]) == 0
    saved = json.loads((out / "results.json").read_text())
    boxes = [s["boxes"] for s in saved["pose"]["expnet/models/expnet.onnx"]]
    assert boxes == ["gt", "own"] and all(s["found"] == 16 for s in saved["pose"]["expnet/models/expnet.onnx"])
    # the toy model against the shipped one, face by face, with each box source
    gt, own = saved["pose_tests"]
    assert (gt["boxes"], own["boxes"], gt["faces"]) == ("gt", "own", 16)
    assert gt["reference"] == "expnet/models/expnet.onnx" and gt["lower_model"] + gt["lower_reference"] <= 16
    assert "Wilcoxon" in (out / "report.md").read_text()


def test_pose_paired_test_compares_the_faces_both_found():
    from expnet.evaluation.compare import pose_paired_test
    model = {f"f{i}": 2.0 for i in range(12)}
    reference = {f"f{i}": 5.0 + i for i in range(12)} | {"missed-by-the-model": 1.0}
    faces, err, ref_err, closer, farther, p = pose_paired_test(model, reference)
    assert (faces, err, closer, farther) == (12, 2.0, 12, 0) and ref_err == pytest.approx(10.5)
    assert p < 0.01
    assert pose_paired_test(model, dict(model))[3:] == (0, 0, 1.0)  # every face ties
    assert pose_paired_test(model, {})[0] == 0


def test_pose_views_score_the_rotation_view_by_view(onnx_model, tmp_path):
    # views whose "truth" is the shipped model's own answer, exact and turned 10 degrees about y
    from expnet.assets.samples import sample_path
    from expnet.face.pose import euler_to_rotation
    from expnet.inference.predictor import ExpNet
    face = ExpNet().predict(sample_path("takeo.ppm")).faces[0]
    views = tmp_path / "views"
    views.mkdir()
    rows = []
    for turn in (0.0, 10.0):
        rotation = face.pose.rotation @ euler_to_rotation(0.0, np.radians(turn), 0.0)
        rows.append({"image": str(sample_path("takeo.ppm")), "status": "ok", "box": list(face.box[:4]),
                     "pose": {"rotation": rotation.tolist(), "yaw": face.pose.yaw + turn}})
    for row, name in zip(rows, ("a.ppm", "b.ppm")):  # views are keyed by file name: one each
        shutil.copy(row["image"], views / name)
        row["image"] = str(views / name)
    rows.append({**rows[0], "image": str(views / "gone.jpg")})  # an image no longer there: left out
    (views / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = compare_models([str(onnx_model)], ["expnet/models/expnet.onnx"], pose_views=[views], progress=False)
    shipped = result.view_pose["expnet/models/expnet.onnx"]["views"]
    assert shipped["views"] == 2 and shipped["mean"] == pytest.approx(5.0, abs=0.05)
    assert shipped["0-30"]["views"] == 2 - shipped["30-60"]["views"] - shipped["60-90"]["views"]
    (test,) = result.pose_tests
    assert (test.items, test.boxes, test.faces, test.reference) == ("views", "label", 2, "expnet/models/expnet.onnx")
    assert test.reference_error == pytest.approx(5.0, abs=0.05)
    report = write_compare_report(tmp_path / "report", result).read_text()
    assert "held-out faces with a known pose" in report and "| views | 2 |" in report
    assert "emotion accuracy" not in report  # no emotion set scored: no empty table

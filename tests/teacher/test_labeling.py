"""The label pipeline end to end, on a registry sample face and on bad inputs."""

import csv
import json
import shutil

import numpy as np
import pytest

from expnet.assets.samples import sample_path
from expnet.cli import main
from expnet.teacher.labeling import LabelPipeline, identities_from_csv, identity_from_rule


@pytest.fixture
def folder(tmp_path):
    src = sample_path("takeo.ppm")
    shutil.copy(src, tmp_path / "takeo_0001.ppm")
    shutil.copy(src, tmp_path / "takeo_0002.ppm")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_bytes(b"plain text, not a png")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    from PIL import Image
    Image.fromarray(np.full((200, 200), 90, np.uint8)).save(tmp_path / "blank.png")
    return tmp_path


def read_rows(path):
    return {r["image"].rsplit("/", 1)[-1]: r for r in map(json.loads, open(path))}


def test_label_folder_reports_every_image(folder, tmp_path_factory, model):
    out = tmp_path_factory.mktemp("out") / "labels.jsonl"
    pipeline = LabelPipeline(detector="auto", workers=1, model=model)
    from expnet.io.inputs import list_images
    summary = pipeline.run(list_images(folder), out, identity=identity_from_rule(r"^(.*)_\d+$"),
                           progress=False)
    rows = read_rows(out)
    assert len(rows) == 6 and summary.images == 6 and summary.labelled == 2
    assert rows["empty.jpg"]["status"] == "error" and "empty" in rows["empty.jpg"]["error"]
    assert rows["notes.png"]["status"] == "error"
    assert rows["corrupt.jpg"]["status"] == "error"
    assert rows["blank.png"]["status"] == "no_face"
    ok = rows["takeo_0001.ppm"]
    assert ok["status"] == "ok" and ok["identity"] == "takeo" and ok["identity_images"] == 2
    assert len(ok["landmarks"]) == 68 and len(ok["expression"]) == model.n_expression
    assert len(ok["shape"]) == model.n_shape and 0 < ok["residual"] < 0.2
    assert set(ok["pose"]) >= {"yaw", "pitch", "roll", "rotation", "translation", "scale"}
    assert abs(ok["pose"]["yaw"]) < 30
    # The stored pose and coefficients reproduce the landmarks (nothing lost to rounding).
    from expnet.face.ibug68 import inter_ocular
    from expnet.face.pose import Pose
    p = ok["pose"]
    pose = Pose(np.array(p["rotation"]), np.array(p["translation"]), p["scale"])
    proj = pose.project(model.landmarks.vertices(np.array(ok["shape"]), np.array(ok["expression"])))
    lm = np.array(ok["landmarks"])
    err = np.linalg.norm(proj - lm, axis=1).mean() / inter_ocular(lm[None])[0]
    assert abs(err - ok["residual"]) < 0.01
    # pooled shape: both images of the identity carry the same shape
    assert ok["shape"] == rows["takeo_0002.ppm"]["shape"]

    # Resume: a second run observes nothing new and writes the same labels.
    again = pipeline.run(list_images(folder), out, identity=identity_from_rule(r"^(.*)_\d+$"),
                         progress=False)
    assert again.observed_now == 0 and read_rows(out) == rows
    assert again.resumed == again.images and again.images_per_second is None  # the summary says it resumed
    # Other settings must not silently reuse the saved observations.
    with pytest.raises(ValueError, match="other settings"):
        LabelPipeline(detector="opencv-haar", workers=1, model=model).run(
            list_images(folder), out, progress=False)


def test_resume_after_interruption_keeps_done_images(folder, tmp_path, model):
    out = tmp_path / "labels.jsonl"
    pipeline = LabelPipeline(detector="dlib-hog", workers=1, model=model)
    paths = sorted(str(p) for p in folder.iterdir())
    pipeline.run(paths[:3], out, progress=False)
    side = out.with_name(out.name + ".observations.jsonl")
    with open(side, "a") as fh:
        fh.write('{"image": "half a li')  # as if killed mid-write
    summary = pipeline.run(paths, out, progress=False)
    assert summary.observed_now == len(paths) - 3 and summary.resumed == 3
    assert len(read_rows(out)) == len(paths)


def test_cli_csv_output_and_parallel_workers(folder, tmp_path):
    out = tmp_path / "labels.csv"
    ids = tmp_path / "ids.csv"
    ids.write_text("file,person\ntakeo_0001.ppm,T\ntakeo_0002.ppm,T\n")
    code = main(["label", str(folder), "-o", str(out), "--workers", "2", "--quiet",
                 "--identities", str(ids), "--image-column", "file", "--identity-column", "person"])
    assert code == 1  # the folder holds bad files on purpose: some inputs failed
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 6
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 2 and ok[0]["identity"] == "T" and ok[0]["exp0"] and ok[0]["lm67_y"]


def test_identity_sources(tmp_path):
    assert identity_from_rule(r"^(.*)_\d+$")("/x/George_W_Bush_0285.jpg") == "George_W_Bush"
    with pytest.raises(ValueError, match="capturing group"):
        identity_from_rule(r"^.*$")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no column"):
        identities_from_csv(bad)


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["label", str(tmp_path / "missing"), "-o", str(tmp_path / "x.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "a.jpg").write_bytes(b"")
    assert main(["label", str(tmp_path), "-o", str(tmp_path / "x.txt")]) == 2
    assert ".jsonl or .csv" in capsys.readouterr().err

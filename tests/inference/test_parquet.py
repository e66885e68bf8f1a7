"""The Parquet dataset output of ``expnet predict`` (local engine): schema, resume, de-duplication."""

import json

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet")

from expnet.cli import main  # noqa: E402
from expnet.inference import parquet  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from expnet.bench.scale import face_folder
    root = tmp_path_factory.mktemp("faces")
    face_folder(root, 12, seed=3)
    return root


def test_parquet_output_holds_the_jsonl_rows_one_row_per_face(folder, tmp_path):
    assert main(["predict", str(folder), "-o", str(tmp_path / "a.jsonl"), "--quiet"]) == 1  # the bad files
    assert main(["predict", str(folder), "-o", str(tmp_path / "a.parquet"), "--quiet"]) == 1
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    table = pq.read_table(tmp_path / "a.parquet")          # the folder reads as one table
    assert table.schema.equals(parquet.read_table(tmp_path / "a.parquet").schema)
    faces = table.filter(np.array(table.column("kind").to_pylist()) == "face").to_pylist()
    images = table.filter(np.array(table.column("kind").to_pylist()) == "image").to_pylist()
    assert len(faces) == sum(len(r["faces"]) for r in rows) > 0
    assert {r["image"] for r in images} == {r["image"] for r in rows if not r["faces"]}
    assert all(r["error"] for r in images)                  # each failed input says why
    by_image = {r["image"]: r for r in rows}
    for f in faces:
        want = by_image[f["image"]]["faces"][f["face"]]
        np.testing.assert_allclose(f["expression"], want["expression"], atol=1e-6)
        np.testing.assert_allclose(np.reshape(f["rotation"], (3, 3)), want["pose"]["rotation"], atol=1e-12)
        assert f["yaw"] == want["pose"]["yaw"]


def test_a_rerun_adds_only_the_missing_inputs_as_a_new_part(folder, tmp_path):
    out = tmp_path / "b.parquet"
    images = sorted(folder.glob("face*.jpg"))
    assert main(["predict", *map(str, images[:5]), "-o", str(out), "--quiet"]) == 0
    assert len(parquet.parts(out)) == 1
    assert main(["predict", *map(str, images), "-o", str(out), "--quiet"]) == 0
    assert len(parquet.parts(out)) == 2
    names = parquet.read_table(out, ["image", "face"]).to_pydict()
    assert sorted(set(names["image"])) == sorted(map(str, images))
    assert len(set(zip(names["image"], names["face"]))) == len(names["image"])   # no row twice
    first = parquet.parts(out)
    assert main(["predict", *map(str, images), "-o", str(out), "--quiet"]) == 0  # nothing left to do
    assert parquet.parts(out) == first


def test_duplicate_inputs_across_parts_are_kept_once():
    rows = [{"image": f"img{k}.jpg", "width": 10, "height": 10, "faces": [], "error": "no face found"}
            for k in range(6)]
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        parquet.write_part(tmp, rows[:4], ["a"])
        parquet.write_part(tmp, rows[2:], ["b"])        # img2, img3 twice (a retry batched otherwise)
        parquet.write_part(tmp, rows[2:4], ["c"])
        assert parquet.remove_duplicates(tmp) == 2      # img2 and img3, in all three parts
        names = parquet.read_table(tmp, ["image"]).column("image").to_pylist()
        assert sorted(names) == [r["image"] for r in rows]
        assert 1 <= len(parquet.parts(tmp)) <= 3        # a part left with nothing is removed, not kept empty
        assert all(pq.read_table(p).num_rows for p in parquet.parts(tmp))
        assert parquet.remove_duplicates(tmp) == 0


def test_video_rows_flatten_to_frames_and_clip_rows():
    face = {"box": [1, 2, 3, 4], "score": 0.9, "detector": "blazeface", "expression": [0.1] * 10,
            "expression_normalized": [0.2] * 10, "shape": [0.0] * 40, "track": 3,
            "pose": {"yaw": 1.0, "pitch": 2.0, "roll": 3.0, "rotation": np.eye(3).tolist(),
                     "translation": [5.0, 6.0], "scale": 0.01},
            "smoothed": {"expression_normalized": [0.3] * 10, "yaw": 1.5, "pitch": 2.5, "roll": 3.5}}
    rows = [{"image": "v.mp4#0", "width": 8, "height": 8, "faces": [face], "error": None},
            {"image": "v.mp4", "clip": True, "track": 3, "frames": 1, "frames_with_face": 1,
             "expression_mean": [0.1] * 10, "expression_normalized_mean": [0.2] * 10, "error": None},
            {"image": "v.mp4", "clip": True, "frames": 1, "frames_with_face": 1,
             "expression_mean": [0.1] * 10, "expression_normalized_mean": [0.2] * 10, "error": None}]
    t = parquet.table(rows).to_pylist()
    assert [r["kind"] for r in t] == ["face", "clip", "clip"]
    assert t[0]["track"] == 3 and t[0]["smoothed_yaw"] == 1.5 and t[0]["tx"] == 5.0
    assert t[1]["track"] == 3 and t[2]["track"] is None and t[2]["frames"] == 1
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        parquet.write_part(tmp, rows, ["v.mp4"])
        assert parquet.finished(tmp) == {"v.mp4": (0, None, 1)}   # the video is done, one frame

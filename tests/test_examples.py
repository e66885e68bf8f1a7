"""The scripts in examples/ run, on registry sample inputs or generated ones."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script, *args, cwd):
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_face_to_mesh(tmp_path):
    out = _run("face_to_mesh.py", cwd=tmp_path)
    assert (tmp_path / "meshes" / "einstein.obj").stat().st_size > 1e6 and "53215 vertices" in out
    assert (tmp_path / "meshes" / "einstein.ply").exists()


def test_emotion_over_time(tmp_path):
    pytest.importorskip("matplotlib")
    from conftest import sample_video
    video = sample_video(tmp_path / "clip.avi", 4)
    out = _run("emotion_over_time.py", video, tmp_path / "plot.png", cwd=tmp_path)
    assert "4 frames" in out and (tmp_path / "plot.png").stat().st_size > 5000


def test_score_features(tmp_path):
    out = _run("score_features.py", cwd=tmp_path)
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert out.startswith("5-NN accuracy") and accuracy >= 90  # the made-up features separate well


def test_folder_to_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from expnet.assets.samples import sample_path
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "face.ppm").write_bytes(sample_path("takeo.ppm").read_bytes())
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a jpeg")
    _run("folder_to_parquet.py", tmp_path / "in", tmp_path / "faces.parquet", cwd=tmp_path)
    table = pq.read_table(tmp_path / "faces.parquet").to_pylist()
    assert len(table) == 2 and sum(r["error"] is None for r in table) == 1
    assert len(next(r for r in table if r["error"] is None)["expression"]) == 10

"""``--engine ray`` against the local engine, on a local Ray runtime (loopback only)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.data", reason="the Ray engine needs the extra expnet[ray]")

from expnet.bench.scale import BAD_FILES, face_folder, same_rows  # noqa: E402
from expnet.cli import main  # noqa: E402
from expnet.inference import parquet  # noqa: E402

ACTOR = "MapWorker(MapBatches(_Predictor))"


def _rows(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["image"] for r in rows}) == len(rows), "an input written twice"
    return {r["image"]: r for r in rows}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """2,000 face images (every 50th faceless) and three bad files."""
    root = tmp_path_factory.mktemp("ray-faces")
    face_folder(root, 2000, seed=7)
    return root


@pytest.fixture(scope="module")
def local_rows(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    assert main(["predict", str(folder), "-o", str(out), "--workers", "2", "--quiet"]) == 1   # the bad files
    return _rows(out)


def test_ray_gives_the_local_rows_in_jsonl(folder, local_rows, tmp_path):
    out = tmp_path / "ray.jsonl"
    assert main(["predict", str(folder), "-o", str(out), "--engine", "ray", "--workers", "2", "--quiet"]) == 1
    rows = _rows(out)
    assert len(rows) == 2003
    assert same_rows(local_rows, rows, tolerance=1e-5)
    assert list(rows) == list(local_rows)                   # in input order, as the local engine writes
    assert all(rows[str(folder / name)]["error"] for name in BAD_FILES)
    assert sum(len(r["faces"]) for r in rows.values()) >= 1900


def test_ray_parquet_parts_hold_the_local_rows(folder, local_rows, tmp_path):
    out = tmp_path / "ray.parquet"
    assert main(["predict", str(folder), "-o", str(out), "--engine", "ray", "--workers", "2", "--quiet"]) == 1
    assert len(parquet.parts(out)) >= 2                     # written by the actors, a part per block
    got = parquet.read_table(out).sort_by([("image", "ascending"), ("face", "ascending")]).to_pylist()
    want = parquet.table(list(local_rows.values())).sort_by([("image", "ascending"), ("face", "ascending")])
    want = want.to_pylist()
    assert [(r["image"], r["kind"], r["face"]) for r in got] == [(r["image"], r["kind"], r["face"]) for r in want]
    for g, w in zip(got, want):
        if g["kind"] == "face":
            np.testing.assert_allclose(g["expression"], w["expression"], atol=1e-5)
            np.testing.assert_allclose([g["yaw"], g["pitch"], g["roll"]], [w["yaw"], w["pitch"], w["roll"]], atol=1e-5)
        else:
            assert g["error"] == w["error"]
    # a re-run finds everything written: nothing runs, nothing is added
    before = parquet.parts(out)
    assert main(["predict", str(folder), "-o", str(out), "--engine", "ray", "--workers", "2", "--quiet"]) == 1
    assert parquet.parts(out) == before


def _actors() -> list[int]:
    """PIDs of this machine's Ray predictor actors (their process title names them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if ACTOR in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_a_killed_worker_is_retried_and_every_input_is_written_once(folder, tmp_path, suffix):
    images = sorted(folder.glob("face00[0-5]*.jpg"))          # 600 images: a job of ~10 s
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(map(str, images)) + "\n")
    out = tmp_path / f"out{suffix}"
    job = subprocess.Popen([sys.executable, "-m", "expnet", "predict", str(listing), "-o", str(out), "--engine",
                            "ray", "--workers", "2", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    killed = None
    deadline = time.time() + 120
    while killed is None and time.time() < deadline and job.poll() is None:
        started = parquet.parts(out) if suffix == ".parquet" else \
            (out.with_name(out.name + ".partial").exists() and out.with_name(out.name + ".partial").stat().st_size)
        actors = _actors()
        if started and actors:
            os.kill(actors[0], signal.SIGKILL)
            killed = actors[0]
        time.sleep(0.05)
    _, err = job.communicate(timeout=300)
    assert killed is not None, f"no actor was seen working; stderr:\n{err[-2000:]}"
    assert job.returncode == 1, err[-2000:]                   # the faceless images only:
    assert "predict: 600 inputs" in err and "failed (no face found: 12)" in err
    with pytest.raises(ProcessLookupError):                   # the worker did die
        os.kill(killed, 0)
    if suffix == ".parquet":
        t = parquet.read_table(out, ["image", "kind", "face"]).to_pydict()
        keys = list(zip(t["image"], t["face"]))
        assert len(keys) == len(set(keys))
        assert set(t["image"]) == set(map(str, images))
    else:
        assert set(_rows(out)) == set(map(str, images))


def test_shards_together_give_the_whole_job(folder, local_rows, tmp_path):
    images = sorted(folder.glob("face000*.jpg"))              # 100 images
    parts = []
    for i in range(3):
        parts.append(tmp_path / f"shard{i}.jsonl")
        assert main(["predict", *map(str, images), "-o", str(parts[-1]), "--shard", f"{i}/3", "--quiet"]) in (0, 1)
    merged = {}
    for p in parts:                                           # the documented merge: concatenate
        for image, row in _rows(p).items():
            assert image not in merged
            merged[image] = row
    assert same_rows({str(p): local_rows[str(p)] for p in images}, merged)


def test_live_sources_and_local_only_options_are_refused_on_ray(tmp_path, capsys):
    assert main(["predict", "--camera", "0", "--engine", "ray"]) == 2
    assert "local engine" in capsys.readouterr().err


def _identity_faces(root: Path) -> Path:
    """Three identities of jittered sample faces, four images each, with the identity in the name."""
    import cv2

    from expnet.bench.scale import jittered
    from expnet.bench.scenes import face_crop, sample_faces
    rng = np.random.default_rng(5)
    for k, src in enumerate(sample_faces()[::2]):
        for j in range(4):
            cv2.imwrite(str(root / f"person{k}_{j:04d}.jpg"), jittered(face_crop(src, 2.0), 240, rng)[..., ::-1])
    (root / "broken_0001.jpg").write_bytes(b"\xff\xd8\xff")
    return root


def _labels_equal(a: Path, b: Path) -> None:
    ra = [json.loads(line) for line in a.read_text().splitlines()]
    rb = [json.loads(line) for line in b.read_text().splitlines()]
    assert [r["image"] for r in ra] == [r["image"] for r in rb]
    for x, y in zip(ra, rb):
        assert x.keys() == y.keys() and x["status"] == y["status"]
        for key in x:
            if key == "pose" and x[key] is not None:
                for k in ("yaw", "pitch", "roll", "scale"):
                    assert x[key][k] == pytest.approx(y[key][k], abs=1e-9)
                np.testing.assert_allclose(x[key]["rotation"], y[key]["rotation"], atol=1e-9)
                np.testing.assert_allclose(x[key]["translation"], y[key]["translation"], atol=1e-9)
            elif key in ("shape", "expression", "landmarks") and x[key] is not None:
                np.testing.assert_allclose(x[key], y[key], atol=1e-9)
            else:
                assert x[key] == y[key], key


def test_ray_labels_equal_local_labels_with_identities(tmp_path):
    from tests.teacher.test_components import random_components
    faces = _identity_faces(tmp_path)
    rule = [r"--identity-rule", r"^(.*)_\d+$", "--extra", str(random_components(tmp_path / "extra.npz")),
            "--pose", "mesh"]
    local, ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["label", str(faces), "-o", str(local), "--workers", "2", "--quiet", *rule]) == 1   # the broken file
    assert main(["label", str(faces), "-o", str(ray), "--engine", "ray", "--workers", "2", "--quiet", *rule]) == 1
    _labels_equal(local, ray)
    rows = [json.loads(line) for line in ray.read_text().splitlines()]
    assert max(r.get("identity_images", 0) for r in rows) == 4   # shape pooled per identity
    assert all(len(r["expression_extra"]) == 4 for r in rows if r["status"] == "ok")
    assert all(r["pose"]["source"] == "mesh" for r in rows if r["status"] == "ok")  # FaceMesh ran in the actors


def test_ray_labels_equal_local_labels_on_lfw(shared_data, tmp_path):
    root = shared_data / "lfw-expressions"
    images = sorted((root / "images").glob("*.jpg"))[:240]
    listing = tmp_path / "images.txt"
    listing.write_text("\n".join(map(str, images)) + "\n")
    ids = ["--identities", str(root / "labels.csv")]
    local, ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    status = main(["label", str(listing), "-o", str(local), "--quiet", *ids])
    assert main(["label", str(listing), "-o", str(ray), "--engine", "ray", "--quiet", *ids]) == status
    _labels_equal(local, ray)
    rows = [json.loads(line) for line in ray.read_text().splitlines()]
    assert max(r.get("identity_images", 0) for r in rows) > 1


def _listening() -> set[tuple[str, str]]:
    """(address in /proc's hex form, port) of every listening TCP socket of this machine."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                found.add(tuple(fields[1].split(":")))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket tables")
def test_the_local_runtime_listens_on_loopback_only():
    from expnet.cluster.runtime import ray_runtime
    before = _listening()
    with ray_runtime(None, cpus=1):
        opened = _listening() - before
    assert opened, "Ray opened no listening socket?"
    loopback = ("0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000")
    assert all(address in loopback for address, _ in opened), opened   # 127.0.0.1, ::ffff:127.0.0.1, ::1


def test_videos_and_images_together_give_the_local_rows_in_every_format(folder, tmp_path, capsys):
    from tests.inference.test_video import crossing_video
    videos = tmp_path / "mixed"
    videos.mkdir()
    crossing_video(videos / "crossing.avi", frames=24)
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video")
    for image in sorted(folder.glob("face0000*.jpg")):
        (videos / image.name).symlink_to(image)
    args = [str(videos), "--smooth", "--quiet"]
    assert main(["predict", *args, "-o", str(tmp_path / "local.jsonl")]) == 1      # the broken video
    local_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert main(["predict", *args, "-o", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--workers", "2"]) == 1
    local = [json.loads(line) for line in (tmp_path / "local.jsonl").read_text().splitlines()]
    ray = [json.loads(line) for line in (tmp_path / "ray.jsonl").read_text().splitlines()]
    assert [r["image"] for r in ray] == [r["image"] for r in local]
    assert sum(1 for r in ray if "#" in r["image"]) == 24                  # every frame
    want = parquet.table(local).to_pylist()
    got = parquet.table(ray).to_pylist()
    for g, w in zip(got, want):
        assert (g["image"], g["kind"], g["face"], g["track"], g["error"]) == \
            (w["image"], w["kind"], w["face"], w["track"], w["error"])
        if g["expression"] is not None:
            np.testing.assert_allclose(g["expression"], w["expression"], atol=1e-5)
    capsys.readouterr()
    assert main(["predict", *args, "-o", str(tmp_path / "ray.parquet"), "--engine", "ray"]) == 1
    assert parquet.finished(tmp_path / "ray.parquet").keys() == {r["image"] for r in local if "#" not in r["image"]}
    assert capsys.readouterr().err.strip().splitlines()[-1] == local_line      # the same summary: faces, frames


def test_ray_run_from_the_folder_that_holds_a_clone_named_expnet(tmp_path):
    """Ray's workers put the driver's working folder on their import path: a clone's root there
    (a folder ``expnet`` without ``__init__.py``) must not stand in for the installed package."""
    clone = tmp_path / "expnet"
    (clone / "docs").mkdir(parents=True)
    (clone / "README.md").write_text("a clone of expnet\n")
    photos = tmp_path / "photos"
    face_folder(photos, 12, seed=3)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for engine in ("local", "ray"):
        done = subprocess.run([sys.executable, "-m", "expnet", "predict", "photos", "-o", f"{engine}.jsonl",
                               "--engine", engine, "--workers", "1", "--quiet"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode in (0, 1), done.stderr[-2000:]
    assert same_rows(_rows(tmp_path / "local.jsonl"), _rows(tmp_path / "ray.jsonl"), tolerance=1e-5)


def test_a_ray_failure_is_one_line_and_exit_2_with_no_partial_file(tmp_path, capsys):
    from ray.exceptions import RayTaskError

    from expnet.cluster.runtime import RayEngineError, engine_errors
    with pytest.raises(RayEngineError, match="^predict on Ray failed: model file x.onnx not found$"):
        with engine_errors("predict"):
            try:
                raise FileNotFoundError("model file x.onnx not found")
            except FileNotFoundError as cause:
                raise RayTaskError("MapWorker", "Traceback (most recent call last):\n  ...", cause) from cause
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    face_folder(tmp_path / "photos", 3, seed=1)
    out = tmp_path / "out.parquet"
    assert main(["predict", str(tmp_path / "photos"), "-o", str(out), "--engine", "ray", "--model", str(broken),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "broken.onnx" in err[0]
    assert not out.exists() and not (tmp_path / "out.parquet.partial").exists()

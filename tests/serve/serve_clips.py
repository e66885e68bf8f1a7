"""Clips, camera files and a server subprocess for the web app's tests."""

import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np


def face_frames(n: int, size=(640, 480), seed: int = 0):
    """``n`` RGB frames of the takeo sample face moving slowly over a plain background."""
    from expnet.assets.samples import sample_path
    from expnet.io.images import load_image
    face = cv2.resize(load_image(sample_path("takeo.ppm")), (220, 330))
    w, h = size
    rng = np.random.default_rng(seed)
    base = np.full((h, w, 3), 90, np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
    for i in range(n):
        frame = base.copy()
        x, y = 200 + int(20 * np.sin(i / 6)), 70
        frame[y:y + 330, x:x + 220] = face
        yield frame


def write_clip(path, n: int = 24, fps: int = 12):
    """A clip of :func:`face_frames`: MJPG in ``.avi``, VP8 in ``.webm`` (what a browser plays)."""
    codec = "VP80" if str(path).endswith(".webm") else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (640, 480))
    for frame in face_frames(n):
        writer.write(frame[..., ::-1])
    writer.release()
    return path


def write_y4m(path, n: int = 30, fps: int = 15):
    """A Y4M clip (Chromium's fake camera reads it) of :func:`face_frames`."""
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W640 H480 F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in face_frames(n):
            fh.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


class Server:
    """``expnet serve`` in a subprocess on a free loopback port."""

    def __init__(self, *args: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "expnet", "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 120
        self.url = None
        while time.time() < deadline and self.url is None:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"expnet serve ended: {self.proc.stderr.read()}")
            m = re.search(r"(http://\S+)/", line)
            if m:
                self.url = m.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        import urllib.request
        while time.time() < deadline:  # answering: uvicorn has its signal handlers
            try:
                urllib.request.urlopen(self.url + "/api/health", timeout=5).close()
                break
            except OSError:
                time.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

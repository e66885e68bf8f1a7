"""Live webcam frames over a WebSocket: the browser sends JPEG frames, the server tracks and
smooths the faces (the video pipeline's tracking and One-Euro filter) and answers each frame it
processed with what to draw.

Latency stays bounded: frames that arrive while one is being processed replace each other, so a
slow server skips frames instead of queueing them (the answer says how many were dropped).
"""

from __future__ import annotations

import asyncio
import time

import cv2
import numpy as np

from expnet.inference.video import VideoPredictor
from expnet.serve.drawing import FaceDrawings

LIVE_RATE = 15.0       # frames/s the One-Euro filter assumes (the page sends about this many)
MAX_FRAME_BYTES = 4 << 20
MAX_FRAME_PIXELS = 1920 * 1080


class LiveSession:
    """One browser's camera: its tracker and filters, and the latest frame waiting."""

    def __init__(self, net, drawings: FaceDrawings):
        self.video = VideoPredictor(net, smooth=True, rate=LIVE_RATE)
        self.drawings = drawings
        self.index = 0
        self.latest: bytes | None = None
        self.dropped = 0
        self.arrived = asyncio.Event()

    def offer(self, data: bytes) -> None:
        """A frame arrived: it replaces one still waiting (which is dropped)."""
        if self.latest is not None:
            self.dropped += 1
        self.latest = data
        self.arrived.set()

    def take(self) -> bytes | None:
        data, self.latest = self.latest, None
        self.arrived.clear()
        return data

    def process(self, data: bytes) -> dict:
        """One JPEG (or PNG) frame -> the faces to draw, or the reason it could not be read."""
        t0 = time.perf_counter()
        if len(data) > MAX_FRAME_BYTES:
            return {"error": f"frame of {len(data) >> 20} MiB refused (limit {MAX_FRAME_BYTES >> 20} MiB)"}
        header = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        if header is None:
            return {"error": "the frame is not a JPEG or PNG image"}
        if header.shape[0] * header.shape[1] * 64 > MAX_FRAME_PIXELS:
            return {"error": "frame larger than 1920x1080 refused"}
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        pred = self.video(self.index, rgb, "live")
        self.index += 1
        faces = []
        for f in pred.faces:
            s = f.smoothed or {}
            faces.append({"track": f.track, "box": [round(float(c), 1) for c in f.box], **self.drawings.face(f),
                          "yaw": round(s.get("yaw", f.pose.yaw), 2), "pitch": round(s.get("pitch", f.pose.pitch), 2),
                          "roll": round(s.get("roll", f.pose.roll), 2),
                          "expression": s.get("expression_normalized",
                                              np.round(f.expression_normalized, 3).tolist())})
        return {"frame": self.index - 1, "width": rgb.shape[1], "height": rgb.shape[0], "faces": faces,
                "ms": round(1e3 * (time.perf_counter() - t0), 1), "dropped": self.dropped}

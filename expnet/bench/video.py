"""``expnet bench video``: stability, responsiveness and throughput of video prediction.

- stability: a still face filmed at 30 fps (sub-pixel shifts, 2% zooms, sensor noise, JPEG), where
  the true expression and pose are constant: the frame-to-frame standard deviation of the
  whitened expression and of the angles, raw and smoothed;
- responsiveness: a cut from one face to another (another expression of the same person when
  ``data`` holds lfw-expressions; the registry photos otherwise): frames the smoothed expression
  needs to cover 90% of the change;
- throughput: frames per second on a 640x480 video with one face and with four, detection on
  every frame against tracking (detection every ``detect_every`` frames).
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np

from expnet.assets.datasets import LFW_EXPRESSIONS
from expnet.bench.scenes import face_crop, sample_faces
from expnet.inference.predictor import ExpNet
from expnet.inference.video import VideoPredictor
from expnet.io.images import load_image

FPS = 30.0


def _place(face: np.ndarray, centre, side: int, size=(640, 480), background: int = 100) -> np.ndarray:
    import cv2
    w, h = size
    canvas = np.full((h, w, 3), background, np.uint8)
    patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    x, y = int(centre[0] - side / 2), int(centre[1] - side / 2)
    canvas[y:y + side, x:x + side] = patch
    return canvas


def filmed(still: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` frames of a still picture as a camera gives them: shifts under a pixel, zooms of up
    to 2%, sensor noise, JPEG compression."""
    import cv2
    h, w = still.shape[:2]
    out = []
    for _ in range(n):
        zoom = 1 + rng.uniform(-0.02, 0.02)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
        m[:, 2] += rng.uniform(-0.8, 0.8, 2)
        frame = cv2.warpAffine(still, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frame = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append(cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED))
    return out


def _faces(data: Path | None, rng: np.random.Generator) -> tuple[list[np.ndarray], list[tuple]]:
    """Face pictures for the stability videos, and pairs (same person, two expressions) for the
    cuts: held-out lfw-expressions identities when ``data`` has them, registry photos otherwise."""
    from expnet.splits import lfw_validation_identities
    root = data / LFW_EXPRESSIONS if data else None
    if root and (root / "labels.csv").is_file():
        held = lfw_validation_identities()
        by_person: dict[str, list[tuple[str, str]]] = {}
        for row in csv.DictReader(open(root / "labels.csv")):
            if row["identity"] in held and row.get("emotion"):
                by_person.setdefault(row["identity"], []).append((row["image"], row["emotion"]))
        pairs = []
        for person in sorted(by_person):
            items = by_person[person]
            other = [b for b in items if b[1] != items[0][1]]
            if other:
                pairs.append((load_image(root / "images" / items[0][0]), load_image(root / "images" / other[0][0])))
        picked = [pairs[i] for i in rng.permutation(len(pairs))[:8]]
        return [a for a, _ in picked], picked
    crops = [face_crop(f) for f in sample_faces()[::2]]
    return crops, [(crops[k], crops[(k + 1) % len(crops)]) for k in range(len(crops))]


def _run(predictor: VideoPredictor, frames: list[np.ndarray]) -> list:
    return [predictor(k, f, "bench").faces for k, f in enumerate(frames)]


def _stability(net: ExpNet, faces, rng, n: int = 60) -> dict:
    raw_e, smooth_e, raw_a, smooth_a = [], [], [], []
    for face in faces:
        frames = filmed(_place(face, (320, 240), 220), n, rng)
        per_frame = _run(VideoPredictor(net, smooth=True, rate=FPS), frames)
        kept = [f[0] for f in per_frame if f]
        if len(kept) < n // 2:
            continue
        e = np.array([f.expression_normalized for f in kept])
        es = np.array([f.smoothed["expression_normalized"] for f in kept])
        a = np.array([[f.pose.yaw, f.pose.pitch, f.pose.roll] for f in kept])
        sa = np.array([[f.smoothed["yaw"], f.smoothed["pitch"], f.smoothed["roll"]] for f in kept])
        skip = 10  # the filter's start-up
        raw_e.append(np.diff(e[skip:], axis=0).std(0).mean())
        smooth_e.append(np.diff(es[skip:], axis=0).std(0).mean())
        raw_a.append(np.diff(a[skip:], axis=0).std(0).mean())
        smooth_a.append(np.diff(sa[skip:], axis=0).std(0).mean())
    r = lambda v: round(float(np.mean(v)), 4)  # noqa: E731
    return {"videos": len(raw_e), "frames_each": n,
            "expression_frame_to_frame_std_raw": r(raw_e), "expression_frame_to_frame_std_smoothed": r(smooth_e),
            "expression_smoothed_over_raw": round(float(np.mean(smooth_e) / np.mean(raw_e)), 3),
            "angles_frame_to_frame_std_deg_raw": r(raw_a), "angles_frame_to_frame_std_deg_smoothed": r(smooth_a),
            "angles_smoothed_over_raw": round(float(np.mean(smooth_a) / np.mean(raw_a)), 3)}


def _response(net: ExpNet, pairs, rng, before: int = 30, after: int = 30) -> dict:
    frames_to_90 = []
    for a, b in pairs:
        frames = filmed(_place(a, (320, 240), 220), before, rng) + filmed(_place(b, (320, 240), 220), after, rng)
        per_frame = _run(VideoPredictor(net, smooth=True, rate=FPS), frames)
        if not all(per_frame):
            continue
        raw = np.array([f[0].expression_normalized for f in per_frame])
        smooth = np.array([f[0].smoothed["expression_normalized"] for f in per_frame])
        start, end = raw[before - 10:before].mean(0), raw[before + 10:].mean(0)
        change = end - start
        if np.linalg.norm(change) < 0.5:  # no real change between the two pictures
            continue
        covered = (smooth[before:] - start) @ change / (change @ change)
        reached = np.flatnonzero(covered >= 0.9)
        frames_to_90.append(int(reached[0]) + 1 if len(reached) else after)
    return {"cuts": len(frames_to_90), "frames_to_90_percent_median": float(np.median(frames_to_90))
            if frames_to_90 else None, "frames_to_90_percent_max": int(max(frames_to_90)) if frames_to_90 else None,
            "fps": FPS}


def _scene(faces, count: int) -> np.ndarray:
    """A 640x480 frame with ``count`` faces (1: one large face in the middle; 4: one per quadrant)."""
    if count == 1:
        return _place(faces[0], (320, 240), 220)
    frame = np.full((480, 640, 3), 100, np.uint8)
    for k, (x, y) in enumerate([(160, 120), (480, 120), (160, 360), (480, 360)][:count]):
        patch = _place(faces[k % len(faces)], (x, y), 150)
        frame[y - 120:y + 120, x - 160:x + 160] = patch[y - 120:y + 120, x - 160:x + 160]
    return frame


def _throughput(net: ExpNet, faces, rng, detect_every: int, n: int = 60) -> dict:
    out = {}
    for count in (1, 4):
        frames = filmed(_scene(faces, count), n, rng)
        for name, every in (("per_frame_detection", 1), ("tracking", detect_every)):
            predictor = VideoPredictor(net, detect_every=every, rate=FPS)
            predictor(0, frames[0], "warm")
            t0 = time.perf_counter()
            found = _run(predictor, frames)
            dt = time.perf_counter() - t0
            out[f"{count}_face_{name}_fps"] = round(n / dt, 1)
            out[f"{count}_face_{name}_faces_per_frame"] = round(float(np.mean([len(f) for f in found])), 2)
        ratio = out[f"{count}_face_tracking_fps"] / out[f"{count}_face_per_frame_detection_fps"]
        out[f"{count}_face_tracking_speedup"] = round(ratio, 2)
    return out


def bench_video(data: str | os.PathLike | None = None, model: str | None = None, detect_every: int = 5,
                seed: int = 0) -> dict:
    """Stability, responsiveness and throughput (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    net = ExpNet(model)
    faces, pairs = _faces(Path(data) if data else None, rng)
    return {"faces_from": "lfw-expressions held-out identities" if data and pairs and len(pairs) > 3
            else "registry sample photos", "detect_every": detect_every,
            "stability": _stability(net, faces, rng), "responsiveness": _response(net, pairs, rng),
            "throughput_640x480": _throughput(net, faces, rng, detect_every), "cpu_count": os.cpu_count()}

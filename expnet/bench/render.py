"""``expnet bench render``: the time of a full-resolution overlay and of rasterisation alone."""

from __future__ import annotations

import os
import time

import numpy as np

from expnet.face.pose import Pose, euler_to_rotation
from expnet.inference.results import FacePrediction
from expnet.render.rasterizer import visible_fragments
from expnet.render.reconstruct import reconstruct
from expnet.render.visuals import FaceRenderer


def bench_render(seed: int = 0) -> dict:
    """Time a 640x480 overlay of the full-resolution face (reconstruct + rasterise + shade + blend +
    landmarks) over random poses and face sizes (220-330 px wide), and the rasterisation alone."""
    renderer = FaceRenderer()
    model = renderer.model
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    overlay_ms, raster_ms, pixels = [], [], []
    warm = 3  # the first calls warm caches
    for k in range(30 + warm):
        yaw, pitch = rng.uniform(-0.6, 0.6), rng.uniform(-0.3, 0.3)
        pose = Pose(euler_to_rotation(pitch, yaw, 0.0), np.array([320.0, 240.0]), float(rng.uniform(0.0012, 0.0018)))
        face = FacePrediction(np.zeros(4), 1.0, "bench", model.expression_mean, np.zeros(model.n_expression), pose,
                              model.shape_mean)
        t0 = time.perf_counter()
        out = renderer.overlay(image, [face])
        t1 = time.perf_counter()
        visible_fragments(reconstruct(model, None, None, pose).image_vertices, model.triangles, (480, 640))
        t2 = time.perf_counter()
        if k >= warm:
            overlay_ms.append(1e3 * (t1 - t0))
            raster_ms.append(1e3 * (t2 - t1))
            pixels.append(int((out != image).any(2).sum()))
    overlay_ms = np.array(overlay_ms)
    return {"overlay_640x480_ms_median": round(float(np.median(overlay_ms)), 2),
            "overlay_640x480_ms_p90": round(float(np.percentile(overlay_ms, 90)), 2),
            "overlay_640x480_ms_max": round(float(overlay_ms.max()), 2),
            "rasterize_all_triangles_ms_median": round(float(np.median(raster_ms)), 2),
            "overlays_timed": len(overlay_ms), "face_pixels_median": int(np.median(pixels)),
            "vertices": model.n_vertices, "triangles": int(len(model.triangles)), "cpu_count": os.cpu_count()}

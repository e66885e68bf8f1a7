"""``expnet bench calibration``: how every detector backend's boxes relate to the shared convention."""

from __future__ import annotations

import os
import time

import numpy as np

from expnet.detection.chain import BACKENDS
from expnet.detection.mediapipe import box_iou
from expnet.io.images import load_image
from expnet.io.inputs import list_images
from expnet.teacher.landmarks import DlibLandmarker


def bench_calibration(data: str | os.PathLike | None) -> dict:
    """How each backend's native boxes, and the box the landmarks imply, relate to dlib-hog's on
    up to 150 images of the folder ``data``: the calibration constants of
    :mod:`expnet.detection.boxes`."""
    if not data:
        raise ValueError("bench calibration needs --data FOLDER (face images)")
    paths = list_images(data)
    paths = paths[:: max(1, len(paths) // 150)][:150]
    hog = BACKENDS["dlib-hog"]()
    # native boxes, every face the backend scores at all
    others = {name: cls(min_score=-1.0 if name.startswith("dlib") else 0.3) for name, cls in BACKENDS.items()
              if name != "dlib-hog"}
    for det in others.values():  # measure native boxes
        det.calibration = type(det.calibration)()
    landmarker = DlibLandmarker(refine=False)
    rel = {name: [] for name in others}
    rel["landmarks"] = []
    timing = {name: [] for name in BACKENDS}

    def relation(ref: np.ndarray, box: np.ndarray) -> list[float]:
        side = (box[2] - box[0] + box[3] - box[1]) / 2
        return [*(((ref[:2] + ref[2:]) - (box[:2] + box[2:])) / 2 / side),
                (ref[2] - ref[0] + ref[3] - ref[1]) / 2 / side]

    for path in paths:
        gray = load_image(path, "L")
        t = time.perf_counter()
        found = hog.detect(gray)
        timing["dlib-hog"].append(time.perf_counter() - t)
        if not found:
            continue
        ref = found[0].as_array()
        pts = landmarker.predict(gray, found[0])
        rel["landmarks"].append(relation(ref, np.r_[pts.min(0), pts.max(0)]))
        for name, det in others.items():
            t = time.perf_counter()
            boxes = det.detect(gray)
            timing[name].append(time.perf_counter() - t)
            if boxes and box_iou(ref, boxes[0].as_array()[None])[0] > 0.3:
                rel[name].append(relation(ref, boxes[0].as_array()))
    return {
        "images": len(paths),
        "calibration_dx_dy_size": {k: np.round(np.median(v, 0), 3).tolist() if v else None
                                   for k, v in rel.items()},
        "matched_faces": {k: len(v) for k, v in rel.items()},
        "ms_per_image": {k: round(1e3 * float(np.mean(v)), 2) for k, v in timing.items() if v},
    }

"""Recall by face width and time per 1280x720 group scene of the default detector at two
``--min-face`` settings (the README's trade-off sentence). Runs anywhere: registry sample faces."""

import time

import numpy as np

from expnet.bench.detectors import WIDTHS
from expnet.bench.scenes import group_scene, matched
from expnet.core.detectors import DetectorChain

if __name__ == "__main__":
    scenes = [group_scene(WIDTHS, seed=k) for k in range(10)]
    for min_face in (40, 30):
        det = DetectorChain("blazeface", min_face=min_face)
        det.detect(scenes[0].image)
        hits = np.zeros(len(WIDTHS))
        start = time.perf_counter()
        for scene in scenes:
            found = np.array([b.as_array() for b in det.detect(scene.image)]).reshape(-1, 4)
            hits += matched(found, scene.boxes)
        ms = 1e3 * (time.perf_counter() - start) / len(scenes)
        recall = ", ".join(f"{w} px {h / len(scenes):.1f}" for w, h in zip(WIDTHS, hits))
        print(f"--min-face {min_face}: recall {recall}; {ms:.1f} ms per scene")

"""Recall by face width and time per 1280x720 group scene, and time per 640x480 frame, of the
default detector at several ``--min-face`` settings (the README's trade-off sentence; the cost of
finding every 40 px face). Runs anywhere: registry sample faces.

    python scripts/min_face_tradeoff.py [--min-faces 40 30 24 20]
"""

import argparse
import time

import numpy as np

from expnet.bench.detectors import WIDTHS
from expnet.bench.scenes import group_scene, matched
from expnet.bench.synthetic import benchmark_images
from expnet.detection.chain import DetectorChain


def ms_per_image(det: DetectorChain, images: list[np.ndarray]) -> float:
    det.detect(images[0])
    start = time.perf_counter()
    for img in images:
        det.detect(img)
    return 1e3 * (time.perf_counter() - start) / len(images)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-faces", type=float, nargs="+", default=[40, 30, 24, 20])
    args = p.parse_args()
    scenes = [group_scene(WIDTHS, seed=k) for k in range(10)]
    frames = [np.repeat(g[..., None], 3, axis=2) for g in benchmark_images(40)]
    for min_face in args.min_faces:
        det = DetectorChain("blazeface", min_face=min_face)
        det.detect(scenes[0].image)
        hits = np.zeros(len(WIDTHS))
        start = time.perf_counter()
        for scene in scenes:
            found = np.array([b.as_array() for b in det.detect(scene.image)]).reshape(-1, 4)
            hits += matched(found, scene.boxes)
        ms = 1e3 * (time.perf_counter() - start) / len(scenes)
        recall = ", ".join(f"{w} px {h / len(scenes):.1f}" for w, h in zip(WIDTHS, hits))
        print(f"--min-face {min_face:g}: recall {recall}; {ms:.1f} ms per scene; "
              f"{ms_per_image(det, frames):.1f} ms per 640x480 frame")

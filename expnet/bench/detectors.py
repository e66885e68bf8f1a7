"""``expnet bench detectors``: recall, false faces and speed of every detector backend.

- recall on generated 1280x720 group scenes, by face width (registry sample faces on generated
  backgrounds);
- false faces per 100 generated faceless images (backgrounds, textures, shapes), and per 100
  small faceless images like a crop folder's (grey texture crops and smooth colour blobs);
- with ``data`` (a folder holding ``aflw2000-samples`` and ``fer2013``): faces found on the
  AFLW2000-3D samples (a found box overlaps the ground-truth landmarks' box) and on FER-2013
  validation crops treated as photos;
- milliseconds per 640x480 frame (one face), in one thread and in two (each with its own
  detector: whether the backend works outside Python's lock), and per 1280x720 group scene.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from expnet.assets.datasets import AFLW2000_SAMPLES, FER2013_VALIDATION, LFW_IMAGES
from expnet.bench.scenes import faceless_crops, faceless_images, group_scene, matched
from expnet.bench.synthetic import benchmark_images
from expnet.detection.chain import DetectorChain
from expnet.io.images import load_image
from expnet.io.inputs import list_images

WIDTHS = (300, 100, 64, 40, 32)
DEFAULT_SPECS = ("blazeface", "blazeface-full", "dlib-hog", "opencv-haar", "dlib-hog,dlib-cnn")


def _boxes(found) -> np.ndarray:
    return np.array([b.as_array() for b in found]).reshape(-1, 4)


def _aflw(detector: DetectorChain, folder: Path) -> dict:
    from scipy.io import loadmat
    paths = sorted(folder.glob("*.jpg"))
    hits = []
    for path in paths:
        pts = loadmat(path.with_suffix(".mat"))["pt3d_68"][:2].T
        found = detector.detect(load_image(path, "RGB" if detector.uses_color else "L"))
        hits.append(bool(matched(_boxes(found), np.r_[pts.min(0), pts.max(0)][None])[0]))
    return {"found": int(sum(hits)), "images": len(paths)}


def _fer(detector: DetectorChain, folder: Path, limit: int) -> dict:
    paths = list_images(folder)
    paths = paths[:: max(1, len(paths) // limit)] if limit else paths
    found = sum(bool(detector.detect(load_image(p, "L"))) for p in paths)
    return {"found": found, "images": len(paths), "fraction": round(found / max(len(paths), 1), 4)}


def _time(detector: DetectorChain, images: list[np.ndarray]) -> float:
    detector.detect(images[0])
    t0 = time.perf_counter()
    for img in images:
        detector.detect(img)
    return round(1e3 * (time.perf_counter() - t0) / len(images), 2)


def _time_threads(spec: str, images: list[np.ndarray], threads: int = 2) -> float:
    """Milliseconds per image with ``threads`` threads, each with its own detector: about half the
    one-thread time where the backend works outside Python's lock (``Detector.releases_gil``)."""
    from concurrent.futures import ThreadPoolExecutor
    detectors = [DetectorChain(spec) for _ in range(threads)]
    for det in detectors:
        det.detect(images[0])
    parts = [images[k::threads] for k in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda k: [detectors[k].detect(img) for img in parts[k]], range(threads)))
    return round(1e3 * (time.perf_counter() - t0) / len(images), 2)


def bench_detectors(data: str | os.PathLike | None = None, specs=DEFAULT_SPECS, scenes: int = 10,
                    faceless: int = 100, fer_limit: int = 0, seed: int = 0, progress: bool = True) -> dict:
    """Recall, false faces and speed of each detector spec (a backend or chain).

    Parameters
    ----------
    data : path, optional
        Folder with ``aflw2000-samples/`` and ``fer2013/validation/`` (skipped where absent).
    specs : sequence of str
        Detector backends or chains to measure.
    scenes, faceless : int
        Generated group scenes (each with one face of every width in ``WIDTHS``) and faceless images
        (and three times as many faceless crops).
    fer_limit : int
        FER-2013 validation crops used (0: all 3,589).
    """
    group = [group_scene(WIDTHS, seed=seed + k) for k in range(scenes)]
    negatives = faceless_images(faceless, seed)
    negative_crops = faceless_crops(3 * faceless, seed)
    frames = [np.repeat(img[..., None], 3, axis=2) for img in benchmark_images(40, seed)]
    root = Path(data) if data else None
    out: dict = {"group_scenes": scenes, "face_widths": list(WIDTHS), "faceless_images": faceless, "detectors": {}}
    for spec in tqdm(specs, desc="detectors", unit="detector", disable=not progress):
        det = DetectorChain(spec)
        hits = np.zeros(len(WIDTHS))
        for scene in group:
            hits += matched(_boxes(det.detect(scene.image)), scene.boxes)
        false = sum(len(det.detect(img)) for img in negatives)
        false_crops = sum(len(det.detect(img)) for img in negative_crops)
        row = {"group_recall_by_width": {str(w): round(h / scenes, 3) for w, h in zip(WIDTHS, hits)},
               "false_faces_per_100_faceless": round(100 * false / faceless, 2),
               "false_faces_per_100_faceless_crops": round(100 * false_crops / len(negative_crops), 2),
               "ms_per_640x480": _time(det, frames), "ms_per_640x480_2_threads": _time_threads(spec, frames),
               "ms_per_1280x720_group": _time(det, [s.image for s in group])}
        if root and (root / AFLW2000_SAMPLES).is_dir():
            row["aflw2000_samples"] = _aflw(det, root / AFLW2000_SAMPLES)
        if root and (root / FER2013_VALIDATION).is_dir():
            row["fer2013_validation_as_photos"] = _fer(det, root / FER2013_VALIDATION, fer_limit)
        out["detectors"][spec] = row
    return out


def bench_min_face(data: str | os.PathLike | None = None, n_faces: int = 25,
                   widths=(8, 10, 12, 14, 16, 20, 24, 32, 48), reach_widths=(64, 80, 96, 112, 128)) -> dict:
    """The smallest face each BlazeFace model finds: faces placed alone on a plain grey canvas of
    the model's input size, at each width (pixels in the model's input); the fraction found. And
    the largest one pass of the short-range graph finds (``reach_widths``, on a 256 px input). Faces:
    ``n_faces`` lfw-expressions images under ``data`` (tight 224 px crops, face about 0.55 of the
    side), or the registry sample faces. The basis of ``min_model_px`` and ``max_model_px`` in
    :mod:`expnet.detection.blazeface`."""
    import cv2

    from expnet.detection.mediapipe import BlazeFace, weighted_nms
    folder = Path(data) / LFW_IMAGES if data else None
    if folder and folder.is_dir():
        paths = list_images(folder)
        crops = [load_image(p, "L") for p in paths[:: max(1, len(paths) // n_faces)][:n_faces]]
        face_fraction = 0.55
    else:
        from expnet.bench.scenes import face_crop, sample_faces
        face_fraction = 0.6
        crops = [cv2.cvtColor(face_crop(src, 1 / face_fraction), cv2.COLOR_RGB2GRAY) for src in sample_faces()]
    out: dict = {"faces": len(crops)}

    def found(net: BlazeFace, size: int, width: int, scale: float | None) -> float:
        side = max(2, int(round(width / face_fraction)))
        hits = 0
        for crop in crops:
            canvas = np.full((size, size), 128, np.uint8)
            o = (size - side) // 2
            canvas[o:o + side, o:o + side] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
            d = weighted_nms(net.detect(canvas, 0.5, scale))
            hits += any(b[0] < size / 2 < b[2] and b[1] < size / 2 < b[3] for b in d.boxes)
        return round(hits / len(crops), 3)

    for model in ("short", "full"):
        net = BlazeFace(model)
        size = net.spec.input_size
        out[f"{model}_range_found_by_width_px"] = {str(w): found(net, size, w, None) for w in widths}
    # the largest faces one pass of the resizable short-range graph finds (a 256 px input)
    short = BlazeFace("short")
    out["short_range_reach_found_by_width_px"] = {str(w): found(short, 256, w, 1.0) for w in reach_widths}
    return out

"""``expnet bench scale``: the Ray engine against the local one on the same images, and what a
large label job would take on a cluster.

Both engines predict the same folder (2,000 images and some bad files) on this machine's two
cores: local ``--workers 2`` (two processes detect and crop, the main one runs the network)
against a local Ray runtime with 2 CPUs (two actors, each detecting, cropping and running the
network), Ray's start and stop included in its time. The folders: 640x480 photos with one face
each (as ``bench net`` uses), and, where the shared data are given, UTKFace's 200-px face crops
(Ray's fixed cost, a few seconds, weighs most there). The label pipeline's per-core rate
(detection + landmarks, then the fit) is measured on face crops and turned into a projection for
a 0.5 M-image label job on N nodes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from expnet.bench.scenes import face_crop, sample_faces
from expnet.bench.synthetic import benchmark_images

BAD_FILES = {"empty.jpg": b"", "text.png": b"not an image\n", "truncated.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF"}
LABEL_JOB = 500_000     # the paper's training set: about half a million fitted faces
NODE_CORES = (2, 16)    # this machine's cores, and a common cluster node


def face_folder(folder: str | os.PathLike, n: int, seed: int = 0, size: int = 200) -> list[Path]:
    """Fill ``folder`` with ``n`` face crops and the :data:`BAD_FILES`; returns every path.

    The registry sample faces, each jittered (scale, rotation, shift, brightness) to a distinct
    ``size`` x ``size`` JPEG; every 50th image is faceless (smooth noise).
    """
    import cv2
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    crops = [face_crop(s, 2.0) for s in sample_faces()]
    paths = []
    for k in range(n):
        path = folder / f"face{k:05d}.jpg"
        if k % 50 == 49:
            cv2.imwrite(str(path), cv2.resize(rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8), (size, size)))
        else:
            cv2.imwrite(str(path), jittered(crops[k % len(crops)], size, rng)[..., ::-1])
        paths.append(path)
    return paths + _bad_files(folder)


def photo_folder(folder: str | os.PathLike, n: int, seed: int = 0) -> list[Path]:
    """Fill ``folder`` with ``n`` 640x480 one-face photos (``bench net``'s) and the
    :data:`BAD_FILES`; returns every path."""
    import cv2
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, n, 100):  # in chunks: 2,000 frames at once would hold 600 MB
        for k, image in enumerate(benchmark_images(min(100, n - start), seed + start)):
            paths.append(folder / f"photo{start + k:05d}.jpg")
            cv2.imwrite(str(paths[-1]), image)
    return paths + _bad_files(folder)


def linked_folder(folder: str | os.PathLike, sources: list[Path]) -> list[Path]:
    """``folder`` with a link to each source (shared data are linked, never copied) and the
    :data:`BAD_FILES`; returns every path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for src in sources:
        paths.append(folder / src.name)
        paths[-1].unlink(missing_ok=True)
        paths[-1].symlink_to(src.resolve())
    return paths + _bad_files(folder)


def _bad_files(folder: Path) -> list[Path]:
    for name, content in BAD_FILES.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in BAD_FILES]


def jittered(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` turned, scaled, shifted and re-lit at random, as a ``size`` x ``size`` image."""
    import cv2
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-12, 12), rng.uniform(0.85, 1.1))
    m[:, 2] += rng.uniform(-0.05, 0.05, 2) * (w, h)
    out = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return np.clip(out * rng.uniform(0.7, 1.2) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)


def _rows(path: Path) -> dict[str, dict]:
    return {r["image"]: r for r in map(json.loads, path.read_text().splitlines())}


def same_rows(a: dict[str, dict], b: dict[str, dict], tolerance: float = 1e-5) -> bool:
    """Same inputs, same faces, expression and pose within ``tolerance`` (JSON rows by image)."""
    if a.keys() != b.keys():
        return False
    for image, ra in a.items():
        fa, fb = ra["faces"], b[image]["faces"]
        if len(fa) != len(fb) or ra["error"] != b[image]["error"]:
            return False
        for x, y in zip(fa, fb):
            for key in ("expression", "expression_normalized", "box"):
                if not np.allclose(x[key], y[key], atol=tolerance, rtol=0):
                    return False
            for key in ("yaw", "pitch", "roll"):
                if abs(x["pose"][key] - y["pose"][key]) > tolerance:
                    return False
    return True


def compare_engines(inputs: list[Path], work: Path, model: str | None = None) -> dict:
    """Local ``--workers 2`` and Ray with 2 local CPUs on ``inputs``: seconds, images/s, the
    ratio, and whether the rows agree."""
    from expnet.cluster.predict import PredictSettings, predict_on_ray
    from expnet.cluster.runtime import ray_runtime
    from expnet.inference.jobs import predict_inputs
    from expnet.inference.outputs import PredictionWriter
    from expnet.inference.predictor import ExpNet

    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with PredictionWriter(work / "local.jsonl") as writer:
        predict_inputs(ExpNet(model, threads=1), inputs, writer, workers=2, progress=False)
    local = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ray_runtime(None, cpus=2):
        pass
    start_stop = time.perf_counter() - t0
    t0 = time.perf_counter()
    predict_on_ray(PredictSettings(model), inputs, work / "ray.jsonl", workers=2, cpus=2, progress=False)
    ray_seconds = time.perf_counter() - t0
    n = len(inputs)
    return {"inputs": n, "local_workers2": {"seconds": round(local, 2), "images_per_s": round(n / local, 1)},
            "ray_2cpus": {"seconds": round(ray_seconds, 2), "images_per_s": round(n / ray_seconds, 1),
                          "runtime_start_stop_seconds": round(start_stop, 2)},
            "ray_over_local_time": round(ray_seconds / local, 3),
            "same_rows": same_rows(_rows(work / "local.jsonl"), _rows(work / "ray.jsonl"))}


def bench_scale(data: str | os.PathLike | None = None, n_images: int = 2000, label_images: int = 200,
                seed: int = 0, model: str | None = None) -> dict:
    """Local ``--workers 2`` against Ray with 2 local CPUs on 640x480 photos (and UTKFace crops
    when ``data`` holds ``utkface/``); the label pipeline's per-core rate and the projection."""
    from expnet.teacher.labeling import LabelPipeline

    work = Path(tempfile.mkdtemp(prefix="expnet-bench-scale-"))
    try:
        out: dict = {"images": n_images, "bad_files": len(BAD_FILES), "cpu_count": os.cpu_count()}
        photos = photo_folder(work / "photos", n_images, seed)
        out["photos_640x480"] = compare_engines(photos, work / "photos-out", model)
        utk = Path(data) / "utkface" / "images" if data else None
        crops = sorted(utk.glob("*.jpg"))[:n_images] if utk is not None and utk.is_dir() else []
        if crops:
            out["utkface_200px"] = compare_engines(linked_folder(work / "utk", crops), work / "utk-out", model)
        faces = crops[:label_images] or face_folder(work / "faces", label_images, seed)[:label_images]
        summary = LabelPipeline(workers=1).run(faces, work / "labels.jsonl", progress=False)
        fit_per_image = summary.fit_seconds / max(summary.labelled, 1)
        out["label_one_core"] = {"images": len(faces), "source": "utkface" if crops else "jittered sample faces",
                                 "observe_images_per_s": summary.images_per_second,
                                 "fit_ms_per_image": round(1e3 * fit_per_image, 3)}
        out["projection"] = _projection(summary.images_per_second, fit_per_image,
                                        out["photos_640x480"]["ray_over_local_time"])
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _projection(per_core: float, fit_seconds: float, overhead: float) -> dict:
    """Hours for a :data:`LABEL_JOB`-image label job on N nodes, assuming the measured per-core
    rate on every core and Ray's measured overhead over the local engine; the fit (driver-light,
    parallel in batches) is counted once on one core as an upper bound."""
    table = {}
    for cores in NODE_CORES:
        for nodes in (1, 4, 16, 64):
            seconds = LABEL_JOB / (per_core * cores * nodes) * max(overhead, 1.0) + LABEL_JOB * fit_seconds
            table[f"{nodes} nodes x {cores} cores"] = round(seconds / 3600, 2)
    return {"images": LABEL_JOB, "hours": table,
            "assumes": "linear scaling of the measured one-core detection+landmark rate, times Ray's "
                       "measured time over the local engine; the fit counted on one core (an upper bound); "
                       "images read from storage as fast as here"}

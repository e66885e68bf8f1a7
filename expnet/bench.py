"""Benchmarks behind ``expnet bench``: each returns a dict of measured figures.

- ``fit``: fits per second for a batch of synthetic faces, and recovery errors.
- ``fit-prior``: the sweep that chose the prior weight of the fit (expression error and the
  fraction of coefficients on a bound, for each weight).
- ``detectors``: how each detector's boxes relate to dlib-hog's on a folder of faces, and the
  box the landmarks imply: the source of the calibration constants in ``expnet.detection`` and
  ``expnet.landmarks``.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np

from expnet.facemodel import FaceModel, LinearModel
from expnet.fitting import FitConfig, LandmarkFitter, inter_ocular
from expnet.pose import euler_to_rotation, project


def synthetic_faces(model: LinearModel, n: int, noise: float, seed: int = 0,
                    max_yaw: float = 60.0) -> dict[str, np.ndarray]:
    """Random faces from the prior, random pose, projected 68 landmarks plus Gaussian noise
    (``noise`` times the inter-ocular distance). Expression is drawn within +-2.5 std so that
    the truth lies inside the 3-std box."""
    rng = np.random.default_rng(seed)
    shape = rng.standard_normal((n, model.n_shape)) * model.shape_std + model.shape_mean
    expression = (np.clip(rng.standard_normal((n, model.n_expression)), -2.5, 2.5)
                  * model.expression_std + model.expression_mean)
    angles = np.stack([rng.uniform(-25, 25, n), rng.uniform(-max_yaw, max_yaw, n),
                       rng.uniform(-20, 20, n)], axis=1)
    rotation = euler_to_rotation(*np.radians(angles).T)
    scale = rng.uniform(0.0008, 0.004, n)
    translation = rng.uniform(100, 500, (n, 2))
    points = project(model.vertices(shape, expression), rotation, scale, translation)
    iod = inter_ocular(points)
    points = points + rng.standard_normal(points.shape) * noise * iod[:, None, None]
    return dict(shape=shape, expression=expression, angles=angles, landmarks=points)


def _fit_errors(model: LinearModel, faces: dict, config: FitConfig) -> dict:
    fitter = LandmarkFitter(model, config)
    fitter.fit(faces["landmarks"])  # warm-up: the first call pays for page-faulting fresh arrays
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = fitter.fit(faces["landmarks"])
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    err = (result.expression - faces["expression"]) / model.expression_std
    return {
        "fits_per_second": round(len(result) / seconds, 1),
        "expression_rmse_std": round(float(np.sqrt((err ** 2).mean())), 4),
        "expression_corr": round(float(np.mean([np.corrcoef(result.expression[:, j], faces["expression"][:, j])[0, 1]
                                                 for j in range(model.n_expression)])), 4),
        "angle_median_abs_error_deg": dict(zip(["pitch", "yaw", "roll"], np.round(
            np.median(np.abs(result.angles - faces["angles"]), 0), 3).tolist())),
        "at_bound_fraction": round(float(result.at_bound.mean()), 4),
        "residual_median": round(float(np.median(result.residual)), 4),
    }


def bench_fit(args) -> dict:
    model = FaceModel.load().landmarks
    faces = synthetic_faces(model, args.faces, args.noise, args.seed)
    return {"faces": args.faces, "noise_iod": args.noise, "config": FitConfig().__dict__,
            **_fit_errors(model, faces, FitConfig())}


def bench_fit_prior(args) -> dict:
    model = FaceModel.load().landmarks
    faces = synthetic_faces(model, args.faces, args.noise, args.seed)
    rows = {}
    for weight in (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1):
        config = replace(FitConfig(), expression_prior=weight, iterations=10)
        rows[str(weight)] = _fit_errors(model, faces, config)
    best = min(rows, key=lambda k: rows[k]["expression_rmse_std"])
    return {"faces": args.faces, "noise_iod": args.noise, "by_expression_prior": rows,
            "best_expression_prior": float(best)}


def bench_detectors(args) -> dict:
    from expnet.detection import BACKENDS
    from expnet.images import list_images, load_image
    from expnet.landmarks import DlibLandmarker
    if not args.data:
        raise ValueError("bench detectors needs --data FOLDER (face images)")
    paths = list_images(args.data)
    paths = paths[:: max(1, len(paths) // 150)][:150]
    hog = BACKENDS["dlib-hog"]()
    others = {name: cls() for name, cls in BACKENDS.items() if name != "dlib-hog"}
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
            if boxes and _iou(boxes[0].as_array(), ref) > 0.3:
                rel[name].append(relation(ref, boxes[0].as_array()))
    return {
        "images": len(paths),
        "calibration_dx_dy_size": {k: np.round(np.median(v, 0), 3).tolist() if v else None
                                   for k, v in rel.items()},
        "matched_faces": {k: len(v) for k, v in rel.items()},
        "ms_per_image": {k: round(1e3 * float(np.mean(v)), 2) for k, v in timing.items() if v},
    }


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(hi - lo, 0, None))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return float(inter / (area(a) + area(b) - inter + 1e-9))


def benchmark_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """640x480 grey single-face images made from the registry sample photos: the face is cut
    with context, scaled to about 200 px and placed at a random spot."""
    import cv2

    from expnet.images import load_image
    from expnet.samples import SAMPLES, read_pts, sample_path
    rng = np.random.default_rng(seed)
    bases = []
    for name in SAMPLES:
        path = sample_path(name)
        gray = load_image(path, "L")
        pts = read_pts(path.with_suffix(".pts"))
        centre = (pts.min(0) + pts.max(0)) / 2
        side = 2.2 * (pts.max(0) - pts.min(0)).max()
        x0, y0 = (centre - side / 2).astype(int)
        region = np.zeros((int(side), int(side)), np.uint8)
        sub = gray[max(y0, 0):y0 + int(side), max(x0, 0):x0 + int(side)]
        region[max(-y0, 0):max(-y0, 0) + sub.shape[0], max(-x0, 0):max(-x0, 0) + sub.shape[1]] = sub
        bases.append(cv2.resize(region, (440, 440), interpolation=cv2.INTER_AREA))
    images = []
    for i in range(n):
        canvas = np.full((480, 640), int(rng.integers(40, 200)), np.uint8)
        x, y = int(rng.integers(0, 200)), int(rng.integers(0, 40))
        canvas[y:y + 440, x:x + 440] = bases[i % len(bases)]
        images.append(canvas)
    return images


def bench_net(args) -> dict:
    import time as _t

    from expnet.detection import DetectorChain
    from expnet.landmarks import DlibLandmarker
    from expnet.predictor import ExpNet
    net = ExpNet(args.model, detector="dlib-hog")
    s = net.input_size
    rng = np.random.default_rng(args.seed)
    k = len(net.crop_scales)  # crops per face: a face costs k network passes
    out: dict = {"model": str(args.model or "shipped"), "input_size": s, "crops_per_face": k}
    for batch in (1, 64):  # faces per batch; their crops run in chunks of 64, as predict runs them
        crops = rng.uniform(0, 255, (batch * k, s, s)).astype(np.float32)
        for _ in range(3):
            net.run_crops(crops)
        reps = max(5, 300 // batch)
        t0 = _t.perf_counter()
        for _ in range(reps):
            net.run_crops(crops)
        dt = (_t.perf_counter() - t0) / reps
        out[f"network_faces_per_s_batch{batch}"] = round(batch / dt, 1)
        out[f"network_ms_per_face_batch{batch}"] = round(1e3 * dt / batch, 3)
    images = benchmark_images(args.images, args.seed)
    list(net.predict_many(images[:4]))
    t0 = _t.perf_counter()
    preds = list(net.predict_many(images))
    e2e = _t.perf_counter() - t0
    out["end_to_end_images_per_s"] = round(len(images) / e2e, 1)
    out["end_to_end_faces_found"] = sum(bool(p.faces) for p in preds)
    workers = os.cpu_count() or 1
    t0 = _t.perf_counter()
    preds = list(net.predict_many(images, workers=workers))
    e2e_par = _t.perf_counter() - t0
    out[f"end_to_end_images_per_s_{workers}_workers"] = round(len(images) / e2e_par, 1)
    # The landmark pipeline on the same images, same detector: detect + 68 landmarks + fit.
    detector, landmarker = DetectorChain("dlib-hog"), DlibLandmarker()
    fitter = LandmarkFitter(FaceModel.load().landmarks)
    t0 = _t.perf_counter()
    found = 0
    for img in images:
        boxes = detector.detect(img)
        if boxes:
            fitter.fit(landmarker.predict(img, boxes[0]))
            found += 1
    lm = _t.perf_counter() - t0
    out["landmark_pipeline_images_per_s"] = round(len(images) / lm, 1)
    out["landmark_pipeline_faces_found"] = found
    out["speedup_vs_landmark_pipeline"] = round(lm / e2e, 2)  # both in one process
    out["images"] = len(images)
    return out


def runtime_table(model: str | None = None, n_images: int = 60, seed: int = 0) -> dict:
    """The paper's Table I on this machine: ms per face for each stage, on 640x480 images."""
    import time as _t

    from expnet.detection import DetectorChain
    from expnet.landmarks import DlibLandmarker
    from expnet.predictor import ExpNet
    images = benchmark_images(n_images, seed)
    detector, landmarker = DetectorChain("dlib-hog"), DlibLandmarker()
    fitter = LandmarkFitter(FaceModel.load().landmarks)

    def per_item(fn, items):
        fn(items[0])
        t0 = _t.perf_counter()
        out = [fn(x) for x in items]
        return 1e3 * (_t.perf_counter() - t0) / len(items), out

    det_ms, boxes = per_item(detector.detect, images)
    found = [(img, b[0]) for img, b in zip(images, boxes) if b]
    lm_ms, pts = per_item(lambda ib: landmarker.predict(*ib), found)
    fit_ms, _ = per_item(lambda p: fitter.fit(p), pts)
    batch = np.array(pts)
    fitter.fit(batch)
    t0 = _t.perf_counter()
    fitter.fit(batch)
    fit_batch_ms = 1e3 * (_t.perf_counter() - t0) / len(batch)
    net = ExpNet(model, detector="dlib-hog")
    k = len(net.crop_scales)  # crops per face
    crop_ms, per_face = per_item(lambda ib: net.crop_faces(ib[0], [ib[1]])[0], found)
    net1_ms, _ = per_item(lambda c: net.run_crops(c, k), per_face)  # one face (its k crops) per run
    crops = np.concatenate(per_face)
    net.run_crops(crops)
    t0 = _t.perf_counter()
    net.run_crops(crops)
    net64_ms = 1e3 * (_t.perf_counter() - t0) / len(found)
    r = lambda v: round(float(v), 3)  # noqa: E731
    return {
        "face detection (dlib-hog, 640x480)": r(det_ms),
        "68 landmarks (dlib)": r(lm_ms),
        "fit, one face at a time": r(fit_ms),
        "fit, batched": r(fit_batch_ms),
        f"crop (square, 1.25x, resize; {k} sizes)": r(crop_ms),
        f"network, batch 1 ({k} crops, onnxruntime)": r(net1_ms),
        f"network, batches of 64 crops ({k} per face)": r(net64_ms),
        "landmark pipeline per face (landmarks + fit, after detection)": r(lm_ms + fit_ms),
        "ExpNet per face (crop + network batch 1, after detection)": r(crop_ms + net1_ms),
        "faces timed": len(found),
    }


def bench_render(args) -> dict:
    """Time a 640x480 overlay of the full-resolution face (reconstruct + rasterise + shade + blend +
    landmarks) over random poses and face sizes (220-330 px wide), and the rasterisation alone."""
    from expnet.pose import Pose
    from expnet.predictor import FacePrediction
    from expnet.reconstruct import reconstruct
    from expnet.render import visible_fragments
    from expnet.visuals import FaceRenderer
    renderer = FaceRenderer()
    model = renderer.model
    rng = np.random.default_rng(args.seed)
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

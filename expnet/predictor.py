"""Inference: ``expnet.ExpNet``, the one entry point to the landmark-free regressor.

image -> face detector (or user boxes, or the whole image) -> square crops, enlarged 1.25x, at
three sizes -> network (onnxruntime, batched across faces and images) -> expression, pose, shape
averaged over the crops.

>>> net = ExpNet()                       # the shipped model, dlib-hog detector
>>> result = net.predict("face.jpg")     # ImagePrediction with one FacePrediction per face
>>> result.faces[0].expression           # raw 3DDFA-basis coefficients (param[52:62])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from expnet.crop import ENLARGE, crop
from expnet.detection import DetectorChain, FaceBox, WholeImageDetector
from expnet.images import ImageError, load_image, to_gray
from expnet.pose import Pose, mean_rotation
from expnet.targets import TargetCoder


def default_model_path() -> Path:
    """The model that ships with the package."""
    return Path(str(resources.files("expnet").joinpath("models/expnet.onnx")))


@dataclass
class FacePrediction:
    box: np.ndarray                    # (4,) x0, y0, x1, y1 (detector convention: dlib-hog)
    score: float
    detector: str
    expression: np.ndarray             # (Ke,) raw coefficients, interchangeable with 3DDFA's param[52:62]
    expression_normalized: np.ndarray  # (Ke,) (raw - prior mean) / prior std
    pose: Pose
    shape: np.ndarray                  # (Ks,) raw coefficients

    def to_dict(self, digits: int = 5) -> dict:
        r = lambda a: np.round(np.asarray(a, dtype=np.float64), digits).tolist()  # noqa: E731
        pose = self.pose.to_dict()
        return {"box": r(self.box), "score": round(float(self.score), 4), "detector": self.detector,
                "expression": r(self.expression), "expression_normalized": r(self.expression_normalized),
                "pose": {"yaw": round(pose["yaw"], 3), "pitch": round(pose["pitch"], 3),
                         "roll": round(pose["roll"], 3), "rotation": r(self.pose.rotation),
                         "translation": r(self.pose.translation), "scale": float(f"{self.pose.scale:.6g}")},
                "shape": r(self.shape)}


@dataclass
class ImagePrediction:
    image: str
    width: int | None = None
    height: int | None = None
    faces: list[FacePrediction] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return {"image": self.image, "width": self.width, "height": self.height,
                "faces": [f.to_dict() for f in self.faces], "error": self.error}


# Each face is cropped at these multiples of its box (same centre) and the network's outputs are
# averaged: for two independently trained networks this gained on nearly every emotion benchmark
# line (reports/experiments/test-time-augmentation.md) at three network passes per face.
CROP_SCALES = (0.94, 1.0, 1.06)


class ExpNet:
    """Landmark-free 3D expression, pose and shape from face images.

    Parameters: ``model`` an ONNX file from ``expnet export`` (default: the shipped one);
    ``detector`` a backend or chain of :mod:`expnet.detection` (``none``: inputs are face crops);
    ``threads`` for onnxruntime (default: all cores); ``max_faces`` per image (largest first);
    ``crop_scales`` the box sizes whose outputs are averaged per face (``(1.0,)``: one crop, a
    third of the network's time).
    """

    def __init__(self, model: str | os.PathLike | None = None, detector: str = "dlib-hog",
                 threads: int | None = None, max_faces: int | None = None,
                 crop_scales: Sequence[float] = CROP_SCALES):
        self.crop_scales = _check_crop_scales(crop_scales)
        import onnxruntime as ort
        path = Path(model) if model else default_model_path()
        if not path.exists():
            raise FileNotFoundError(f"model file {path} not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "expnet" not in meta:
            raise ValueError(f"{path} is not an expnet model (no 'expnet' metadata)")
        self.metadata = json.loads(meta["expnet"])
        self.input_size = int(self.metadata["net_config"]["input_size"])
        self.enlarge = float(self.metadata["crop"].get("enlarge", ENLARGE))
        self.coder = TargetCoder.from_dict(self.metadata["coder"])
        self.detector = DetectorChain(detector) if detector and detector != "none" else None
        self._whole_image = WholeImageDetector()
        self.max_faces = max_faces

    # -- the network on crops -------------------------------------------------------------------
    def run_crops(self, crops: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Network outputs (whitened) for (B, S, S) grey crops (0-255)."""
        crops = np.asarray(crops, dtype=np.float32)
        s = self.input_size
        if crops.ndim != 3 or crops.shape[1:] != (s, s):
            raise ValueError(f"crops must have shape (B, {s}, {s}); got {crops.shape}")
        outs = [self.session.run(None, {"pixels": crops[i:i + batch_size, None]})
                for i in range(0, len(crops), batch_size)]
        if not outs:
            k_e, k_s = len(self.coder.expression_mean), len(self.coder.shape_mean)
            return np.zeros((0, k_e), np.float32), np.zeros((0, 6), np.float32), np.zeros((0, k_s), np.float32)
        return tuple(np.concatenate([o[k] for o in outs]) for k in range(3))

    def crop_faces(self, gray: np.ndarray, boxes: list[FaceBox]) -> tuple[np.ndarray, np.ndarray]:
        """The network's crops (B*K, S, S) and image->crop affines (B*K, 2, 3): K crops per face,
        one per entry of ``crop_scales``, face by face."""
        crops, affines = [], []
        for b in boxes:
            x0, y0, x1, y1 = b.as_array()
            cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
            for k in self.crop_scales:
                box = np.array([cx - k * hw, cy - k * hh, cx + k * hw, cy + k * hh])
                c, a = crop(gray, box, self.input_size, self.enlarge)
                crops.append(c)
                affines.append(a)
        s = self.input_size
        return (np.array(crops).reshape(-1, s, s), np.array(affines).reshape(-1, 2, 3))

    def decode(self, outputs, boxes: list[FaceBox], affines: np.ndarray) -> list[FacePrediction]:
        """Predictions for ``boxes`` from the network's outputs on their ``crop_faces`` crops; the
        K crops of a face are averaged (whitened coefficients; pose in image space)."""
        e, p, s = (np.asarray(o, dtype=np.float64) for o in outputs)
        n, k = len(boxes), len(self.crop_scales)
        if len(e) != n * k:
            raise ValueError(f"{len(e)} network outputs for {n} faces x {k} crops")
        rotation, scale, translation = self.coder.decode_pose(p, affines, self.input_size)
        rotation = mean_rotation(rotation.reshape(n, k, 3, 3))
        scale, translation = scale.reshape(n, k).mean(1), translation.reshape(n, k, 2).mean(1)
        e, s = e.reshape(n, k, -1).mean(1), s.reshape(n, k, -1).mean(1)
        expression, shape = self.coder.decode_expression(e), self.coder.decode_shape(s)
        return [FacePrediction(b.as_array(), b.score, b.detector, expression[i], e[i],
                               Pose(rotation[i], translation[i], float(scale[i])), shape[i])
                for i, b in enumerate(boxes)]

    # -- images ---------------------------------------------------------------------------------
    def find_faces(self, gray: np.ndarray, boxes=None) -> list[FaceBox]:
        if boxes is not None:
            return [b if isinstance(b, FaceBox) else FaceBox(*map(float, b[:4]), 1.0, "user")
                    for b in boxes]
        if self.detector is None:  # the input is a face crop: its calibrated whole-image box
            return self._whole_image.detect(gray)
        found = self.detector.detect(gray)
        return found[: self.max_faces] if self.max_faces else found

    def predict(self, image, boxes=None) -> ImagePrediction:
        """One image: a path or an (H, W) / (H, W, 3) uint8 array."""
        return next(iter(self.predict_many([image], None if boxes is None else [boxes])))

    def predict_many(self, images: Iterable, boxes: list | None = None, batch_size: int = 64,
                     workers: int = 1) -> Iterator[ImagePrediction]:
        """Images (paths or arrays) -> predictions, in order; faces of several images share a batch.

        ``workers > 1`` decodes, detects and crops in that many processes while this one runs the
        network (detection dominates the time on full frames).
        """
        if workers > 1:
            prepared = self._prepare_parallel(images, boxes, workers)
        else:
            prepared = (self._prepare(image, None if boxes is None else boxes[k]) for k, image in enumerate(images))
        pending: list[tuple[ImagePrediction, list[FaceBox], np.ndarray, np.ndarray]] = []
        n_faces = 0
        for item in prepared:
            pending.append(item)
            n_faces += len(item[1])
            if n_faces >= batch_size:
                yield from self._flush(pending)
                pending, n_faces = [], 0
        yield from self._flush(pending)

    def _prepare_parallel(self, images, boxes, workers: int):
        import multiprocessing as mp
        spec = ",".join(b.name for b in self.detector.backends) if self.detector else "none"
        jobs = ((image, None if boxes is None else boxes[k]) for k, image in enumerate(images))
        ctx = mp.get_context("fork")
        with ctx.Pool(workers, initializer=_init_worker,
                      initargs=(spec, self.input_size, self.enlarge, self.max_faces, self.crop_scales)) as pool:
            yield from pool.imap(_prepare_job, jobs, chunksize=4)

    def _prepare(self, image, boxes):
        name = str(image) if not isinstance(image, np.ndarray) else "<array>"
        try:
            gray = load_image(image, "L") if not isinstance(image, np.ndarray) else to_gray(image)
        except ImageError as exc:
            return ImagePrediction(name, error=str(exc)), [], None, None
        h, w = gray.shape
        faces = self.find_faces(gray, boxes)
        crops, affines = self.crop_faces(gray, faces)
        return ImagePrediction(name, w, h), faces, crops, affines

    def _flush(self, pending):
        with_faces = [p for p in pending if p[1]]
        if with_faces:
            crops = np.concatenate([p[2] for p in with_faces])
            affines = np.concatenate([p[3] for p in with_faces])
            faces = [b for p in with_faces for b in p[1]]
            decoded = self.decode(self.run_crops(crops), faces, affines)
            i = 0
            for p in with_faces:
                p[0].faces = decoded[i:i + len(p[1])]
                i += len(p[1])
        for p in pending:
            if p[0].error is None and not p[1]:
                p[0].error = "no face found"
            yield p[0]


_WORKER: ExpNet | None = None  # per worker process: a detector-and-crop-only ExpNet


def _init_worker(detector: str, input_size: int, enlarge: float, max_faces: int | None,
                 crop_scales: tuple[float, ...]) -> None:
    global _WORKER
    worker = ExpNet.__new__(ExpNet)  # no onnxruntime session: workers only detect and crop
    worker.detector = DetectorChain(detector) if detector != "none" else None
    worker._whole_image = WholeImageDetector()
    worker.input_size, worker.enlarge, worker.max_faces = input_size, enlarge, max_faces
    worker.crop_scales = crop_scales
    _WORKER = worker


def _prepare_job(job):
    assert _WORKER is not None
    return _WORKER._prepare(*job)


def _check_crop_scales(scales: Sequence[float]) -> tuple[float, ...]:
    try:
        out = tuple(float(k) for k in scales)
    except (TypeError, ValueError):
        raise ValueError(f"crop_scales must be a sequence of numbers; got {scales!r}") from None
    if not out or not all(np.isfinite(k) and 0.5 <= k <= 2.0 for k in out):
        raise ValueError(f"crop_scales must be one or more box multiples in [0.5, 2]; got {scales!r}")
    return out

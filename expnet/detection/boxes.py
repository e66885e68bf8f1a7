"""Face boxes, their one convention, and the detector interface with its dlib, OpenCV and
whole-image backends (weights from registry packages only).

Backends here: ``dlib-hog`` (dlib's HOG + linear SVM, frontal), ``dlib-cnn`` (dlib's MMOD CNN from
``face-recognition-models``: slow on CPU, finds strongly turned faces), ``opencv-haar`` (OpenCV's
frontal + profile cascades) and ``none`` (the whole image is the face, for crops). BlazeFace is in
:mod:`expnet.detection.blazeface`; :mod:`expnet.detection.chain` names them all and chains them.

Every backend's boxes are mapped to one convention, that of ``dlib-hog`` (the box dlib's
68-point predictor was trained on), with offsets measured by ``expnet bench calibration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.io.images import to_gray

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
    releases_gil = False    # True: its work runs outside Python's lock (worker threads detect in parallel)
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
    releases_gil = True  # `expnet bench detectors`: two threads take about 2/3 of the time per frame
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
    releases_gil = True  # OpenCV releases it (its cascade already keeps every core busy)
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


class WholeImageDetector(Detector):
    """For inputs that are already face crops: the face box is the whole image."""

    name = "none"
    releases_gil = True

    def _detect(self, gray):
        h, w = gray.shape[:2]
        return [((0.0, 0.0, w - 1.0, h - 1.0), 1.0)]

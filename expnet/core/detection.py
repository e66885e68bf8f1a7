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


# Measured with `expnet bench detectors` on lfw-expressions (median over 123-135 faces that
# dlib-hog also found). "none" depends on how tight the user's crops are; the landmark step
# re-derives the box from its own first answer, so a rough start is enough.
CALIBRATION = {
    BOX_CONVENTION: BoxCalibration(),
    "dlib-cnn": BoxCalibration(dx=0.064, dy=0.076, size=0.913),
    "opencv-haar": BoxCalibration(dx=-0.029, dy=0.079, size=0.957),
    "none": BoxCalibration(dx=-0.031, dy=0.058, size=0.803),
}


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
    """Base class: ``detect(gray)`` returns calibrated boxes, best first."""

    name = "base"
    min_side = 0  # images smaller than this are upscaled before detection

    def __init__(self, calibration: BoxCalibration | None = None):
        self.calibration = calibration or CALIBRATION.get(self.name, BoxCalibration())

    def detect(self, gray: np.ndarray) -> list[FaceBox]:
        gray = np.ascontiguousarray(gray)
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"detectors take a uint8 grey image (H, W); got {gray.dtype} {gray.shape}")
        factor = 1.0
        if self.min_side and min(gray.shape) < self.min_side:
            import cv2
            factor = self.min_side / min(gray.shape)
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        boxes = []
        for (x0, y0, x1, y1), score in self._detect(gray):
            x0, y0, x1, y1 = self.calibration.apply(x0 / factor, y0 / factor, x1 / factor, y1 / factor)
            boxes.append(FaceBox(x0, y0, x1, y1, float(score), self.name))
        return sorted(boxes, key=lambda b: -b.width * b.height)

    def _detect(self, gray: np.ndarray):
        raise NotImplementedError


class DlibHogDetector(Detector):
    """dlib's HOG detector. On large images it first looks at a copy whose shorter side is
    ``coarse_side`` pixels (4x fewer pixels for 640x480: faces of 160 px and more are found there)
    and runs at full resolution only when that finds nothing."""

    name = "dlib-hog"
    min_side = 160  # HOG's window is 80 px: small crops (48 px FER faces) are upscaled

    def __init__(self, upsample: int = 0, coarse_side: int | None = 240, **kw):
        super().__init__(**kw)
        import dlib
        self._det = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.coarse_side = coarse_side

    def _run(self, gray):
        rects, scores, _ = self._det.run(gray, self.upsample, -0.2)
        return [((r.left(), r.top(), r.right(), r.bottom()), s) for r, s in zip(rects, scores)]

    def _detect(self, gray):
        short = min(gray.shape)
        if self.coarse_side and short >= 2 * self.coarse_side:
            import cv2
            f = self.coarse_side / short
            small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            found = [((x0 / f, y0 / f, x1 / f, y1 / f), s) for (x0, y0, x1, y1), s in self._run(small)]
            if found:
                return found
        return self._run(gray)


class DlibCnnDetector(Detector):
    name = "dlib-cnn"
    min_side = 160

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

    def _detect(self, gray):
        h, w = gray.shape
        return [((0.0, 0.0, w - 1.0, h - 1.0), 1.0)]


BACKENDS: dict[str, type[Detector]] = {
    cls.name: cls for cls in (DlibHogDetector, DlibCnnDetector, HaarDetector, WholeImageDetector)}
ALIASES = {"auto": "dlib-hog,dlib-cnn"}


class DetectorChain:
    """Runs backends in order until one finds a face."""

    def __init__(self, spec: str = "auto"):
        names = [n.strip() for n in ALIASES.get(spec, spec).split(",") if n.strip()]
        unknown = [n for n in names if n not in BACKENDS]
        if not names or unknown:
            raise ValueError(f"unknown detector {spec!r}; choose from {sorted(BACKENDS) + sorted(ALIASES)} "
                             "or a comma-separated chain")
        self.spec = spec
        self.backends = [BACKENDS[n]() for n in names]

    def detect(self, gray: np.ndarray) -> list[FaceBox]:
        for backend in self.backends:
            boxes = backend.detect(gray)
            if boxes:
                return boxes
        return []

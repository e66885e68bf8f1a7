"""The methods ``expnet evaluate emotion`` compares: each turns images into expression features.

Every image is downscaled (area interpolation) to each scale before any method sees it; in the
default ``same-box`` mode the face box (the whole crop, or a detector's box at full scale) is
scaled with it, so the estimators are compared and not the detectors; in ``own-detector`` mode
each method runs its own detector on the downscaled image.

Features are scaled per component by the prior std of the expression basis (the coefficients are
whitened); an item where a method finds no face has no features (NaN) and counts as
misclassified. :mod:`expnet.evaluation.experiment` caches and scores them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from expnet.io.images import ImageError, downscale, load_image
from expnet.io.pools import worker_map


class FeatureExtractor:
    """One method's features for a list of images at one scale."""

    name = "base"

    def version(self) -> str:
        return "1"

    def extract(self, paths: list[str], scale: float, cropped: bool, own_detector: bool,
                progress: bool = True) -> np.ndarray:
        raise NotImplementedError


class ExpNetFeatures(FeatureExtractor):
    name = "expnet"

    def __init__(self, model: str | None = None):
        from expnet.inference.predictor import ExpNet, default_model_path
        self.model_path = Path(model) if model else default_model_path()
        self.net = ExpNet(self.model_path, detector="dlib-hog")
        self.detector = self.net.detector

    def version(self) -> str:
        return hashlib.sha1(self.model_path.read_bytes() + repr(self.net.crop_scales).encode()).hexdigest()[:12]

    @property
    def dim(self) -> int:
        return len(self.net.coder.expression_mean)

    def features(self, face) -> np.ndarray:
        """The whitened expression (the prior-std scaling of the protocol): the basis' ten and a
        model's extra components."""
        if face.expression_extra_normalized is None:
            return face.expression_normalized
        return np.concatenate([face.expression_normalized, face.expression_extra_normalized])

    def extract(self, paths, scale, cropped, own_detector, progress=True):
        from expnet.detection.boxes import FaceBox
        out = np.full((len(paths), self.dim), np.nan)
        batch: list[tuple[int, np.ndarray, FaceBox]] = []

        def flush():
            if batch:
                crops_, affines = zip(*(self.net.crop_faces(g, [b]) for _, g, b in batch))
                faces = self.net.decode(self.net.run_crops(np.concatenate(crops_)), [b for _, _, b in batch],
                                        np.concatenate(affines))
                for (i, _, _), face in zip(batch, faces):
                    out[i] = self.features(face)
                batch.clear()

        for i, path in enumerate(tqdm(paths, desc=f"expnet x{scale}", unit="img", disable=not progress)):
            box = face_box_at_scale(path, scale, cropped, own_detector, self.detector)
            if box is None:
                continue
            gray, b = box
            batch.append((i, gray, b))
            if len(batch) >= 64:
                flush()
        flush()
        return out


class ExpNetTenFeatures(ExpNetFeatures):
    """ExpNet's basis ten alone (for a model with extra components: do the ten keep their meaning?)."""

    name = "expnet-ten"

    def version(self) -> str:
        return "ten-" + super().version()

    @property
    def dim(self) -> int:
        return len(self.net.coder.expression_mean) - self.net.n_extra

    def features(self, face) -> np.ndarray:
        return face.expression_normalized


class LandmarkFitFeatures(FeatureExtractor):
    """The paper's DLIB baseline: dlib's 68 landmarks + the fit of Eq. 2 (ExpNet's teacher)."""

    name = "dlib-fit"
    landmarks = "dlib"
    own_detector_spec = "auto"   # the label pipeline's detector (also the same-box mode's, on full frames)

    def __init__(self):
        from expnet.face.model import FaceModel
        from expnet.teacher.fitting import FitConfig, LandmarkFitter
        self.model = FaceModel.load()
        self.fitter = LandmarkFitter(self.model.landmarks)
        self._config = FitConfig()

    def version(self) -> str:
        key = {**self._config.__dict__, "landmarks": self.landmarks, "detector": self.own_detector_spec}
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    def extract(self, paths, scale, cropped, own_detector, progress=True):
        # Detection and landmarks (single-threaded) run in one process per core.
        jobs = [(path, scale, cropped, own_detector) for path in paths]
        workers = min(os.cpu_count() or 1, max(1, len(paths) // 50))
        detector = self.own_detector_spec if own_detector else LandmarkFitFeatures.own_detector_spec
        results = list(tqdm(worker_map(_LandmarkWorker, (detector, self.landmarks), jobs, workers, chunksize=16,
                                       min_items=2),
                            total=len(paths), desc=f"{self.name} x{scale}", unit="img", disable=not progress))
        pts, rows = [], []
        for i, found in enumerate(results):
            if found is not None:
                pts.append(found)
                rows.append(i)
        out = np.full((len(paths), self.model.n_expression), np.nan)
        if pts:
            fit = self.fitter.fit(np.array(pts))
            out[rows] = (fit.expression - self.model.expression_mean) / self.model.expression_std
        return out


class MeshFitFeatures(LandmarkFitFeatures):
    """The second landmark baseline: FaceMesh's iBUG-compatible 68 points + the same fit. With
    ``@own`` it runs on BlazeFace boxes, the detector it was made with."""

    name = "mesh-fit"
    landmarks = "mesh"
    own_detector_spec = "blazeface"


class _LandmarkWorker:
    """Detection (or the scaled box) and 68 landmarks for one (path, scale, cropped, own) job."""

    def __init__(self, detector: str = "auto", landmarks: str = "dlib"):
        from expnet.detection.chain import DetectorChain
        self.detector = DetectorChain(detector)
        if landmarks == "dlib":
            from expnet.teacher.landmarks import DlibLandmarker
            self.predict = DlibLandmarker().predict
        else:
            from expnet.teacher.mesh_landmarks import FaceMeshLandmarker
            mesh = FaceMeshLandmarker()
            self.predict = lambda gray, box: mesh.predict68(gray, box)[0]

    def __call__(self, job):
        path, scale, cropped, own_detector = job
        box = face_box_at_scale(path, scale, cropped, own_detector, self.detector)
        return None if box is None else self.predict(*box)


class RawPixelFeatures(FeatureExtractor):
    """Reference row: the face crop as 32x32 grey pixels."""

    name = "raw-pixels"

    def extract(self, paths, scale, cropped, own_detector, progress=True):
        from expnet.detection.chain import DetectorChain
        from expnet.detection.crop import ENLARGE, crop
        detector = None if cropped else DetectorChain("dlib-hog")
        out = np.full((len(paths), 32 * 32), np.nan)
        for i, path in enumerate(tqdm(paths, desc=f"raw x{scale}", unit="img", disable=not progress)):
            box = face_box_at_scale(path, scale, cropped, own_detector, detector)
            if box is None:
                continue
            gray, b = box
            out[i] = crop(gray, b.as_array(), 32, enlarge=None if b.detector == "none" else ENLARGE)[0].ravel() / 255.0
        return out


def face_box_at_scale(path, scale, cropped, own_detector, detector):
    """(downscaled grey image, face box) or None when there is no face."""
    from expnet.detection.boxes import FaceBox
    try:
        full = load_image(path, "L")
    except ImageError:
        return None
    gray = downscale(full, scale)
    h, w = gray.shape
    if cropped and not own_detector:
        from expnet.detection.boxes import WholeImageDetector
        return gray, WholeImageDetector().detect(gray)[0]  # calibrated to the shared box convention
    if own_detector or detector is None:
        boxes = detector.detect(gray) if detector is not None else []
        return (gray, boxes[0]) if boxes else None
    # same-box mode on full frames: detect at full scale, scale the box with the image
    boxes = detector.detect(full)
    if not boxes:
        return None
    b = boxes[0]
    f_x, f_y = w / full.shape[1], h / full.shape[0]
    return gray, FaceBox(b.x0 * f_x, b.y0 * f_y, b.x1 * f_x, b.y1 * f_y, b.score, b.detector)


class FileFeatures(FeatureExtractor):
    """External features from an ``.npz`` with ``image`` (paths or file names) and ``features``."""

    name = "features"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        with np.load(self.path, allow_pickle=False) as d:
            if "image" not in d.files or "features" not in d.files:
                raise ValueError(f"{path} must hold arrays 'image' and 'features'")
            self.table = {str(k): v for k, v in zip(d["image"], d["features"])}
        self.name = f"features:{self.path.stem}"

    def version(self) -> str:
        return hashlib.sha1(self.path.read_bytes()).hexdigest()[:12]

    def extract(self, paths, scale, cropped, own_detector, progress=True):
        dim = len(next(iter(self.table.values())))
        out = np.full((len(paths), dim), np.nan)
        for i, p in enumerate(paths):
            v = self.table.get(p, self.table.get(Path(p).name))
            if v is not None:
                out[i] = v
        return out


# The methods by name (``majority`` needs no features: the protocol's floor); an external method
# is ``features:FILE.npz``, and a suffix ``@own`` makes any method run its own detector.
METHODS: dict[str, type[FeatureExtractor] | None] = {
    ExpNetFeatures.name: ExpNetFeatures, ExpNetTenFeatures.name: ExpNetTenFeatures,
    LandmarkFitFeatures.name: LandmarkFitFeatures,
    MeshFitFeatures.name: MeshFitFeatures,
    RawPixelFeatures.name: RawPixelFeatures, "majority": None}
# The report's rows: every method, and the teacher also with its own detector (the label pipeline).
# expnet-ten: the basis' ten of the expnet model alone (the same as expnet for a ten-component model).
DEFAULT_METHODS = ("expnet", "expnet-ten", "dlib-fit", "dlib-fit@own", "mesh-fit", "raw-pixels", "majority")


def make_method(name: str, model: str | None = None) -> FeatureExtractor | None:
    """The feature extractor called ``name`` (None for ``majority``); ``model`` is the ONNX file
    of the ``expnet`` method."""
    if name.startswith("features:"):
        return FileFeatures(name.split(":", 1)[1])
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)} or features:FILE.npz")
    cls = METHODS[name]
    if cls is None:
        return None
    return cls(model) if issubclass(cls, ExpNetFeatures) else cls()

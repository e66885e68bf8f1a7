"""The detector registry: every backend by name, aliases, and chains (``dlib-hog,dlib-cnn``: the
next backend runs only where the previous found nothing)."""

from __future__ import annotations

import numpy as np

from expnet.detection.blazeface import BlazeFaceDetector, BlazeFaceFullDetector
from expnet.detection.boxes import (
    Detector,
    DlibCnnDetector,
    DlibHogDetector,
    FaceBox,
    HaarDetector,
    WholeImageDetector,
)

BACKENDS: dict[str, type[Detector]] = {
    cls.name: cls for cls in (BlazeFaceDetector, BlazeFaceFullDetector, DlibHogDetector, DlibCnnDetector,
                              HaarDetector, WholeImageDetector)}
ALIASES = {"auto": "dlib-hog,dlib-cnn"}


def backend_names(spec: str) -> list[str]:
    """The backends of a detector spec (a name, an alias or a comma-separated chain), in order."""
    names = [n.strip() for n in ALIASES.get(spec, spec).split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if not names or unknown:
        raise ValueError(f"unknown detector {spec!r}; choose from {sorted(BACKENDS) + sorted(ALIASES)} "
                         "or a comma-separated chain")
    return names


def releases_gil(spec: str) -> bool:
    """Whether every backend of ``spec`` works outside Python's lock (threads then detect in
    parallel; chains with dlib's CNN need processes)."""
    return all(BACKENDS[n].releases_gil for n in backend_names(spec))


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
        names = backend_names(spec)
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

    @property
    def releases_gil(self) -> bool:
        return releases_gil(self.spec)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """The boxes of the first backend that finds a face (see :meth:`Detector.detect`)."""
        for backend in self.backends:
            boxes = backend.detect(image)
            if boxes:
                return boxes
        return []

"""Image -> face boxes -> the network's crops: the part of inference that needs no network.

:class:`FaceCropper` is what :class:`expnet.ExpNet` uses in its own process and what its worker
processes build for themselves (they decode, detect and crop while the main process runs the
network), so both cut exactly the same crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expnet.detection.boxes import FaceBox, WholeImageDetector
from expnet.detection.chain import DetectorChain
from expnet.detection.crop import ENLARGE, crop
from expnet.inference.results import ImagePrediction
from expnet.io.images import ImageError, as_rgb, load_image, to_gray

# Each face is cropped at these multiples of its box (same centre) and the network's outputs are
# averaged: for two independently trained networks this gained on nearly every emotion benchmark
# line (reports/experiments/test-time-augmentation.md) at three network passes per face.
CROP_SCALES = (0.94, 1.0, 1.06)


@dataclass
class PreparedImage:
    """One input ready for the network: its (still face-less) prediction, the boxes found, and
    ``K`` crops per face (``(B*K, S, S)``) with their image->crop affines (``(B*K, 2, 3)``)."""

    prediction: ImagePrediction
    boxes: list[FaceBox]
    crops: np.ndarray | None
    affines: np.ndarray | None


class FaceCropper:
    """Finds faces and cuts the network's crops.

    Parameters
    ----------
    detector : str or None
        A backend or chain of :mod:`expnet.detection.boxes`; ``None`` or ``"none"``: the inputs are
        face crops and the box is the calibrated whole image.
    input_size : int
        Side of the network's square crop, in pixels.
    enlarge : float
        Enlargement of the squared box (the paper's 1.25).
    max_faces : int or None
        Keep the N largest faces per image.
    crop_scales : sequence of float
        Box multiples cut per face (the network's outputs are averaged over them).
    min_score, min_face : float, optional
        Detector options (see :class:`expnet.detection.boxes.DetectorChain`).
    """

    def __init__(self, detector: str | None, input_size: int, enlarge: float = ENLARGE,
                 max_faces: int | None = None, crop_scales=CROP_SCALES, min_score: float | None = None,
                 min_face: float | None = None):
        self.detector_spec = detector if detector and detector != "none" else "none"
        self.detector_options = (min_score, min_face)
        self.detector = DetectorChain(self.detector_spec, min_score, min_face) if self.detector_spec != "none" else None
        self.input_size = int(input_size)
        self.enlarge = float(enlarge)
        self.max_faces = max_faces
        self.crop_scales = check_crop_scales(crop_scales)
        self._whole_image = WholeImageDetector()

    def settings(self) -> tuple:
        """The constructor's arguments, for building the same cropper in a worker process."""
        return (self.detector_spec, self.input_size, self.enlarge, self.max_faces, self.crop_scales,
                *self.detector_options)

    def find_faces(self, image: np.ndarray, boxes=None) -> list[FaceBox]:
        """User ``boxes`` (``FaceBox`` or ``(x0, y0, x1, y1)``) if given, else the detector's on
        ``image`` (grey, or RGB for detectors that use colour)."""
        if boxes is not None:
            return [b if isinstance(b, FaceBox) else FaceBox(float(b[0]), float(b[1]), float(b[2]), float(b[3]),
                                                             1.0, "user")
                    for b in boxes]
        if self.detector is None:  # the input is a face crop: its calibrated whole-image box
            return self._whole_image.detect(image)
        found = self.detector.detect(image)
        return found[: self.max_faces] if self.max_faces else found

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

    def __call__(self, job: tuple) -> PreparedImage:
        """``prepare(*job)``: one (image, boxes, color) job of a worker pool."""
        return self.prepare(*job)

    def prepare(self, image, boxes=None, color: str = "RGB") -> PreparedImage:
        """Decode (a path, or an array in the channel order ``color``), find the faces and crop
        them; a bad file or array gives a prediction with its ``error`` and no boxes."""
        name = str(image) if not isinstance(image, np.ndarray) else "<array>"
        colour = boxes is None and self.detector is not None and self.detector.uses_color
        try:
            if isinstance(image, np.ndarray):
                pixels = as_rgb(image, color)
            else:
                pixels = load_image(image, "RGB" if colour else "L")
            gray = to_gray(pixels)
        except (ImageError, ValueError) as exc:
            return PreparedImage(ImagePrediction(name, error=str(exc)), [], None, None)
        h, w = gray.shape
        faces = self.find_faces(pixels if colour and pixels.ndim == 3 else gray, boxes)
        crops, affines = self.crop_faces(gray, faces)
        return PreparedImage(ImagePrediction(name, w, h), faces, crops, affines)


def check_crop_scales(scales) -> tuple[float, ...]:
    """``scales`` as a tuple of floats in [0.5, 2], or a ValueError that says what is wrong."""
    try:
        out = tuple(float(k) for k in scales)
    except (TypeError, ValueError):
        raise ValueError(f"crop_scales must be a sequence of numbers; got {scales!r}") from None
    if not out or not all(np.isfinite(k) and 0.5 <= k <= 2.0 for k in out):
        raise ValueError(f"crop_scales must be one or more box multiples in [0.5, 2]; got {scales!r}")
    return out

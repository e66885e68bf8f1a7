"""The one box convention every stage shares: square the box on its centre, enlarge it, crop with
zero padding outside the image, resize. Training, inference and labelling all go through here.

Coordinates are pixel-index coordinates (the centre of the top-left pixel is (0, 0)), as in
OpenCV and dlib.
"""

from __future__ import annotations

import cv2
import numpy as np

ENLARGE = 1.25  # the paper's enlargement of the detector box


def square_box(box, enlarge: float = ENLARGE) -> np.ndarray:
    """``(x0, y0, x1, y1)`` -> the square box of side ``enlarge * max(w, h)`` on the same centre.

    Works on one box ``(4,)`` or a batch ``(B, 4)``.
    """
    box = np.asarray(box, dtype=np.float64)
    centre = (box[..., :2] + box[..., 2:]) / 2
    half = np.maximum(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1])[..., None] * enlarge / 2
    return np.concatenate([centre - half, centre + half], axis=-1)


def crop(image: np.ndarray, box, size: int, enlarge: float | None = ENLARGE
         ) -> tuple[np.ndarray, np.ndarray]:
    """Crop a face: square and enlarge ``box`` (``enlarge=None`` keeps it as given), zero-pad
    outside the image, resize to ``size`` x ``size``.

    Returns the crop and the 2x3 affine that maps image coordinates to crop coordinates.
    The square is cut at native resolution and then resized (area filter when shrinking), so a
    small face is not aliased.
    """
    square = square_box(box, enlarge) if enlarge else np.asarray(box, dtype=np.float64)
    x0, y0 = int(np.floor(square[0] + 0.5)), int(np.floor(square[1] + 0.5))
    side = max(int(round(max(square[2] - square[0], square[3] - square[1]))), 1)
    h, w = image.shape[:2]
    region = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    out = cv2.resize(region, (size, size), interpolation=interp)
    scale = size / side
    affine = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    return out, affine

"""The iBUG 68-point landmark scheme, by name: its size, the groups the code refers to by meaning,
and the left-right mirror order (for horizontally flipped images)."""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 68
JAW = np.arange(0, 17)
RIGHT_EYE = np.arange(36, 42)  # the subject's right eye, on the image's left
LEFT_EYE = np.arange(42, 48)

# Index of each point's mirror image (left <-> right).
MIRROR_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + list(range(35, 30, -1))
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + list(range(54, 47, -1)) + list(range(59, 54, -1)) + list(range(64, 59, -1)) + [67, 66, 65])


def mirror_landmarks(landmarks: np.ndarray, width) -> np.ndarray:
    """``(..., 68, 2)`` landmarks of an image flipped left-right (``gray[:, ::-1]``), in the iBUG
    order of the flipped face: pixel column x becomes width - 1 - x. ``width`` broadcasts over the
    leading dimensions."""
    out = np.asarray(landmarks, dtype=np.float64)[..., MIRROR_68, :].copy()
    out[..., 0] = np.asarray(width, dtype=np.float64)[..., None] - 1 - out[..., 0]
    return out


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the two eye centres of (B, 68, 2) landmarks."""
    return np.linalg.norm(landmarks[:, RIGHT_EYE].mean(1) - landmarks[:, LEFT_EYE].mean(1), axis=-1)

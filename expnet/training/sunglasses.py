"""Sunglasses drawn on training crops (``expnet train --sunglasses P``).

Real faces are covered where rendered views never are. A flat grey band over a random part of the
crop (``--occlude``) did not help the pose network read AFLW2000-3D's face behind sunglasses at
70.9 degrees of yaw: a band is not what glasses do to a turned head. Here dark lenses with a bridge
and temples sit in front of the face model's eyes in 3D and are projected with the crop's true pose,
so they foreshorten and turn with the head (and the near temple runs back to the ear) as real
glasses do. The label is untouched: the pose has to be read from the rest of the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from expnet.face.ibug68 import JAW, LEFT_EYE, N_LANDMARKS, RIGHT_EYE
from expnet.face.pose import project

LENS_POINTS = 24         # vertices of each lens outline
LENS_HALF_WIDTH = 0.9    # eye widths: a sunglasses lens, about 50 x 40 mm over a 30 mm eye,
LENS_HALF_HEIGHT = 0.7   # the two nearly meeting over the nose
LENS_FORWARD = 0.35      # lenses sit in front of the eyes (eye widths, model z)
FRAME_THICKNESS = 0.12   # bridge and temples, in eye widths


@dataclass(frozen=True)
class GlassesFrame:
    """A pair of glasses in face-model units, fitted to a face's 68 landmark points.

    Attributes
    ----------
    lenses : ndarray
        (2, LENS_POINTS, 3) lens outlines (the subject's right eye first).
    bridge : ndarray
        (2, 3) the lenses' inner edges.
    temples : ndarray
        (2, 2, 3) each side's outer lens edge and the ear (the jaw line's end).
    eye_width : float
        Model units; line thickness and random size are scaled by it.
    """

    lenses: np.ndarray
    bridge: np.ndarray
    temples: np.ndarray
    eye_width: float

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> GlassesFrame:
        """The frame for ``(68, 3)`` model points (e.g. the mean face's landmark vertices)."""
        points = np.asarray(points, dtype=np.float64)
        if points.shape != (N_LANDMARKS, 3):
            raise ValueError(f"landmark points must have shape ({N_LANDMARKS}, 3); got {points.shape}")
        eyes = np.stack([points[RIGHT_EYE], points[LEFT_EYE]])  # (2, 6, 3)
        width = float(np.mean(np.abs(eyes[:, 3, 0] - eyes[:, 0, 0])))  # corner to corner
        centre = eyes.mean(1)
        centre[:, 2] += LENS_FORWARD * width
        t = np.linspace(0, 2 * np.pi, LENS_POINTS, endpoint=False)
        ring = np.stack([LENS_HALF_WIDTH * np.cos(t), LENS_HALF_HEIGHT * np.sin(t), np.zeros_like(t)], -1) * width
        lenses = centre[:, None, :] + ring[None]
        # inner and outer edges along x; the subject's right eye lies at negative model x
        side = np.sign(centre[:, 0])
        inner = centre - side[:, None] * [LENS_HALF_WIDTH * width, 0, 0]
        outer = centre + side[:, None] * [LENS_HALF_WIDTH * width, 0, 0]
        ears = points[[JAW[0], JAW[-1]]].copy()
        ears[:, 1] = centre[:, 1]  # temples run level to the ears
        return cls(lenses=lenses, bridge=inner, temples=np.stack([outer, ears], 1), eye_width=width)


def draw_sunglasses(img: np.ndarray, rotation: np.ndarray, scale: float, translation: np.ndarray,
                    affine: np.ndarray, frame: GlassesFrame, rng: np.random.Generator) -> np.ndarray:
    """A copy of the grey crop ``img`` with sunglasses on the face whose pose (image space) is
    ``rotation``, ``scale``, ``translation`` and whose image -> crop affine is ``affine`` (2, 3).
    Size, height and darkness are drawn from ``rng``."""
    size = rng.uniform(0.9, 1.2)
    lift = rng.uniform(0.0, 0.25) * frame.eye_width  # up to the brows
    centre = frame.lenses.mean(1, keepdims=True)

    def to_crop(model_points: np.ndarray) -> np.ndarray:
        p = np.asarray(model_points, dtype=np.float64) + [0.0, lift, 0.0]
        image = project(p, rotation, scale, translation)
        return image @ affine[:, :2].T + affine[:, 2]

    lenses = to_crop(centre + (frame.lenses - centre) * size)
    px_per_unit = scale * np.sqrt(abs(np.linalg.det(affine[:, :2])))
    thick = max(int(round(FRAME_THICKNESS * frame.eye_width * px_per_unit)), 1)
    shade = float(rng.uniform(0, 70))
    out = np.ascontiguousarray(img, dtype=np.uint8).copy()
    cv2.fillPoly(out, list(np.round(lenses).astype(np.int32)), shade, lineType=cv2.LINE_AA)
    bridge = np.round(to_crop(frame.bridge)).astype(np.int32)
    cv2.line(out, tuple(bridge[0]), tuple(bridge[1]), shade, thick, lineType=cv2.LINE_AA)
    # a temple shows on a side turned towards the camera (its x axis pointing at the viewer; on a
    # frontal face both, running back past the cheeks)
    towards = rotation[2, 0] * np.sign(frame.temples[:, 0, 0])
    for k in np.flatnonzero(towards > -0.1):
        a, b = np.round(to_crop(frame.temples[k])).astype(np.int32)
        cv2.line(out, tuple(a), tuple(b), shade, thick, lineType=cv2.LINE_AA)
    return out

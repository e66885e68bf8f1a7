"""MediaPipe's FaceMesh network run on a face box: its 468 points and its face-presence
probability. The landmark backend (:mod:`expnet.teacher.mesh_landmarks`) uses the points; the BlazeFace
detector asks the presence output for a second opinion on faces it is unsure of (a network
trained for another task, on other data, errs elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from expnet.detection.crop import crop, square_box

N_MESH = 468
CONTEXT = 1.6   # crop side in box sides: FaceMesh was trained on faces with some surroundings


@dataclass
class MeshResult:
    points: np.ndarray   # (468, 3): x, y in image pixels, z in pixels (relative depth, towards the camera negative)
    presence: float      # probability that the crop holds a face


class FaceMesh:
    """``FaceMesh()(image, box, roll)`` -> :class:`MeshResult` for the face in ``box`` (x0, y0,
    x1, y1, the shared box convention) of a grey or RGB uint8 image. ``roll`` (degrees, the angle
    of the line from the face's right eye to its left eye in the image) turns the crop upright
    first, as MediaPipe runs FaceMesh (an unturned crop of a tilted face can score near 0)."""

    def __init__(self, threads: int = 1):
        from expnet.detection.mediapipe import TFLiteModel
        self.net = TFLiteModel("face_landmark.tflite", threads)
        self.size = self.net.size

    def __call__(self, image: np.ndarray, box, roll: float = 0.0) -> MeshResult:
        square = square_box(np.asarray(box, dtype=np.float64), 1.0)
        if roll:
            region, affine = _upright_crop(image, square, self.size, roll)
        else:
            region, affine = crop(image, square, self.size, enlarge=CONTEXT)
        if region.ndim == 2:
            region = np.repeat(region[..., None], 3, axis=2)
        outputs = self.net(region.astype(np.float32) / 255.0)
        points = next(o for o in outputs if o.size == 3 * N_MESH).reshape(N_MESH, 3).astype(np.float64)
        flag = float(next(o for o in outputs if o.size == 1).ravel()[0])
        back = cv2.invertAffineTransform(affine)
        points[:, :2] = points[:, :2] @ back[:, :2].T + back[:, 2]
        points[:, 2] /= np.sqrt(abs(np.linalg.det(affine[:, :2])))
        return MeshResult(points, float(1.0 / (1.0 + np.exp(-np.clip(flag, -50, 50)))))


def _upright_crop(image: np.ndarray, square: np.ndarray, size: int, roll: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``CONTEXT`` crop around ``square`` turned ``roll`` degrees counter-clockwise (as shown,
    y down), which levels an eye line at angle ``roll``, and the 2x3 affine from image to crop.
    The region is first cut axis-aligned with room for the turn (area-resampled like
    :func:`crop`), then turned about its centre."""
    room = int(np.ceil(size * np.sqrt(2) / 2)) * 2 - size  # even: the centre stays on the pixel grid
    wide, first = crop(image, square, size + room, enlarge=CONTEXT * (size + room) / size)
    centre = (size + room - 1) / 2
    turn = cv2.getRotationMatrix2D((centre, centre), roll, 1.0)
    turn[:, 2] -= room / 2
    out = cv2.warpAffine(wide, turn, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    affine = turn[:, :2] @ first
    affine[:, 2] += turn[:, 2]
    return out, affine

"""Faces across video frames: stable track ids, boxes that follow the face between detections,
and optional temporal smoothing of the coefficients.

- :class:`FaceTracker` assigns each frame's faces to tracks (box overlap and centre distance,
  solved with ``scipy.optimize.linear_sum_assignment``); a track ends after ``max_missed``
  frames without its face.
- :func:`box_from_prediction` re-centres a face's box on the 68 landmarks projected from its
  predicted 3D face (3DDFA_V2's video demo does the same with its landmarks), so that frames
  between detections need no detector.
- :class:`OneEuroFilter` (Casiez et al., CHI 2012) smooths a vector signal: little lag when it
  moves fast, strong smoothing when it holds still.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from expnet.detection.boxes import box_from_landmarks
from expnet.detection.mediapipe import box_iou
from expnet.face.model import LinearModel
from expnet.face.pose import project
from expnet.inference.results import FacePrediction


def box_from_prediction(face: FacePrediction, landmarks: LinearModel) -> np.ndarray:
    """The box (shared convention) of the 68 landmarks projected from a predicted face."""
    points = landmarks.vertices(face.shape, face.expression)
    pts = project(points[None], face.pose.rotation[None], np.array([face.pose.scale]),
                  face.pose.translation[None])[0]
    return box_from_landmarks(pts)


@dataclass
class Track:
    id: int
    box: np.ndarray
    last_frame: int
    frames: int = 1
    missed: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box change per frame
    measured: tuple[np.ndarray, int] | None = None  # the last detector box and its frame

    def predicted(self, frame: int) -> np.ndarray:
        """Where the box should be at ``frame``, moving as it did."""
        return self.box + self.velocity * (frame - self.last_frame)

    def move_to(self, box: np.ndarray, frame: int, measured: bool) -> None:
        """The face's box at ``frame``; the speed is learned from detector boxes only (a box that
        followed the face from its prediction would feed its own error back)."""
        if measured:
            if self.measured is not None and frame > self.measured[1]:
                step = (box - self.measured[0]) / (frame - self.measured[1])
                self.velocity = 0.5 * self.velocity + 0.5 * step if self.frames > 1 else step
            self.measured = (box, frame)
        self.box, self.last_frame, self.missed = box, frame, 0
        self.frames += 1


@dataclass
class FaceTracker:
    """Assigns face boxes to tracks, frame by frame.

    Parameters
    ----------
    min_iou : float
        A face continues a track only if its box overlaps the track's predicted box (its last box
        moved on at its recent speed) by this much, or its centre is within ``max_shift`` box
        sides of it.
    max_shift : float
        Largest centre distance, in box sides, for a face to continue a track.
    max_missed : int
        Frames without the face after which a track ends (a later face starts a new track).
    """

    min_iou: float = 0.2
    max_shift: float = 1.0
    max_missed: int = 15
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 0

    def update(self, frame: int, boxes: np.ndarray, measured: bool = True) -> list[int]:
        """The track id of each box (N, 4) of ``frame``; new tracks for unmatched boxes.
        ``measured``: the boxes come from the detector (not from following the faces)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        ids = [-1] * len(boxes)
        if self.tracks and len(boxes):
            cost = np.array([self._cost(t.predicted(frame), boxes) for t in self.tracks])  # (T, N)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < 1.0:  # 1.0 and above: no plausible match
                    self.tracks[r].move_to(boxes[c], frame, measured)
                    ids[c] = self.tracks[r].id
        for c in range(len(boxes)):
            if ids[c] < 0:
                first = (boxes[c], frame) if measured else None
                self.tracks.append(Track(self._next_id, boxes[c], frame, measured=first))
                ids[c] = self._next_id
                self._next_id += 1
        for track in self.tracks:
            if track.last_frame != frame:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return ids

    def _cost(self, box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """0 for the same box, below 1 for a plausible continuation, 1 and above otherwise."""
        side = max((box[2] - box[0] + box[3] - box[1]) / 2, 1e-6)
        shift = np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2 - (box[:2] + box[2:]) / 2, axis=1) / side
        iou = box_iou(box, boxes)
        plausible = (iou >= self.min_iou) | (shift <= self.max_shift)
        return np.where(plausible, (1 - iou) * 0.5 + np.minimum(shift / self.max_shift, 1) * 0.49, 1.0 + shift)


class OneEuroFilter:
    """The One-Euro filter on a vector signal sampled at ``rate`` Hz.

    The speed that opens the filter is the norm of the vector's rate of change, so that when an
    expression changes every component follows at once (a per-component speed would hold back
    the components that change little).

    Parameters
    ----------
    min_cutoff : float
        Cut-off frequency (Hz) when the signal holds still: lower smooths more.
    beta : float
        How fast the cut-off rises with the signal's speed: higher lags less on fast changes.
    d_cutoff : float
        Cut-off (Hz) of the speed estimate.
    """

    def __init__(self, rate: float, min_cutoff: float = 1.0, beta: float = 0.5, d_cutoff: float = 1.0):
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = float(rate), min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx = 0.0

    def __call__(self, x: np.ndarray, gap: int = 1) -> np.ndarray:
        """The filtered value of the next sample ``x``, ``gap`` frames after the previous one."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x = x.copy()
            return x.copy()
        rate = self.rate / max(gap, 1)
        speed = float(np.linalg.norm(x - self._x)) * rate
        a_d = 1.0 / (1.0 + rate / (2 * np.pi * self.d_cutoff))
        self._dx = a_d * speed + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * self._dx
        a = 1.0 / (1.0 + rate / (2 * np.pi * cutoff))
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()

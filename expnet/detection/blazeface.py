"""BlazeFace detector backends: MediaPipe's models over a pyramid of whole-image passes, with a
second look at unsure faces (the models themselves are in :mod:`expnet.detection.mediapipe`)."""

from __future__ import annotations

import numpy as np

from expnet.detection.boxes import Detector
from expnet.detection.facemesh import FaceMesh
from expnet.detection.mediapipe import BlazeFace, RawDetections, box_iou, weighted_nms


class BlazeFaceDetector(Detector):
    """MediaPipe's BlazeFace (short-range, 128 px input) over a pyramid of whole-image passes.

    The first pass letterboxes the whole image into the model's square and finds faces down to
    ``min_model_px / scale``. When faces down to ``min_face`` pixels are asked for and that pass
    cannot see them, finer passes follow, each ``level_ratio`` times the previous scale, down to
    the scale where a ``min_face`` face is ``min_model_px`` wide in the model's input. The
    short-range graph is fully convolutional, so a finer pass runs on the whole image at once: no
    tiles, no faces cut by tile edges, no input pixel seen twice (the full-range graph takes its
    own input size only: its finer passes are tiled). ``max_pixels`` bounds the finest
    pass on huge images (the smallest face found then grows). Detections of all passes are merged
    by MediaPipe's weighted non-maximum suppression. Score: the face probability.
    """

    name = "blazeface"
    uses_color = True       # scores on colour faces are clearly higher than on their grey copies
    releases_gil = True     # LiteRT and OpenCV release it (`expnet bench detectors`, two threads)
    default_min_score = 0.6
    candidate_score = 0.3   # the first look keeps candidates down to this ...
    sure_score = 0.75       # ... and those below this are decided by a second look
    mirror_look = True      # the second look averages the face's score with its mirror image's
    # An unsure face is also shown to FaceMesh (`mesh_look`), turned upright: its face-presence
    # probability below `mesh_veto` rules the face out, from `mesh_sure` keeps it; in between,
    # BlazeFace's second look decides. A network trained for another task errs elsewhere: smooth
    # colour blobs that pass BlazeFace's two looks score ~0 there, hard real faces ~1. A looser
    # `mesh_sure` lets false faces of faceless photos through (3 per 100 at 0.6, 1 at 0.9:
    # `python experiments/detector_tradeoffs.py`, which measures these settings).
    mesh_look = True
    mesh_veto = 0.05
    mesh_sure = 0.95
    margin = 0.25           # margin around small images (likely face crops), in image long sides
    crop_side = 256         # images up to this long side get the margin
    model = "short"
    min_side = 32
    # Face width (px in the model's input) the finest pass aims for: `expnet bench min-face --data
    # ../shared/data` (reports/benchmarks/min-face.json) found 24 of 25 lfw-expressions faces at
    # 14 px with the short-range model and all at 16.
    min_model_px = 14
    # The largest face one pass finds: the same benchmark on a 256 px input
    # (`short_range_reach_found_by_width_px`) found 24 of 25 at 80 px, 22 at 96, 18 at 112. Larger boxes
    # of a finer pass are dropped (false faces there are large boxes; a coarser pass sees such a
    # face well), and so are boxes below min_model_px of a coarser pass (the finer one sees them).
    max_model_px = 96
    # Scale step between passes: below 80 / min_model_px (5.7), so that their reaches overlap.
    level_ratio = 4.0

    def __init__(self, min_face: float = 40.0, max_pixels: int = 786_432, threads: int = 1, **kw):
        super().__init__(**kw)
        if not min_face > 0 or max_pixels < 16_384:
            raise ValueError(f"min_face must be positive and max_pixels at least 16384 (one 128 px input); "
                             f"got {min_face}, {max_pixels}")
        self.min_face, self.max_pixels = float(min_face), int(max_pixels)
        self._net = BlazeFace(self.model, threads)
        self._mesh = FaceMesh(threads) if self.mesh_look else None

    def scales(self, width: int, height: int) -> list[float]:
        """Input pixels per image pixel of each pass, coarsest (the letterboxed whole image) first."""
        whole = self._net.spec.input_size / max(width, height)
        finest = min(self.min_model_px / self.min_face, float(np.sqrt(self.max_pixels / (width * height))))
        if finest <= whole * 1.25:
            return [whole]
        n = int(np.ceil(np.log(finest / whole) / np.log(self.level_ratio)))
        return [whole * (finest / whole) ** (k / n) for k in range(n + 1)]

    def _detect(self, gray):
        h, w = gray.shape[:2]
        scales = self.scales(w, h)
        found = []
        for k, scale in enumerate(scales):
            d = self._whole(gray) if k == 0 else self._net.detect(gray, self.candidate_score, scale)
            side = scale * np.maximum(d.boxes[:, 2] - d.boxes[:, 0], d.boxes[:, 3] - d.boxes[:, 1])
            keep = ((side <= self.max_model_px) | (k == 0)) & ((side >= self.min_model_px) | (k == len(scales) - 1))
            found.append(d.select(keep))
        merged = weighted_nms(RawDetections.concat(found))
        scored = [(b, self._score(gray, b, first, eyes[:2]))
                  for b, first, eyes in zip(merged.boxes, merged.scores, merged.keypoints)]
        kept = _drop_contained([(b, s) for b, s in scored if s >= self.min_score])
        return kept or self._whole_crop(gray)

    def _whole_crop(self, gray) -> list[tuple[tuple, float]]:
        """A small image where BlazeFace kept nothing is likely a face crop that fills it (the
        hardest case for a detector trained on faces with surroundings): FaceMesh judges the whole
        image as the face box, and keeps it only when sure."""
        h, w = gray.shape[:2]
        if self._mesh is None or max(h, w) > self.crop_side:
            return []
        box = (0.0, 0.0, float(w - 1), float(h - 1))
        presence = self._mesh(gray, self.calibration.apply(*box)).presence
        return [(box, presence)] if presence >= self.mesh_sure else []

    def _score(self, gray, box, first: float, eyes: np.ndarray) -> float:
        """A sure first look stands. An unsure face is shown to FaceMesh (turned upright on the
        line between the eyes BlazeFace found), which decides alone when it is sure of a face
        (``mesh_sure``) or of none (``mesh_veto``); otherwise BlazeFace's second look decides."""
        if first >= self.sure_score:
            return float(first)
        if self._mesh is None:
            return self._verify(gray, box)
        roll = float(np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1])))
        presence = self._mesh(gray, self.calibration.apply(*box), roll).presence
        if presence < self.mesh_veto or presence >= self.mesh_sure:
            return presence
        return self._verify(gray, box)

    def _whole(self, gray):
        """The whole image, with a margin so that a face filling it (a crop) looks like a face in
        a photo to the model (it was trained on faces with surroundings)."""
        h, w = gray.shape[:2]
        pad = int(round(self.margin * max(h, w))) if max(h, w) <= self.crop_side else 0
        padded = np.zeros((h + 2 * pad, w + 2 * pad) + gray.shape[2:], np.uint8)
        padded[pad:pad + h, pad:pad + w] = gray
        d = self._net.detect(padded, self.candidate_score)
        d.boxes -= pad
        d.keypoints -= pad
        return d

    def _verify(self, gray, box) -> float:
        """The candidate's score when the model looks again at it alone, at the scale it finds
        faces best (the face half the input's width), averaged with its mirror image's: false
        candidates of a low-resolution pass rarely survive this, true faces gain. (The mirror took
        false faces on the faceless images of `expnet bench detectors` from 2 to 0 per 100:
        `experiments/detector_tradeoffs.py`.)"""
        centre, side = (box[:2] + box[2:]) / 2, 2.0 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = np.floor(centre - side / 2).astype(int)
        s = int(np.ceil(side))
        h, w = gray.shape[:2]
        region = np.zeros((s, s) + gray.shape[2:], np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
        if sx1 <= sx0 or sy1 <= sy0:
            return 0.0
        region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = gray[sy0:sy1, sx0:sx1]
        local = np.asarray(box, dtype=np.float64) - [x0, y0, x0, y0]
        views = [(region, local)]
        if self.mirror_look:
            views.append((np.ascontiguousarray(region[:, ::-1]), np.array([s - local[2], local[1], s - local[0],
                                                                          local[3]])))
        scores = []
        for view, b in views:
            d = self._net.detect(view, 0.0)
            overlap = box_iou(b, d.boxes) if len(d.scores) else np.zeros(0)
            scores.append(float(d.scores[overlap > 0.3].max()) if (overlap > 0.3).any() else 0.0)
        return float(np.mean(scores))


def _drop_contained(found: list[tuple[np.ndarray, float]], limit: float = 0.5) -> list[tuple[tuple, float]]:
    """Drop a box that lies mostly (``limit`` of its area) inside a larger, surer kept box: a fine
    pass' view of part of a face (an eye region) that the overlap test of the NMS lets through. A
    surer face inside a doubtful large box stays (a coarse pass' false box can cover real faces)."""
    kept: list[tuple[np.ndarray, float]] = []
    for box, score in sorted(found, key=lambda bs: -(bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1])):
        area = (box[2] - box[0]) * (box[3] - box[1])
        inside = [np.prod(np.clip(np.minimum(box[2:], k[2:]) - np.maximum(box[:2], k[:2]), 0, None)) / area
                  for k, s in kept if s >= score]
        if max(inside, default=0.0) < limit:
            kept.append((box, score))
    return [(tuple(b), s) for b, s in kept]


class BlazeFaceFullDetector(BlazeFaceDetector):
    """BlazeFace's full-range model (192 px input; made for faces farther from the camera)."""

    name = "blazeface-full"
    model = "full"
    min_model_px = 20  # the same benchmark: 68% found at 20 px, 92% at 24: its reach is weaker

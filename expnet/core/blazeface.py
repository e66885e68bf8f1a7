"""BlazeFace detector backends: MediaPipe's models over a pyramid of tiles, with a second look at
unsure faces (the models themselves are in :mod:`expnet.core.mediapipe`)."""

from __future__ import annotations

import numpy as np

from expnet.core.detection import Detector


class BlazeFaceDetector(Detector):
    """MediaPipe's BlazeFace (short-range, 128 px input) over a pyramid of tiles.

    One letterboxed pass over the whole image finds faces down to ``min_model_px / scale``; when
    faces down to ``min_face`` pixels are asked for and the whole pass cannot see them, the image
    is also cut into overlapping square tiles at the scale where a ``min_face`` face is
    ``min_model_px`` wide in the model's input (overlap: the smallest face the whole pass finds,
    so that no face falls between the two). Detections cut by a tile's inner edge are dropped
    (their whole face is in a neighbouring tile or the whole pass) and the rest merged by
    MediaPipe's weighted non-maximum suppression. ``max_tiles`` bounds the work on huge images
    (the smallest face found then grows). Score: the face probability.
    """

    name = "blazeface"
    uses_color = True       # scores on colour faces are clearly higher than on their grey copies
    default_min_score = 0.6
    candidate_score = 0.3   # the first look keeps candidates down to this ...
    sure_score = 0.75       # ... and those below this are decided by a second look
    margin = 0.25           # margin around small images (likely face crops), in image long sides
    crop_side = 256         # images up to this long side get the margin
    model = "short"
    min_side = 32
    # Face width (px in the model's input) the tiles aim for: `expnet bench min-face --data
    # ../shared/data` (reports/benchmarks/min-face.json) found 24 of 25 lfw-expressions faces at
    # 14 px with the short-range model and all at 16.
    min_model_px = 14

    def __init__(self, min_face: float = 40.0, max_tiles: int = 48, threads: int = 1, **kw):
        super().__init__(**kw)
        from expnet.core.mediapipe import BlazeFace
        if not min_face > 0 or max_tiles < 1:
            raise ValueError(f"min_face must be positive and max_tiles at least 1; got {min_face}, {max_tiles}")
        self.min_face, self.max_tiles = float(min_face), int(max_tiles)
        self._net = BlazeFace(self.model, threads)

    def tiles(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The tiles (x0, y0, x1, y1) searched besides the whole image (none when it suffices)."""
        size = self._net.spec.input_size
        seen = self.min_model_px * max(width, height) / size  # smallest face of the whole pass
        if seen <= self.min_face * 1.25:
            return []
        side = size * self.min_face / self.min_model_px
        while True:
            overlap = min(seen, side / 2)
            nx = max(1, int(np.ceil((width - overlap) / (side - overlap))))
            ny = max(1, int(np.ceil((height - overlap) / (side - overlap))))
            if nx * ny <= self.max_tiles:
                break
            side *= 1.25
        xs = np.linspace(0, max(width - side, 0), nx).round().astype(int)
        ys = np.linspace(0, max(height - side, 0), ny).round().astype(int)
        t = int(round(side))
        return [(x, y, min(x + t, width), min(y + t, height)) for y in ys for x in xs]

    def _detect(self, gray):
        from expnet.core.mediapipe import RawDetections, weighted_nms
        h, w = gray.shape[:2]
        found = [self._whole(gray)]
        for x0, y0, x1, y1 in self.tiles(w, h):
            d = self._net.detect(gray[y0:y1, x0:x1], self.candidate_score)
            d.boxes += [x0, y0, x0, y0]
            d.keypoints += [x0, y0]
            # a box that reaches an inner edge of the tile shows part of a face: drop it
            inner = np.array([x0 > 0, y0 > 0, x1 < w, y1 < h])
            margin = 0.02 * (x1 - x0)
            cut = ((d.boxes[:, :2] < np.array([x0, y0]) + margin) & inner[:2]).any(1) | (
                (d.boxes[:, 2:] > np.array([x1, y1]) - margin) & inner[2:]).any(1)
            found.append(RawDetections(d.boxes[~cut], d.scores[~cut], d.keypoints[~cut]))
        merged = weighted_nms(RawDetections(np.concatenate([d.boxes for d in found]),
                                            np.concatenate([d.scores for d in found]),
                                            np.concatenate([d.keypoints for d in found])))
        scored = [(b, self._score(gray, b, first)) for b, first in zip(merged.boxes, merged.scores)]
        return _drop_contained([(b, s) for b, s in scored if s >= self.min_score])

    def _score(self, gray, box, first: float) -> float:
        """A sure first look stands; an unsure one is decided by a second look."""
        return float(first) if first >= self.sure_score else self._verify(gray, box)

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
        faces best (the face half the input's width): false candidates of a low-resolution tile
        rarely survive this, true faces gain."""
        from expnet.core.mediapipe import box_iou
        centre, side = (box[:2] + box[2:]) / 2, 2.0 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = np.floor(centre - side / 2).astype(int)
        s = int(np.ceil(side))
        h, w = gray.shape[:2]
        region = np.zeros((s, s) + gray.shape[2:], np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
        if sx1 <= sx0 or sy1 <= sy0:
            return 0.0
        region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = gray[sy0:sy1, sx0:sx1]
        d = self._net.detect(region, 0.0)
        if not len(d.scores):
            return 0.0
        overlap = box_iou(np.asarray(box, dtype=np.float64) - [x0, y0, x0, y0], d.boxes)
        return float(d.scores[overlap > 0.3].max()) if (overlap > 0.3).any() else 0.0


def _drop_contained(found: list[tuple[np.ndarray, float]], limit: float = 0.5) -> list[tuple[tuple, float]]:
    """Drop a box that lies mostly (``limit`` of its area) inside a larger kept box: a tile's
    view of part of a face (an eye region) that the overlap test of the NMS lets through."""
    kept: list[tuple[np.ndarray, float]] = []
    for box, score in sorted(found, key=lambda bs: -(bs[0][2] - bs[0][0]) * (bs[0][3] - bs[0][1])):
        area = (box[2] - box[0]) * (box[3] - box[1])
        inside = [np.prod(np.clip(np.minimum(box[2:], k[2:]) - np.maximum(box[:2], k[:2]), 0, None)) / area
                  for k, _ in kept]
        if max(inside, default=0.0) < limit:
            kept.append((box, score))
    return [(tuple(b), s) for b, s in kept]


class BlazeFaceFullDetector(BlazeFaceDetector):
    """BlazeFace's full-range model (192 px input; made for faces farther from the camera)."""

    name = "blazeface-full"
    model = "full"
    min_model_px = 20  # the same benchmark: 68% found at 20 px, 92% at 24: its reach is weaker

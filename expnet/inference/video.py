"""Videos, cameras and streams through the predictor: per-frame predictions with tracked faces,
optional smoothing, and per-track clip means (the paper's EmotiW protocol averages per-frame
coefficients over a clip).

A source is a video file, a camera index (``0``) or a stream URL (``rtsp://``, ``http://``),
read through OpenCV. Faces are detected every ``detect_every`` frames (and whenever no face is
tracked); in between, each tracked face's box follows the face from its previous prediction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.inference.predictor import ExpNet
from expnet.inference.results import FacePrediction, ImagePrediction
from expnet.inference.tracking import FaceTracker, OneEuroFilter, box_from_prediction
from expnet.io.inputs import is_stream, is_video

CUT_LEVEL = 12.0  # mean grey-level change of a frame's thumbnail that marks a new shot
DEFAULT_FPS = 30.0  # the frame rate assumed where a source does not say (cameras, streams, odd files)
DETECT_EVERY = 5    # frames between detections; in between, tracked faces' boxes follow them


def is_live(source: str | int | Path) -> bool:
    """A camera index or a stream URL: frames come as they arrive, with no known count."""
    return isinstance(source, int) or (isinstance(source, str) and (source.isdigit() or is_stream(source)))


def frame_of(key: str) -> str | None:
    """The video of a per-frame row key ``<video>#<frame>``, or None for other rows."""
    video, _, frame = key.rpartition("#")
    return video if video and frame.isdigit() and (is_video(video) or is_live(video)) else None


@dataclass
class ClipSummary:
    """The per-clip row of a video (``track`` None), or of one track of it."""

    video: str
    frames: int
    frames_with_face: int
    expression_mean: np.ndarray | None
    expression_normalized_mean: np.ndarray | None
    error: str | None = None
    track: int | None = None

    def to_dict(self) -> dict:
        r = lambda a: None if a is None else np.round(a, 5).tolist()  # noqa: E731
        return {"image": self.video, "clip": True, **({"track": self.track} if self.track is not None else {}),
                "frames": self.frames, "frames_with_face": self.frames_with_face,
                "expression_mean": r(self.expression_mean),
                "expression_normalized_mean": r(self.expression_normalized_mean), "error": self.error}


def _capture(source):
    import cv2
    cap = cv2.VideoCapture(int(source) if isinstance(source, str) and source.isdigit() else
                           source if isinstance(source, int) else str(source))
    if not cap.isOpened():
        raise ValueError(f"{source} cannot be opened as a video")
    return cap


def video_info(source) -> tuple[int, float]:
    """(frame count, frames per second) of a video; (0, fps) for live sources or when unknown."""
    import cv2
    cap = _capture(source)
    try:
        count = 0 if is_live(source) else int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return count, fps if 1.0 <= fps <= 1000.0 else DEFAULT_FPS
    finally:
        cap.release()


class _StopOnCtrlC:
    """While active (main thread only), Ctrl-C sets :attr:`stopped` instead of raising, so that a
    live source ends at the next frame boundary wherever the signal lands (reading, detecting or
    writing a row) and the rows written so far are complete."""

    def __init__(self):
        self.stopped = False
        self._previous = None

    def __enter__(self):
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._stop)
        return self

    def _stop(self, signum, frame) -> None:
        self.stopped = True

    def __exit__(self, *exc) -> bool:
        import signal
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def read_frames(source, every: int = 1, max_failures: int = 25) -> Iterator[tuple[int, np.ndarray | None]]:
    """(index, RGB frame) pairs; a frame that cannot be decoded comes as (index, None). A live
    source ends on Ctrl-C or when it closes; the frames read so far stand."""
    cap = _capture(source)
    live = is_live(source)
    import cv2
    total = 0 if live else int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    ctrl_c = _StopOnCtrlC()
    try:
        with ctrl_c if live else nullcontext():
            yield from _frames(cap, ctrl_c, live, total, every, max_failures)
    finally:
        cap.release()


def _frames(cap, ctrl_c: _StopOnCtrlC, live: bool, total: int, every: int, max_failures: int):
    """The frames of an open capture, until it ends or (live sources) Ctrl-C stops it."""
    index, failures = 0, 0
    while not ctrl_c.stopped:
        ok = cap.grab()
        if not ok:
            # Past the end, or a broken frame: skip it unless the stream is really over.
            failures += 1
            if live or total <= 0 or index >= total - 1 or failures > max_failures:
                return
            yield index, None
            index += 1
            continue
        failures = 0
        if index % every == 0:
            ok, frame = cap.retrieve()
            good = ok and frame is not None and frame.ndim == 3 and frame.size > 0
            yield index, (np.ascontiguousarray(frame[..., ::-1]) if good else None)
        index += 1


class VideoPredictor:
    """Tracked, optionally smoothed predictions for the frames of one source.

    Parameters
    ----------
    net : ExpNet
        The predictor (its detector finds faces on detection frames).
    detect_every : int
        Run the detector every N-th processed frame (1: every frame, no box following).
    smooth : bool
        Add One-Euro-filtered expression and angles to each face (``smoothed``); raw values stay.
    rate : float
        Processed frames per second (for the filter).
    max_faces : int, optional
        Faces followed per frame, largest first.
    """

    def __init__(self, net: ExpNet, detect_every: int = DETECT_EVERY, smooth: bool = False, rate: float = DEFAULT_FPS,
                 max_faces: int | None = None, min_cutoff: float = 0.1, beta: float = 0.3, d_cutoff: float = 10.0):
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {detect_every}")
        self.net, self.detect_every, self.smooth, self.rate = net, detect_every, smooth, rate
        self.max_faces = max_faces
        self.tracker = FaceTracker()
        self.landmarks = net.landmark_model
        self._filters: dict[int, tuple[tuple[OneEuroFilter, OneEuroFilter], int]] = {}
        self._cutoff = (min_cutoff, beta, d_cutoff)  # chosen on the stability and cut videos of `expnet bench video`
        self._last: dict[int, FacePrediction] = {}
        self._count = 0
        self._thumb: np.ndarray | None = None

    def __call__(self, index: int, frame: np.ndarray, name: str) -> ImagePrediction:
        h, w = frame.shape[:2]
        if self._cut(frame):  # a new shot: the faces may be elsewhere, detect now
            self._count = 0
        follow = list(self._last.items()) if self._count % self.detect_every else []
        keep: list[np.ndarray] = []
        if follow:  # boxes that follow the faces: their previous prediction, moved on at the track's speed
            # half the face's own prediction, half the detector's last box moved on at the track's
            # speed: the network alone can drift on faces it localises poorly
            tracks = {t.id: t for t in self.tracker.tracks}
            boxes = []
            for track, f in follow:
                t = tracks.get(track)
                own = box_from_prediction(f, self.landmarks)
                if t is None or t.measured is None:
                    boxes.append(own)
                    continue
                moved = t.measured[0] + t.velocity * (index - t.measured[1])
                boxes.append(0.5 * (own + t.velocity) + 0.5 * moved)
            keep = [b for b in boxes if _inside(b, w, h)]
        measured = not keep
        if measured:
            pred = self.net.predict(frame)
        else:
            pred = self.net.predict(frame, boxes=keep)
            for face in pred.faces:
                face.detector = "track"
        self._count += 1
        pred.image = f"{name}#{index}"
        if self.max_faces:
            pred.faces = pred.faces[: self.max_faces]
        ids = self.tracker.update(index, np.array([f.box for f in pred.faces]), measured=measured)
        self._last = {}
        for face, track in zip(pred.faces, ids):
            face.track = track
            self._last[track] = face
            if self.smooth:
                face.smoothed = self._smoothed(face, track, index)
        if not pred.faces:
            self._count = 0  # nothing to follow: detect on the next frame
        return pred

    def _cut(self, frame: np.ndarray) -> bool:
        """Whether ``frame`` starts a new shot: its 32x24 thumbnail differs from the previous
        frame's by more than ``CUT_LEVEL`` grey levels on average."""
        import cv2
        thumb = cv2.resize(frame, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
        previous, self._thumb = self._thumb, thumb
        return previous is not None and float(np.abs(thumb - previous).mean()) > CUT_LEVEL

    def _smoothed(self, face: FacePrediction, track: int, index: int) -> dict:
        """The face's whitened expression and angles through its track's filters (one for the
        expression, one for the angles: their units differ)."""
        if track not in self._filters:
            self._filters[track] = ((OneEuroFilter(self.rate, *self._cutoff), OneEuroFilter(self.rate, *self._cutoff)),
                                    index)
        (f_exp, f_ang), last = self._filters[track]
        gap = max(index - last, 1)
        expression = f_exp(face.expression_normalized, gap)
        pitch, yaw, roll = f_ang(np.r_[face.pose.pitch, face.pose.yaw, face.pose.roll], gap)
        self._filters[track] = ((f_exp, f_ang), index)
        return {"expression": np.round(self.net.coder.decode_expression(expression), 5).tolist(),
                "expression_normalized": np.round(expression, 5).tolist(),
                "pitch": round(float(pitch), 3), "yaw": round(float(yaw), 3), "roll": round(float(roll), 3)}


def _inside(box: np.ndarray, width: int, height: int) -> bool:
    """A followed box still on the image and of a plausible size."""
    side = box[2] - box[0]
    return bool(side >= 8 and box[2] > 0 and box[3] > 0 and box[0] < width and box[1] < height)


def predict_video(net: ExpNet, source, every: int = 1, progress: bool = False, detect_every: int = DETECT_EVERY,
                  smooth: bool = False, max_faces: int | None = None
                  ) -> Iterator[ImagePrediction | ClipSummary]:
    """Per-frame predictions (``"<source>#<frame>"``, faces with track ids), then one clip row per
    track and the clip row of the whole video. Frames are processed as they are read, so a long
    video or a live stream never sits in memory; ``progress`` shows a bar in frames.

    Raises ValueError when the source cannot be opened (before any row)."""
    from tqdm import tqdm
    total, fps = video_info(source)
    name = str(source)
    frames = VideoPredictor(net, detect_every, smooth, fps / every, max_faces)
    per_track: dict[int, list[FacePrediction]] = {}
    exps, norms, n_frames = [], [], 0
    bar = tqdm(total=(total + every - 1) // every if total else None, unit="frame", desc=Path(name).name,
               disable=not progress, leave=False)
    for index, frame in read_frames(source, every):
        n_frames += 1
        bar.update()
        if frame is None:
            yield ImagePrediction(f"{name}#{index}", error="frame could not be decoded")
            continue
        pred = frames(index, frame, name)
        if pred.faces:
            exps.append(pred.faces[0].expression)
            norms.append(pred.faces[0].expression_normalized)
        for face in pred.faces:
            per_track.setdefault(face.track, []).append(face)
        yield pred
    bar.close()
    for track, faces in sorted(per_track.items()):
        yield ClipSummary(name, n_frames, len(faces), np.mean([f.expression for f in faces], 0),
                          np.mean([f.expression_normalized for f in faces], 0), track=track)
    yield ClipSummary(name, n_frames, len(exps),
                      np.mean(exps, 0) if exps else None, np.mean(norms, 0) if norms else None,
                      None if n_frames else "no frames could be read")

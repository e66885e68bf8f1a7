"""Videos through the predictor: per-frame predictions and the per-clip mean (the paper's EmotiW
protocol averages per-frame coefficients over a clip)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.inference.predictor import ExpNet, ImagePrediction


@dataclass
class ClipSummary:
    video: str
    frames: int
    frames_with_face: int
    expression_mean: np.ndarray | None
    expression_normalized_mean: np.ndarray | None
    error: str | None = None

    def to_dict(self) -> dict:
        r = lambda a: None if a is None else np.round(a, 5).tolist()  # noqa: E731
        return {"image": self.video, "clip": True, "frames": self.frames,
                "frames_with_face": self.frames_with_face, "expression_mean": r(self.expression_mean),
                "expression_normalized_mean": r(self.expression_normalized_mean), "error": self.error}


def frame_count(path: str | Path) -> int:
    """The container's frame count (0 when it does not say)."""
    import cv2
    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if cap.isOpened() else 0
    finally:
        cap.release()


def read_frames(path: str | Path, every: int = 1, max_failures: int = 25) -> Iterator[tuple[int, np.ndarray | None]]:
    """(index, RGB frame) pairs; a frame that cannot be decoded comes as (index, None)."""
    import cv2
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path} cannot be opened as a video")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    index, failures = 0, 0
    try:
        while True:
            ok = cap.grab()
            if not ok:
                # Past the end, or a broken frame: skip it unless the stream is really over.
                failures += 1
                if total <= 0 or index >= total - 1 or failures > max_failures:
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
    finally:
        cap.release()


def predict_video(net: ExpNet, path: str | Path, every: int = 1, chunk: int = 32, progress: bool = False
                  ) -> Iterator[ImagePrediction | ClipSummary]:
    """Per-frame predictions (largest face per frame), then the clip summary. Frames are
    streamed in chunks, so a long video never sits in memory; ``progress`` shows a bar in frames.

    Raises ValueError when the file cannot be opened as a video (before any row)."""
    from tqdm import tqdm
    exps, norms, n_frames = [], [], 0
    total = frame_count(path)
    bar = tqdm(total=(total + every - 1) // every if total else None, unit="frame", desc=Path(path).name,
               disable=not progress, leave=False)

    def run(buffer):
        good = [(i, f) for i, f in buffer if f is not None]
        preds = dict(zip([i for i, _ in good], net.predict_many([f for _, f in good])))
        for i, frame in buffer:
            if frame is None:
                yield ImagePrediction(f"{path}#{i}", error="frame could not be decoded")
                continue
            p = preds[i]
            p.image = f"{path}#{i}"
            if p.faces:
                exps.append(p.faces[0].expression)
                norms.append(p.faces[0].expression_normalized)
            yield p

    buffer = []
    for item in read_frames(path, every):
        buffer.append(item)
        n_frames += 1
        if len(buffer) >= chunk:
            yield from run(buffer)
            bar.update(len(buffer))
            buffer = []
    yield from run(buffer)
    bar.update(len(buffer))
    bar.close()
    yield ClipSummary(str(path), n_frames, len(exps),
                      np.mean(exps, 0) if exps else None, np.mean(norms, 0) if norms else None,
                      None if n_frames else "no frames could be read")

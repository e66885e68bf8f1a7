"""``expnet predict`` as a library function: images and videos through :class:`ExpNet` into a
:class:`PredictionWriter`, every input a row (bad files and unopenable videos included), resumable
without duplicates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from expnet.inference.outputs import PredictionWriter
from expnet.inference.predictor import ExpNet
from expnet.inference.results import ImagePrediction
from expnet.inference.video import ClipSummary, is_live, predict_video
from expnet.io.inputs import is_video
from expnet.io.summary import JobSummary


def predict_inputs(net: ExpNet, inputs: list, writer: PredictionWriter,
                   boxes: dict[str, list] | None = None, batch_size: int = 64, workers: int = 1, every: int = 1,
                   on_image: Callable[[ImagePrediction], None] | None = None, progress: bool = True,
                   detect_every: int = 5, smooth: bool = False,
                   on_frame: Callable[[ImagePrediction | ClipSummary], None] | None = None) -> JobSummary:
    """Predict every input not yet in ``writer.done``; returns the writer's summary.

    Parameters
    ----------
    inputs : list
        Image and video paths (by suffix, e.g. from :func:`expnet.io.inputs.discover`), camera
        indices and stream URLs (strings).
    boxes : dict, optional
        User face boxes by image path or file name (images only; the detector is not run).
    every : int
        Videos: every N-th frame.
    on_image : callable, optional
        Called with each image's prediction after it is written (e.g. to render it).
    detect_every, smooth :
        Videos: detection interval (box following between) and One-Euro smoothing.
    on_frame : callable, optional
        Called with each video row after it is written (e.g. to collect time series).
    """
    streams = [p for p in inputs if isinstance(p, (str, int)) and is_live(p)]
    files = [Path(p) for p in inputs if p not in streams]
    images = [p for p in files if not is_video(p) and str(p) not in writer.done]
    videos = [p for p in files if is_video(p) and str(p) not in writer.done] + streams
    per_image = None
    if boxes is not None:
        per_image = [boxes.get(str(p), boxes.get(p.name, [])) for p in images]
    bar = tqdm(total=len(images), unit="img", desc="predict", disable=not progress or not images)
    for pred in net.predict_many(images, per_image, batch_size=batch_size, workers=workers):
        writer.write(pred)
        if on_image is not None:
            on_image(pred)
        bar.update()
    bar.close()
    for video in videos:
        try:
            for item in predict_video(net, video, every=every, progress=progress, detect_every=detect_every,
                                      smooth=smooth):
                writer.write(item)
                if on_frame is not None:
                    on_frame(item)
        except (ValueError, OSError) as exc:  # cannot be opened, or broke mid-stream: its row says so
            writer.write(ClipSummary(str(video), 0, 0, None, None, str(exc)))
    return writer.summary

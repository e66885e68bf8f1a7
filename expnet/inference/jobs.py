"""``expnet predict`` as a library function: images and videos through :class:`ExpNet` into a
:class:`PredictionWriter`, every input a row (bad files and unopenable videos included), resumable
without duplicates.

:class:`PredictOptions` is the one description of a predict job: the command line takes its
defaults from it, the local engine (:func:`run_predict`) and the Ray engine's actors
(:mod:`expnet.cluster.predict`) build their predictors from it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from expnet.detection.chain import releases_gil
from expnet.inference.cropper import CROP_SCALES
from expnet.inference.outputs import PredictionWriter
from expnet.inference.predictor import DEFAULT_DETECTOR, ExpNet
from expnet.inference.results import ImagePrediction
from expnet.inference.video import DETECT_EVERY, ClipSummary, is_live, predict_video
from expnet.io.inputs import is_video
from expnet.io.summary import JobSummary, interruptible

BATCH_SIZE = 64  # faces per network batch: onnxruntime's throughput levels off about here


@dataclass(frozen=True)
class PredictOptions:
    """What a predict job runs with: the predictor and the job around it.

    Attributes
    ----------
    model : str, optional
        An ONNX model (default: the shipped one).
    detector : str, optional
        A backend or chain; None or ``"none"``: the inputs are face crops.
    max_faces, crop_scales, min_score, min_face :
        See :class:`expnet.ExpNet`.
    threads : int, optional
        onnxruntime threads (default: all cores, or one beside worker threads).
    batch_size : int
        Faces per network batch.
    workers : int, optional
        Threads (detectors that release Python's lock) or processes (dlib's CNN) that decode,
        detect and crop beside the network (default: one thread per core; one process).
    every, detect_every, smooth :
        Videos: every N-th frame; detection interval; One-Euro smoothing.
    """

    model: str | None = None
    detector: str | None = DEFAULT_DETECTOR
    max_faces: int | None = None
    crop_scales: tuple[float, ...] = CROP_SCALES
    min_score: float | None = None
    min_face: float | None = None
    threads: int | None = None
    batch_size: int = BATCH_SIZE
    workers: int | None = None
    every: int = 1
    detect_every: int = DETECT_EVERY
    smooth: bool = False

    def __post_init__(self):
        if self.detector == "none":
            object.__setattr__(self, "detector", None)
        for name in ("batch_size", "every", "detect_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers!r}")

    def worker_count(self) -> int:
        """Workers beside the network: as asked, else one thread per core where the detector
        releases Python's lock (threads cost nothing to start), else one (processes for dlib's CNN
        are worth starting only when asked for)."""
        if self.workers:
            return self.workers
        threaded = self.detector is None or releases_gil(self.detector)
        return (os.cpu_count() or 1) if threaded else 1

    def predictor(self, threads: int | None = None) -> ExpNet:
        """The :class:`ExpNet` these options describe (``threads`` overrides theirs)."""
        threads = threads or self.threads or (1 if self.worker_count() > 1 else None)
        return ExpNet(self.model, detector=self.detector, threads=threads, max_faces=self.max_faces,
                      crop_scales=self.crop_scales, min_score=self.min_score, min_face=self.min_face)

    def with_one_crop(self, one_crop: bool) -> PredictOptions:
        return replace(self, crop_scales=(1.0,)) if one_crop else self


def run_predict(options: PredictOptions, inputs: list, output: str | os.PathLike | None,
                boxes: dict[str, list] | None = None, net: ExpNet | None = None,
                on_image: Callable[[ImagePrediction], None] | None = None, series: str | os.PathLike | None = None,
                progress: bool = True) -> JobSummary:
    """The local engine's whole predict job: predictor, writer (resuming what ``output`` holds),
    worker policy, optional per-image hook and per-track series; returns the summary.

    Parameters
    ----------
    options : PredictOptions
    inputs : list
        Image and video paths, camera indices and stream URLs (see :func:`predict_inputs`).
    output : path, optional
        ``.jsonl``, ``.csv``, ``.npz`` or ``.parquet``; None: JSON Lines on stdout.
    net : ExpNet, optional
        A predictor already built from ``options`` (e.g. one a hook needs too).
    on_image : callable, optional
        Called with each image's prediction once written (e.g. to render it).
    series : path, optional
        Videos: write each track's time series (CSV and PNG) into this folder.
    """
    net = net or options.predictor()
    from expnet.inference.series import series_writer
    on_frame = series_writer(Path(series), options.every) if series else None
    with PredictionWriter(output, sizes=net.output_sizes) as writer, interruptible(writer.summary):
        if writer.done:
            print(f"resuming: {len(writer.done)} inputs already done", file=sys.stderr)
        return predict_inputs(net, inputs, writer, boxes, options.batch_size, options.worker_count(), options.every,
                              on_image, progress=progress and output is not None,
                              detect_every=options.detect_every, smooth=options.smooth, on_frame=on_frame)


def predict_inputs(net: ExpNet, inputs: list, writer: PredictionWriter,
                   boxes: dict[str, list] | None = None, batch_size: int = BATCH_SIZE, workers: int = 1,
                   every: int = 1, on_image: Callable[[ImagePrediction], None] | None = None, progress: bool = True,
                   detect_every: int = DETECT_EVERY, smooth: bool = False,
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

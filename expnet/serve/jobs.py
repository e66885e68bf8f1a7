"""The web app's background work: a pool of predictors (one per worker thread: a detector serves
one call at a time) and a bounded queue of video jobs with their progress and outputs.

A video job runs ``expnet predict``'s video path (tracking, One-Euro smoothing) on the uploaded
file, keeps per frame what the page draws (each face's box, track and 68 projected landmarks)
and per track the smoothed series, and writes the rows as JSON Lines, CSV and Parquet in its own
temporary folder. The upload is deleted when the job ends; a job's folder when it is deleted or
the server stops.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from expnet.inference.jobs import PredictOptions
from expnet.inference.outputs import write_rows
from expnet.inference.predictor import ExpNet
from expnet.inference.video import ClipSummary, predict_video, video_info
from expnet.serve.drawing import FaceDrawings

OUTPUTS = {"jsonl": "rows.jsonl", "csv": "rows.csv", "parquet": "rows.parquet"}


class QueueFull(RuntimeError):
    """The job queue holds its limit of queued or running jobs."""


class Predictors:
    """One :class:`ExpNet` per concurrent caller, made on demand and reused (``with pool.get() as net``)."""

    def __init__(self, options: PredictOptions):
        self.options = options
        self._free: queue.SimpleQueue[ExpNet] = queue.SimpleQueue()

    @contextmanager
    def get(self) -> Iterator[ExpNet]:
        """A predictor for the caller alone, back in the pool when the block ends."""
        try:
            net = self._free.get_nowait()
        except queue.Empty:
            net = self.options.predictor(threads=1)  # the worker threads keep the cores busy
        try:
            yield net
        finally:
            self._free.put(net)


@dataclass
class VideoJob:
    """One uploaded video's job and what it has made so far."""

    id: str
    name: str
    folder: Path
    upload: Path
    status: str = "queued"          # queued, running, done, failed
    frames_done: int = 0
    frames_total: int = 0
    fps: float = 0.0
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    width: int | None = None
    height: int | None = None
    frames: list = field(default_factory=list)     # per processed frame: time and the faces drawn
    series: dict = field(default_factory=dict)     # track -> {"time": [], "expression": [], "yaw": [], ...}

    def progress(self) -> dict:
        """What ``GET /api/jobs/{id}`` returns."""
        elapsed = ((self.finished or time.monotonic()) - self.started) if self.started else 0.0
        return {"id": self.id, "name": self.name, "status": self.status, "frames_done": self.frames_done,
                "frames_total": self.frames_total, "frames_per_second": round(self.frames_done / elapsed, 1)
                if elapsed > 0 else None, "error": self.error, "width": self.width, "height": self.height,
                "fps": self.fps,
                "outputs": {k: f"/api/jobs/{self.id}/{name}" for k, name in OUTPUTS.items()}
                if self.status == "done" else {}}


class VideoJobs:
    """A bounded queue of video jobs run by the shared worker threads."""

    def __init__(self, predictors: Predictors, drawings: FaceDrawings, executor: ThreadPoolExecutor, max_jobs: int,
                 root: Path | None = None):
        self.predictors, self.drawings, self.executor = predictors, drawings, executor
        self.max_jobs = max_jobs
        self.root = Path(tempfile.mkdtemp(prefix="expnet-serve-")) if root is None else Path(root)
        self.jobs: dict[str, VideoJob] = {}
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()

    def active(self) -> int:
        return sum(j.status in ("queued", "running") for j in self.jobs.values())

    def new_upload(self, suffix: str) -> tuple[str, Path]:
        """A job id and the path its upload is written to."""
        job_id = uuid.uuid4().hex[:12]
        folder = self.root / job_id
        folder.mkdir(parents=True)
        return job_id, folder / f"upload{suffix}"

    def submit(self, job_id: str, upload: Path, name: str) -> VideoJob:
        with self._lock:
            if self.active() >= self.max_jobs:
                shutil.rmtree(upload.parent, ignore_errors=True)
                raise QueueFull(f"{self.max_jobs} video jobs are queued or running; try again when one ends")
            job = VideoJob(job_id, name, upload.parent, upload)
            self.jobs[job_id] = job
            self._futures[job_id] = self.executor.submit(self._run, job)
        return job

    def _run(self, job: VideoJob) -> None:
        job.status, job.started = "running", time.monotonic()
        rows: list[dict] = []
        try:
            job.frames_total, job.fps = video_info(job.upload)
            with self.predictors.get() as net:
                for item in predict_video(net, job.upload, smooth=True):
                    rows.append(item.to_dict())
                    if not isinstance(item, ClipSummary):
                        self._frame(job, item)
            if rows and rows[-1].get("error"):
                raise ValueError(rows[-1]["error"])
            for name in OUTPUTS.values():
                write_rows(rows, job.folder / name)
            job.status = "done"
        except Exception as exc:  # one bad video must not stop the worker thread or the server
            job.status, job.error = "failed", str(exc) or type(exc).__name__
        finally:
            job.finished = time.monotonic()
            job.upload.unlink(missing_ok=True)

    def _frame(self, job: VideoJob, pred) -> None:
        index = int(pred.image.rsplit("#", 1)[1])
        t = index / job.fps if job.fps else 0.0
        job.width, job.height = pred.width, pred.height
        faces = []
        for f in pred.faces:
            faces.append({"track": f.track, "box": [round(float(c), 1) for c in f.box],
                          "landmarks": self.drawings.face(f)["landmarks"]})
            s = job.series.setdefault(str(f.track), {"time": [], "expression": [], "yaw": [], "pitch": [], "roll": []})
            smooth = f.smoothed or {}
            s["time"].append(round(t, 3))
            s["expression"].append(smooth.get("expression_normalized", [round(float(v), 3) for v in
                                                                         f.expression_normalized]))
            for a in ("yaw", "pitch", "roll"):
                s[a].append(smooth.get(a, round(getattr(f.pose, a), 2)))
        job.frames.append({"frame": index, "time": round(t, 4), "faces": faces})
        job.frames_done += 1

    def delete(self, job_id: str) -> bool:
        job = self.jobs.pop(job_id, None)
        if job is None:
            return False
        future = self._futures.pop(job_id, None)
        if future is not None:
            future.cancel()
        shutil.rmtree(job.folder, ignore_errors=True)
        return True

    def close(self) -> None:
        """Remove every job's files (the server is stopping)."""
        for future in self._futures.values():
            future.cancel()
        shutil.rmtree(self.root, ignore_errors=True)

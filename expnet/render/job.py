"""``expnet render`` as a library function, and the render step of ``expnet predict --render``:
overlays, frontal renders and meshes of every face of every input, overlay videos with their
time series; every input counted in the job's summary (a video with its frames and faces)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from expnet.inference.predictor import ExpNet
from expnet.inference.results import ImagePrediction
from expnet.io.images import ImageError, load_image
from expnet.io.inputs import is_video
from expnet.io.summary import JobSummary, interruptible
from expnet.render.visuals import FaceRenderer, overlay_video, render_prediction


class UniqueStems:
    """Output names for inputs: the file stem, with the parent folder's name added when two inputs
    share a stem (``a/face.jpg`` and ``b/face.jpg`` -> ``face`` and ``b_face``), then a counter."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, path: Path) -> str:
        path = Path(path)
        candidates = [path.stem, f"{path.parent.name}_{path.stem}"]
        candidates += [f"{path.parent.name}_{path.stem}_{k}" for k in range(2, 10_000)]
        name = next(c for c in candidates if c not in self.used)
        self.used.add(name)
        return name


def render_hook(net: ExpNet, folder: str | os.PathLike, mesh_format: str = "obj") -> Callable[[ImagePrediction], None]:
    """A per-image hook for a predict job: each image's faces rendered into ``folder``."""
    renderer, names, out = FaceRenderer(extra=net.extra_components), UniqueStems(), Path(folder)

    def on_image(pred: ImagePrediction) -> None:
        if pred.faces:
            render_prediction(renderer, pred, load_image(pred.image), out, mesh_format, stem=names(Path(pred.image)))
    return on_image


def render_inputs(net: ExpNet, inputs: list, folder: str | os.PathLike, mesh_format: str = "obj", every: int = 1,
                  progress: bool = True) -> JobSummary:
    """Render every input into ``folder``: images get an overlay, a frontal render and a mesh per
    face; videos an overlay MP4 and per-track time series. A bad file, a faceless image or an
    unreadable video is counted with its reason (and named on stderr); the job carries on."""
    renderer, names, out = FaceRenderer(extra=net.extra_components), UniqueStems(), Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    summary = JobSummary("render")
    with interruptible(summary):
        for path in tqdm(inputs, desc="render", unit="input", disable=not progress):
            _render_one(renderer, net, Path(path), names(Path(path)), out, mesh_format, every, summary)
    return summary


def _render_one(renderer: FaceRenderer, net: ExpNet, path: Path, stem: str, out: Path, mesh_format: str, every: int,
                summary: JobSummary) -> None:
    """One input rendered (or counted with its reason)."""
    try:
        if is_video(path):
            made = overlay_video(renderer, net, path, out / f"{stem}_overlay.mp4", every, series_dir=out)
            summary.add(str(path), made.faces, frames=made.frames)
            return
        image = load_image(path)
    except (ImageError, ValueError, OSError) as exc:
        print(f"skipped {path}: {exc}", file=sys.stderr)
        summary.add(str(path), error=str(exc))
        return
    pred = net.predict(image)
    pred.image = str(path)
    if not pred.faces:
        print(f"skipped {path}: no face found", file=sys.stderr)
        summary.add(str(path), error="no face found")
        return
    render_prediction(renderer, pred, image, out, mesh_format, stem=stem)
    summary.add(str(path), len(pred.faces))

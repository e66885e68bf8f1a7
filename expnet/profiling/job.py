"""``expnet profile`` as a library function: label rows in, new views and their label rows out.

Every finished view is appended to a side file (``labels.jsonl.progress.jsonl``, headed by the
settings) after its image has been written, so an interrupted run resumes where it stopped and
never repeats a view; the final ``labels.jsonl`` is written atomically from it. The views of a
face are drawn from a generator seeded by the face's image path, so a rerun makes the same ones.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from expnet.detection.boxes import box_from_landmarks
from expnet.detection.crop import crop
from expnet.face.model import FaceModel
from expnet.face.pose import Pose
from expnet.io.atomic import atomic_path
from expnet.io.images import ImageError, load_image
from expnet.io.labels import MAX_RESIDUAL, STATUS_ERROR, STATUS_OK, is_fitted, read_usable
from expnet.io.pools import worker_map
from expnet.io.sidefile import open_side_file, read_side_file
from expnet.io.summary import JobSummary, interruptible
from expnet.profiling.profiler import PAD_FILLS, FaceProfiler, ProfiledFace, View


@dataclass(frozen=True)
class ProfileSettings:
    """Which views to make of each face.

    ``yaws`` given: one view per yaw (degrees), the face's own pitch and roll kept (for
    evaluation). Otherwise ``views`` random views: yaw uniform in +-``max_yaw``, stratified over a
    face's views (view k of n takes its abs(yaw) from the k-th of n equal bands of [0, max_yaw],
    with a random sign), so every face is seen near frontal, half-turned and near profile; pitch
    the face's own plus up to +-``pitch_jitter`` (kept within +-``max_pitch``), roll the face's own
    plus up to +-``roll_jitter``. ``crop``: write the face cut to its box (enlarged 1.25x, as the
    network sees it) at this size instead of the whole canvas; the label follows the crop.
    ``head``: render the ears and neck too (:class:`FaceProfiler`); ``pad_fill``: the widened
    canvas, black or the image's blurred edge (:meth:`FaceProfiler.render`).
    """

    views: int = 1
    yaws: tuple[float, ...] | None = None
    max_yaw: float = 90.0
    pitch_jitter: float = 20.0
    max_pitch: float = 30.0
    roll_jitter: float = 15.0
    pad: float = 0.25
    pad_fill: str = "black"
    head: bool = False
    crop: int | None = None
    max_residual: float = MAX_RESIDUAL
    seed: int = 0

    def __post_init__(self):
        if self.yaws is not None and (not self.yaws or any(abs(y) > 90 for y in self.yaws)):
            raise ValueError(f"yaws must be one or more angles within +-90 degrees, got {self.yaws}")
        if self.views < 1 or not 0 < self.max_yaw <= 90 or not 0 <= self.max_pitch <= 90 or self.pad < 0:
            raise ValueError("views must be at least 1, max_yaw within (0, 90], max_pitch within [0, 90] "
                             f"and pad not negative; got {self.views}, {self.max_yaw}, {self.max_pitch}, {self.pad}")
        if self.pad_fill not in PAD_FILLS:
            raise ValueError(f"pad_fill must be one of {PAD_FILLS}, got {self.pad_fill!r}")
        if self.crop is not None and self.crop < 16:
            raise ValueError(f"crop must be at least 16 pixels, got {self.crop}")

    def record(self) -> dict:
        """The settings as the side file's header keeps them. ``head`` and ``pad_fill`` appear only
        when not at their defaults, so that views made before those options existed resume."""
        out = asdict(self)
        for key in ("head", "pad_fill"):
            if out[key] == getattr(ProfileSettings, key):
                del out[key]
        return out

    def plan(self, row: dict) -> list[View]:
        """The views of one label row."""
        p = row["pose"]
        if self.yaws is not None:
            return [View(p["pitch"], float(y), p["roll"]) for y in self.yaws]
        rng = np.random.default_rng([self.seed, zlib.crc32(row["image"].encode())])
        out = []
        band = self.max_yaw / self.views
        for k in range(self.views):
            yaw = rng.choice((-1.0, 1.0)) * rng.uniform(k * band, (k + 1) * band)
            pitch = float(np.clip(p["pitch"] + rng.uniform(-self.pitch_jitter, self.pitch_jitter),
                                  -self.max_pitch, self.max_pitch))
            out.append(View(pitch, float(yaw), p["roll"] + rng.uniform(-self.roll_jitter, self.roll_jitter)))
        return out


def _view_name(row: dict, k: int, view: View) -> str:
    stem = Path(row["image"]).stem
    tag = zlib.crc32(row["image"].encode()) & 0xFFFF  # same stem in two folders: two names
    return f"{stem}-{tag:04x}-v{k}-yaw{int(round(view.yaw)):+03d}.jpg"


class _Worker:
    def __init__(self, out_dir: Path, settings: ProfileSettings):
        self.profiler = FaceProfiler(FaceModel.load(), head=settings.head)
        self.images = out_dir / "images"
        self.settings = settings

    def __call__(self, row: dict) -> list[dict]:
        views = self.settings.plan(row)
        names = [str(self.images / _view_name(row, k, v)) for k, v in enumerate(views)]
        try:
            image = load_image(row["image"], "RGB")
        except ImageError as exc:
            return [_failed(row, name, str(exc)) for name in names]
        p = row["pose"]
        pose = Pose(np.asarray(p["rotation"]), np.asarray(p["translation"]), float(p["scale"]))
        shape, expression = np.asarray(row["shape"]), np.asarray(row["expression"])
        out = []
        for name, view in zip(names, views):
            face = self.profiler.render(image, shape, expression, pose, view, pad=self.settings.pad,
                                        pad_fill=self.settings.pad_fill)
            if self.settings.crop:
                face = _cut(face, self.settings.crop)
            with atomic_path(name) as tmp:
                cv2.imwrite(str(tmp), cv2.cvtColor(face.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            out.append(_row(row, name, face, view))
        return out


def _cut(face: ProfiledFace, size: int) -> ProfiledFace:
    """The view cut to its face box (enlarged as the network's crop), its label moved along."""
    image, a = crop(face.image, box_from_landmarks(face.landmarks), size)
    s = float(a[0, 0])
    pose = Pose(face.pose.rotation, s * np.asarray(face.pose.translation) + a[:, 2], s * face.pose.scale)
    return ProfiledFace(image, pose, face.landmarks * s + a[:, 2], face.face_pixels)


def _row(src: dict, name: str, face: ProfiledFace, view: View) -> dict:
    h, w = face.image.shape[:2]
    row = {"image": name, "status": STATUS_OK, "error": None, "identity": src.get("identity") or src["image"],
           "width": w, "height": h, "detector": "profile",
           "box": [round(float(c), 2) for c in box_from_landmarks(face.landmarks)], "score": None,
           "landmarks": np.round(face.landmarks, 2).tolist(), "pose": face.pose.to_dict(),
           "shape": src["shape"], "expression": src["expression"],
           # exact by construction: the label is the fit the view was rendered from
           "residual": 0.0, "profiled_from": src["image"], "view": asdict(view),
           "face_pixels": face.face_pixels}
    for key in ("expression_extra", "extra_version"):
        if key in src:
            row[key] = src[key]
    return row


def _failed(src: dict, name: str, error: str) -> dict:
    return {"image": name, "status": STATUS_ERROR, "error": error, "identity": src.get("identity"),
            "profiled_from": src["image"], "residual": None}


def profile_labels(label_files: list[str | os.PathLike], out_dir: str | os.PathLike,
                   settings: ProfileSettings | None = None, workers: int | None = None,
                   progress: bool = True, limit: int | None = None, identities: set[str] | None = None,
                   exclude: set[str] | None = None) -> JobSummary:
    """Make new views of every usable face in ``label_files`` (rows of ``expnet label``).

    Parameters
    ----------
    label_files : list of paths
        JSONL label files.
    out_dir : path
        Gets ``images/`` and ``labels.jsonl`` (rows in ``expnet label``'s format, plus
        ``profiled_from`` and ``view``), which ``expnet train --labels`` takes as it is.
    settings : ProfileSettings, optional
    workers : int, optional
        Processes (default: all cores).
    limit : int, optional
        Only the first ``limit`` usable faces.
    identities, exclude : set of str, optional
        Only faces of these identities; none of those.

    Returns
    -------
    JobSummary
        One input per view made; failures (an unreadable source image) are rows with the reason.
    """
    settings = settings or ProfileSettings()
    out_dir = Path(out_dir)
    rows = [r for f in label_files for r in read_usable(f, settings.max_residual)]
    if identities is not None:
        rows = [r for r in rows if r.get("identity") in identities]
    if exclude:
        rows = [r for r in rows if r.get("identity") not in exclude]
    rows = rows[:limit] if limit is not None else rows
    side = out_dir / "labels.jsonl.progress.jsonl"
    done = _read_progress(side, settings.record())
    todo = [r for r in rows if r["image"] not in done]
    summary = JobSummary("profile")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
    bar = tqdm(total=len(todo), desc="profile", unit="face", disable=not progress or not todo)
    so_far = JobSummary("profile")  # what Ctrl-C reports: the views this run made
    with open_side_file(side, settings.record()) as out, interruptible(so_far):
        for made in _map(todo, out_dir, settings, workers):
            out.write(json.dumps({"source": made[0]["profiled_from"], "rows": made}) + "\n")
            out.flush()
            done[made[0]["profiled_from"]] = made
            for r in made:
                so_far.add(r["image"], faces=int(is_fitted(r)), error=r.get("error"))
            bar.update()
    bar.close()
    final = [r for src in rows if src["image"] in done for r in done[src["image"]]]
    with atomic_path(out_dir / "labels.jsonl") as tmp, open(tmp, "w") as fh:
        for r in final:
            fh.write(json.dumps(r) + "\n")
            summary.add(r["image"], faces=int(is_fitted(r)), error=r.get("error"))
    return summary


def _map(todo: list[dict], out_dir: Path, settings: ProfileSettings, workers: int):
    # one profiler per worker process (mesh, mirror map: seconds to build)
    yield from worker_map(_Worker, (out_dir, settings), todo, workers, ordered=False)


def _read_progress(path: Path, settings: dict) -> dict[str, list[dict]]:
    """Views made by an earlier run with the same settings, by source image."""
    return {item["source"]: item["rows"] for item in read_side_file(path, settings)}

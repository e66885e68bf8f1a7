"""Writing predictions: JSON Lines (one image a line), CSV (one face a row), NPZ or a Parquet
dataset (:mod:`expnet.inference.parquet`), atomically; and reading user-supplied face boxes."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

from expnet.inference import parquet
from expnet.inference.results import ImagePrediction
from expnet.inference.video import ClipSummary, frame_of
from expnet.io.atomic import atomic_path
from expnet.io.summary import JobSummary


def read_boxes(path: str | os.PathLike) -> dict[str, list[list[float]]]:
    """``image,x0,y0,x1,y1`` rows (a header row is optional) -> image -> list of boxes."""
    boxes: dict[str, list[list[float]]] = {}
    with open(path, newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or (n == 1 and row[0].strip().lower() in ("image", "path", "file")):
                continue
            if len(row) < 5:
                raise ValueError(f"{path}:{n}: expected image,x0,y0,x1,y1; got {row}")
            try:
                box = [float(v) for v in row[1:5]]
            except ValueError:
                raise ValueError(f"{path}:{n}: box coordinates must be numbers; got {row[1:5]}") from None
            if box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(f"{path}:{n}: box must have x1 > x0 and y1 > y0; got {box}")
            boxes.setdefault(row[0], []).append(box)
    return boxes


def _video_of(row: dict) -> str | None:
    """The video a row belongs to (a frame row, or a per-track clip row), or None."""
    if row.get("clip") and "track" in row:
        return row["image"]
    return frame_of(row["image"])


class PredictionWriter:
    """Writes prediction rows as they come and makes the output appear atomically at the end.

    Rows go to ``<output>.partial`` (JSON Lines) at once, whatever the output format; when the
    job completes, the output is made from it (``.jsonl``: renamed; ``.csv`` / ``.npz``: written;
    ``.parquet``: a new part of that dataset folder) and the side file goes. A job that is
    interrupted and started again with the same output keeps the finished inputs (:attr:`done`)
    and appends; a video counts as finished only with its per-clip row, so an interrupted video
    runs again from its first frame and no row is ever written twice. A Parquet dataset also
    counts what its parts hold as done, so a re-run adds only the inputs it lacks.
    :attr:`summary` counts inputs, faces and failures (resumed rows too).
    """

    SUFFIXES = (".jsonl", ".csv", ".npz", ".parquet")

    def __init__(self, path: str | os.PathLike | None, command: str = "predict",
                 sizes: tuple[int, int, int] | None = None):
        self.path = Path(path) if path else None
        self.sizes = sizes  # (expression, shape, extra) columns of a CSV whose inputs had no face
        if self.path and self.path.suffix.lower() not in self.SUFFIXES:
            raise ValueError(f"output must end in .jsonl, .csv, .npz or .parquet; got {self.path.name}")
        self.done: set[str] = set()
        self.summary = JobSummary(command)
        self._fh = None
        self._partial: Path | None = None

    def __enter__(self):
        if self.path is None:
            self._fh = sys.stdout
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.path.with_name(self.path.name + ".partial")
        if self.is_parquet:
            for name, (faces, error, frames) in parquet.finished(self.path).items():
                self.summary.add(name, faces, error, frames)
                self.done.add(name)
        self._made_partial = not self._partial.exists()
        if self._partial.exists():
            rows = []
            for line in self._partial.read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # the line an interruption cut short: that input runs again
            # a video is finished with its own clip row (the last one it writes)
            finished_videos = {r["image"] for r in rows if r.get("clip") and "track" not in r}
            kept = [r for r in rows if _video_of(r) in (None, *finished_videos)]
            with atomic_path(self._partial) as tmp:
                tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            for r in kept:
                self._count(r)
                if _video_of(r) is None:
                    self.done.add(r["image"])
        self._fh = open(self._partial, "a")
        return self

    def _count(self, row: dict) -> None:
        if row.get("clip"):
            if "track" not in row:  # the video's own clip row: the input is done
                self.summary.add(row["image"], 0, row.get("error"))
        elif frame_of(row["image"]) is not None:
            self.summary.frames += 1
            self.summary.faces += len(row["faces"])
        else:
            self.summary.add(row["image"], len(row["faces"]), row.get("error"))

    @property
    def is_parquet(self) -> bool:
        return self.path is not None and self.path.suffix.lower() == ".parquet"

    def write(self, item: ImagePrediction | ClipSummary) -> None:
        self.write_row(item.to_dict())

    def write_row(self, row: dict) -> None:
        """Write one row as ``ImagePrediction.to_dict`` / ``ClipSummary.to_dict`` give it."""
        self._count(row)
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()

    def __exit__(self, exc_type, exc, tb):
        if self.path is None:
            return False
        self._fh.close()
        if exc_type is not None:
            if self._made_partial and self._partial.stat().st_size == 0:
                self._partial.unlink()  # nothing done: no side file to resume from
            return False  # the side file stays, for the resumed run
        if self.path.suffix.lower() == ".jsonl":
            os.replace(self._partial, self.path)
            return False
        rows = [json.loads(line) for line in self._partial.read_text().splitlines()]
        if self.is_parquet:
            parquet.write_part(self.path, rows, list(dict.fromkeys(r["image"] for r in rows)))
            self._partial.unlink()
            return False
        with atomic_path(self.path) as tmp:
            if self.path.suffix.lower() == ".csv":
                _write_csv(rows, tmp, self.sizes)
            else:
                _write_npz(rows, tmp)
        self._partial.unlink()
        return False


def write_rows(rows: list[dict], path: str | os.PathLike, sizes: tuple[int, int, int] | None = None) -> Path:
    """Finished prediction rows as one file, atomically: ``.jsonl``, ``.csv``, ``.npz`` or
    ``.parquet`` (a single Parquet file of the dataset's schema)."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".jsonl":
            Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in rows))
        elif suffix == ".csv":
            _write_csv(rows, tmp, sizes)
        elif suffix == ".npz":
            _write_npz(rows, tmp)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq
            pq.write_table(parquet.table(rows), tmp)
        else:
            raise ValueError(f"rows go to .jsonl, .csv, .npz or .parquet; got {path.name}")
    return path


def _face_rows(rows: list[dict]):
    for r in rows:
        if r.get("clip"):
            continue
        if not r["faces"]:
            yield r, None, -1
        for k, f in enumerate(r["faces"]):
            yield r, f, k


def _write_csv(rows: list[dict], path: Path, sizes: tuple[int, int, int] | None = None) -> None:
    """One face a row; the coefficient columns come from the faces, or from ``sizes`` (the
    model's) when no input had one, so that every CSV of a model has the same header."""
    e0, s0, x0 = sizes or (0, 0, 0)
    k_e = next((len(f["expression"]) for _, f, _ in _face_rows(rows) if f), e0)
    k_s = next((len(f["shape"]) for _, f, _ in _face_rows(rows) if f), s0)
    k_x = next((len(f.get("expression_extra") or []) for _, f, _ in _face_rows(rows) if f), x0)
    header = (["image", "face", "error", "x0", "y0", "x1", "y1", "score", "yaw", "pitch", "roll", "scale", "tx", "ty"]
              + [f"exp{j}" for j in range(k_e)] + [f"expn{j}" for j in range(k_e)] + [f"shp{j}" for j in range(k_s)]
              + [f"xexp{j}" for j in range(k_x)] + [f"xexpn{j}" for j in range(k_x)])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r, f, k in _face_rows(rows):
            if f is None:
                w.writerow([r["image"], "", r["error"]] + [""] * (len(header) - 3))
                continue
            p = f["pose"]
            w.writerow([r["image"], k, ""] + f["box"] + [f["score"], p["yaw"], p["pitch"], p["roll"], p["scale"],
                                                         *p["translation"]]
                       + f["expression"] + f["expression_normalized"] + f["shape"]
                       + (f.get("expression_extra") or []) + (f.get("expression_extra_normalized") or []))
        for r in rows:
            if r.get("clip") and r["expression_mean"]:
                which = f"track{r['track']}-mean" if "track" in r else "clip-mean"
                w.writerow([r["image"], which, r["error"] or ""] + [""] * 11 + r["expression_mean"]
                           + r["expression_normalized_mean"] + [""] * (k_s + 2 * k_x))


def _write_npz(rows: list[dict], path: Path) -> None:
    faces = [(r, f, k) for r, f, k in _face_rows(rows) if f]
    k_e = next((len(f["expression"]) for _, f, _ in faces),
               next((len(r["expression_mean"]) for r in rows if r.get("clip") and r["expression_mean"]), 0))
    np.savez(path,
             image=np.array([r["image"] for r, _, _ in faces], dtype=str),
             face=np.array([k for _, _, k in faces], dtype=np.int32),
             box=np.array([f["box"] for _, f, _ in faces], dtype=np.float32).reshape(-1, 4),
             expression=np.array([f["expression"] for _, f, _ in faces], dtype=np.float32),
             expression_normalized=np.array([f["expression_normalized"] for _, f, _ in faces], dtype=np.float32),
             angles=np.array([[f["pose"][a] for a in ("yaw", "pitch", "roll")] for _, f, _ in faces],
                             dtype=np.float32).reshape(-1, 3),
             rotation=np.array([f["pose"]["rotation"] for _, f, _ in faces], dtype=np.float32).reshape(-1, 3, 3),
             translation=np.array([f["pose"]["translation"] for _, f, _ in faces], dtype=np.float32).reshape(-1, 2),
             scale=np.array([f["pose"]["scale"] for _, f, _ in faces], dtype=np.float32),
             shape=np.array([f["shape"] for _, f, _ in faces], dtype=np.float32),
             **({key: np.array([f[key] for _, f, _ in faces], dtype=np.float32)
                 for key in ("expression_extra", "expression_extra_normalized")}
                if faces and faces[0][1].get("expression_extra") is not None else {}),
             failed_image=np.array([r["image"] for r in rows if not r.get("clip") and not r["faces"]], dtype=str),
             failed_error=np.array([r["error"] or "" for r in rows if not r.get("clip") and not r["faces"]], dtype=str),
             **_clip_arrays([r for r in rows if r.get("clip")], k_e))


def _clip_arrays(clips: list[dict], k_e: int) -> dict[str, np.ndarray]:
    """The per-clip rows of videos as arrays (NaN means where a clip had no face)."""
    def mean(r: dict, key: str) -> list[float]:
        return r[key] if r[key] is not None else [np.nan] * k_e
    return dict(
        clip_video=np.array([r["image"] for r in clips], dtype=str),
        clip_track=np.array([r.get("track", -1) for r in clips], dtype=np.int64),  # -1: the whole video
        clip_frames=np.array([r["frames"] for r in clips], dtype=np.int64),
        clip_frames_with_face=np.array([r["frames_with_face"] for r in clips], dtype=np.int64),
        clip_expression_mean=np.array([mean(r, "expression_mean") for r in clips], dtype=np.float32).reshape(-1, k_e),
        clip_expression_normalized_mean=np.array([mean(r, "expression_normalized_mean") for r in clips],
                                                 dtype=np.float32).reshape(-1, k_e),
        clip_error=np.array([r["error"] or "" for r in clips], dtype=str))

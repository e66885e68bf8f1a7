"""Writing predictions: JSON Lines (one image a line), CSV (one face a row) or NPZ, atomically;
and reading user-supplied face boxes."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

from expnet.core.atomic import atomic_path
from expnet.inference.predictor import ImagePrediction
from expnet.inference.video import ClipSummary


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


class PredictionWriter:
    """Context manager; the output file appears (atomically) only when the job completes.

    JSON Lines rows go to ``<output>.partial`` as they come: a job that is interrupted and started
    again with the same output skips the images already there (:attr:`done`) and appends.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        if self.path and self.path.suffix.lower() not in (".jsonl", ".csv", ".npz"):
            raise ValueError(f"output must end in .jsonl, .csv or .npz; got {self.path.name}")
        self.rows: list[dict] = []
        self.done: set[str] = set()
        self._fh = None

    def __enter__(self):
        if self.path is None:
            self._fh = sys.stdout
        elif self.path.suffix.lower() == ".jsonl":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._partial = self.path.with_name(self.path.name + ".partial")
            if self._partial.exists():
                good = []
                for line in self._partial.read_text().splitlines():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # the line an interruption cut short: that image runs again
                    good.append(line)
                    self.done.add(row["image"])
                self._partial.write_text("".join(g + "\n" for g in good))
            self._fh = open(self._partial, "a")
        return self

    def write(self, item: ImagePrediction | ClipSummary) -> None:
        d = item.to_dict()
        if self._fh is not None:
            self._fh.write(json.dumps(d) + "\n")
            self._fh.flush()
        else:
            self.rows.append(d)

    def __exit__(self, exc_type, exc, tb):
        if self.path is None:
            return False
        if self._fh is not None:
            self._fh.close()
            if exc_type is None:
                os.replace(self._partial, self.path)
            return False  # on failure the partial file stays, for the resumed run
        if exc_type is not None:
            return False
        with atomic_path(self.path) as tmp:
            if self.path.suffix.lower() == ".csv":
                _write_csv(self.rows, tmp)
            else:
                _write_npz(self.rows, tmp)
        return False


def _face_rows(rows: list[dict]):
    for r in rows:
        if r.get("clip"):
            continue
        if not r["faces"]:
            yield r, None, -1
        for k, f in enumerate(r["faces"]):
            yield r, f, k


def _write_csv(rows: list[dict], path: Path) -> None:
    k_e = next((len(f["expression"]) for _, f, _ in _face_rows(rows) if f), 0)
    k_s = next((len(f["shape"]) for _, f, _ in _face_rows(rows) if f), 0)
    header = (["image", "face", "error", "x0", "y0", "x1", "y1", "score", "yaw", "pitch", "roll", "scale", "tx", "ty"]
              + [f"exp{j}" for j in range(k_e)] + [f"expn{j}" for j in range(k_e)] + [f"shp{j}" for j in range(k_s)])
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
                       + f["expression"] + f["expression_normalized"] + f["shape"])
        for r in rows:
            if r.get("clip") and r["expression_mean"]:
                w.writerow([r["image"], "clip-mean", r["error"] or ""] + [""] * 11 + r["expression_mean"]
                           + r["expression_normalized_mean"] + [""] * k_s)


def _write_npz(rows: list[dict], path: Path) -> None:
    faces = [(r, f, k) for r, f, k in _face_rows(rows) if f]
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
             failed_image=np.array([r["image"] for r in rows if not r.get("clip") and not r["faces"]], dtype=str),
             failed_error=np.array([r["error"] or "" for r in rows if not r.get("clip") and not r["faces"]], dtype=str))

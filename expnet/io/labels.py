"""The label-file format of ``expnet label`` (and of ``expnet profile``'s views): one owner for
the status values, the residual cut-off training takes, and reading and writing the files.

A row is one image: ``image, status, error, identity, width, height, detector, box, score,
landmarks (68 x 2), pose {yaw, pitch, roll, rotation, translation, scale}, shape, expression,
residual, expression_at_bound, identity_images`` (plus ``mesh``, ``expression_extra`` and
``extra_version`` where they apply, and ``profiled_from`` and ``view`` for profiled views); a pose
taken from FaceMesh's 3D points instead of the fit says so with ``source: "mesh"``.
Files are JSON Lines, or CSV by the output's suffix (flat columns, for reading, not for training).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from expnet.io.atomic import atomic_path

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"
STATUS_ERROR = "error"
STATUS_FIT_FAILED = "fit_failed"
STATUSES = (STATUS_OK, STATUS_NO_FACE, STATUS_ERROR, STATUS_FIT_FAILED)

# ``pose["source"]`` of rows whose pose comes from FaceMesh's 3D points (``expnet label --pose
# mesh``); rows without it carry the landmark fit's pose.
POSE_SOURCE_MESH = "mesh"

# Rows whose fit is off by more than this (mean landmark error over the inter-ocular distance) are
# left out of training and profiling: at 0.15 the fit no longer follows the face.
MAX_RESIDUAL = 0.15

CSV_SCALARS = ["image", "status", "error", "identity", "width", "height", "detector", "score", "residual"]


def iter_rows(path: str | os.PathLike) -> Iterator[dict]:
    """Every row of a JSON Lines label file, in order."""
    with open(path) as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def is_fitted(row: dict) -> bool:
    """The row's image was found and fitted (it has a label)."""
    return row.get("status") == STATUS_OK


def is_usable(row: dict, max_residual: float = MAX_RESIDUAL) -> bool:
    """A fitted row with a sane residual: the rows training and profiling take."""
    return is_fitted(row) and row.get("residual") is not None and row["residual"] <= max_residual


def read_usable(path: str | os.PathLike, max_residual: float = MAX_RESIDUAL) -> list[dict]:
    """The usable rows of a label file (see :func:`is_usable`)."""
    return [r for r in iter_rows(path) if is_usable(r, max_residual)]


def read_names(path: str | os.PathLike | None) -> set[str] | None:
    """A text file of names (identities), one a line; None for no file."""
    if path is None:
        return None
    return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}


def write_rows(rows: list[dict], output: str | os.PathLike) -> None:
    """Write label rows as JSON Lines or CSV (by the suffix), atomically."""
    output = Path(output)
    with atomic_path(output) as tmp, open(tmp, "w", newline="") as fh:
        if output.suffix.lower() == ".jsonl":
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        else:
            _write_csv(rows, fh)
        fh.flush()
        os.fsync(fh.fileno())


def _write_csv(rows: list[dict], fh) -> None:
    n_points = next((len(r["landmarks"]) for r in rows if r.get("landmarks")), 68)
    k_s = next((len(r["shape"]) for r in rows if r.get("shape")), 0)
    k_e = next((len(r["expression"]) for r in rows if r.get("expression")), 0)
    header = (CSV_SCALARS + ["x0", "y0", "x1", "y1", "yaw", "pitch", "roll", "scale", "tx", "ty"]
              + [f"exp{j}" for j in range(k_e)] + [f"shp{j}" for j in range(k_s)]
              + [f"lm{j}_{a}" for j in range(n_points) for a in "xy"])
    writer = csv.writer(fh)
    writer.writerow(header)
    for r in rows:
        line = [r.get(k) for k in CSV_SCALARS]
        line += r["box"] if r.get("box") else [""] * 4
        p = r.get("pose")
        line += ([p["yaw"], p["pitch"], p["roll"], p["scale"], *p["translation"]] if p else [""] * 6)
        line += r["expression"] if r.get("expression") else [""] * k_e
        line += r["shape"] if r.get("shape") else [""] * k_s
        line += list(np.ravel(r["landmarks"])) if r.get("landmarks") else [""] * (2 * n_points)
        writer.writerow(line)

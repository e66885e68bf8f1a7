"""Predictions as a Parquet dataset: a folder of parts, one row per face.

``expnet predict -o results.parquet`` (either engine) writes the folder ``results.parquet/``
holding ``part-*.parquet`` files; pandas (``pd.read_parquet``), pyarrow, Polars, DuckDB and Spark
read the folder as one table. Each part is written atomically (a hidden temporary file renamed
into place; readers skip hidden files), so a part is either whole or absent. A re-run with the
same output skips the inputs already in the folder and adds new parts.

Schema (:data:`SCHEMA`), one row per:

- face of an image or a video frame (``kind == "face"``, ``face`` = 0, 1, ... largest first);
- image with no face, or that failed (``kind == "image"``; ``error`` says why, ``face`` is null);
- video's summary (``kind == "clip"``; ``track`` null) and each of its tracks' (``track`` set).

``image`` is the input's path (a video frame's is ``<video>#<frame>``). ``expression`` /
``expression_normalized`` are the 3DDFA-basis coefficients (raw / whitened), ``expression_extra``
/ ``expression_extra_normalized`` a model's extra components (null for a ten-component model),
``shape`` the shape coefficients, ``rotation`` the 3x3 rotation row by row; clip rows carry the means of the video's
(or track's) whitened and raw expression in ``expression_normalized`` / ``expression`` and their
frame counts.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from functools import cache
from pathlib import Path

from expnet.inference.video import frame_of
from expnet.io.atomic import atomic_path


@cache  # a constant, built on first use (pyarrow is an optional extra)
def _schema():
    import pyarrow as pa
    f32, f64 = pa.list_(pa.float32()), pa.float64()
    return pa.schema([
        ("image", pa.string()), ("kind", pa.string()), ("face", pa.int32()), ("error", pa.string()),
        ("width", pa.int32()), ("height", pa.int32()),
        ("x0", f64), ("y0", f64), ("x1", f64), ("y1", f64), ("score", f64), ("detector", pa.string()),
        ("yaw", f64), ("pitch", f64), ("roll", f64), ("scale", f64), ("tx", f64), ("ty", f64),
        ("rotation", pa.list_(pa.float64(), 9)),
        ("expression", f32), ("expression_normalized", f32), ("shape", f32),
        ("expression_extra", f32), ("expression_extra_normalized", f32),
        ("track", pa.int32()), ("smoothed_expression_normalized", f32),
        ("smoothed_yaw", f64), ("smoothed_pitch", f64), ("smoothed_roll", f64),
        ("frames", pa.int64()), ("frames_with_face", pa.int64()),
    ])


def _pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError("Parquet output needs pyarrow: pip install 'expnet[parquet]'") from None


def flatten(row: dict) -> list[dict]:
    """The table rows of one prediction row (as ``ImagePrediction.to_dict`` or
    ``ClipSummary.to_dict`` give it)."""
    empty = {name: None for name in _schema().names}
    if row.get("clip"):
        return [{**empty, "image": row["image"], "kind": "clip", "error": row["error"],
                 "track": row.get("track"), "frames": row["frames"], "frames_with_face": row["frames_with_face"],
                 "expression": row["expression_mean"], "expression_normalized": row["expression_normalized_mean"]}]
    base = {**empty, "image": row["image"], "width": row["width"], "height": row["height"]}
    if not row["faces"]:
        return [{**base, "kind": "image", "error": row["error"] or "no face found"}]
    out = []
    for k, f in enumerate(row["faces"]):
        p = f["pose"]
        smoothed = f.get("smoothed") or {}
        out.append({**base, "kind": "face", "face": k, "x0": f["box"][0], "y0": f["box"][1], "x1": f["box"][2],
                    "y1": f["box"][3], "score": f["score"], "detector": f["detector"],
                    "yaw": p["yaw"], "pitch": p["pitch"], "roll": p["roll"], "scale": p["scale"],
                    "tx": p["translation"][0], "ty": p["translation"][1],
                    "rotation": [v for line in p["rotation"] for v in line],
                    "expression": f["expression"], "expression_normalized": f["expression_normalized"],
                    "shape": f["shape"], "track": f.get("track"),
                    "expression_extra": f.get("expression_extra"),
                    "expression_extra_normalized": f.get("expression_extra_normalized"),
                    "smoothed_expression_normalized": smoothed.get("expression_normalized"),
                    "smoothed_yaw": smoothed.get("yaw"), "smoothed_pitch": smoothed.get("pitch"),
                    "smoothed_roll": smoothed.get("roll")})
    return out


def table(rows: list[dict]):
    """A pyarrow Table (:data:`SCHEMA`) of prediction rows."""
    _pyarrow()
    import pyarrow as pa
    return pa.Table.from_pylist([t for r in rows for t in flatten(r)], schema=_schema())


def part_name(inputs: list[str]) -> str:
    """A part's file name, fixed by the inputs it holds: a task that Ray retries after a worker
    died writes the same part again (replacing it), not a second copy of its rows."""
    digest = hashlib.sha1("\n".join(inputs).encode()).hexdigest()[:20]
    return f"part-{digest}.parquet"


def write_part(folder: str | os.PathLike, rows: list[dict], inputs: list[str]) -> Path | None:
    """Write the rows of ``inputs`` as one part of the dataset ``folder``, atomically."""
    if not rows:
        return None
    _pyarrow()
    import pyarrow.parquet as pq
    path = Path(folder) / part_name(inputs)
    with atomic_path(path) as tmp:
        pq.write_table(table(rows), tmp)
    return path


def parts(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def read_table(folder: str | os.PathLike, columns: list[str] | None = None):
    """The whole dataset as one pyarrow Table (parts in name order)."""
    _pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq
    tables = [pq.read_table(p, columns=columns) for p in parts(folder)]
    schema = _schema() if columns is None else pa.schema([_schema().field(c) for c in columns])
    return pa.concat_tables(tables) if tables else schema.empty_table()


def finished(folder: str | os.PathLike) -> dict[str, tuple[int, str | None, int]]:
    """Inputs the dataset holds in full (images with any row, videos with their own clip row):
    input -> (faces, error, video frames)."""
    t = read_table(folder, ["image", "kind", "track", "error"]).to_pydict()
    faces: dict[str, int] = defaultdict(int)
    frames: dict[str, set[str]] = defaultdict(set)
    done: dict[str, tuple[int, str | None, int]] = {}
    for image, kind, track, error in zip(t["image"], t["kind"], t["track"], t["error"]):
        video = frame_of(image) if kind != "clip" else None
        if video is not None:
            frames[video].add(image)
        elif kind == "clip":
            if track is None:
                done[image] = (0, error, 0)
        else:
            faces[image] += kind == "face"
            done[image] = (faces[image], error if kind == "image" else None, 0)
    for video, keys in frames.items():
        if video in done:
            done[video] = (done[video][0], done[video][1], len(keys))
    return done


def _owner(image: str, kind: str) -> str:
    """The input a row belongs to (a video for its frames and clip rows)."""
    if kind == "clip":
        return image
    return frame_of(image) or image


def remove_duplicates(folder: str | os.PathLike) -> int:
    """Keep each input's rows in one part only (the first by name) and rewrite the others
    atomically; returns the number of inputs that were in more than one part.

    Parts are named by their inputs, so a retried task replaces its part; this is the safety net
    for a retry that batched its inputs differently.
    """
    _pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq
    holders: dict[str, list[Path]] = defaultdict(list)
    for p in parts(folder):
        t = pq.read_table(p, columns=["image", "kind"]).to_pydict()
        for owner in dict.fromkeys(_owner(i, k) for i, k in zip(t["image"], t["kind"])):
            holders[owner].append(p)
    drop: dict[Path, set[str]] = defaultdict(set)
    for owner, files in holders.items():
        for p in files[1:]:
            drop[p].add(owner)
    for p, owners in drop.items():
        t = pq.read_table(p)
        keep = [_owner(i, k) not in owners for i, k in zip(t.column("image").to_pylist(), t.column("kind").to_pylist())]
        if not any(keep):
            p.unlink()
            continue
        with atomic_path(p) as tmp:
            pq.write_table(t.filter(pa.array(keep)), tmp)
    return sum(len(files) > 1 for files in holders.values())

"""Held-out views' rotation error by yaw and pitch together: where in the pose range a pose
network errs (``expnet evaluate compare`` reports it by yaw alone).

    python scripts/views_by_pitch.py --views outputs/profiled/lfw-val-3v outputs/profiled/lfw-val-head-3v \
        --model expnet/models/expnet.onnx [--model B.onnx] [--labels outputs/labels/lfw-expressions.jsonl]

Prints JSON: for each model and view folder, the mean geodesic error (degrees) and the number of
views in each abs(yaw) bin (0-30, 30-60, 60-90) and pitch bin (the true pitch, degrees; positive
is the face turned up); with ``--labels``, also how the pitch of that label file's faces (the
views' sources) is spread.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from expnet.evaluation.compare import view_errors
from expnet.evaluation.pose import yaw_bins
from expnet.io.labels import is_fitted, iter_rows

PITCH_EDGES = (-90, -25, -10, 10, 25, 90)


def by_pitch(model: str, views: Path) -> dict:
    """{yaw bin: {pitch bin: {"mean", "views"}}} of one model on one folder of views."""
    errors = view_errors(model, views)
    pitch_of = {Path(r["image"]).name: r["pose"]["pitch"] for r in iter_rows(views / "labels.jsonl") if is_fitted(r)}
    names = list(errors)
    yaw = np.array([errors[k][0] for k in names])
    err = np.array([errors[k][1] for k in names])
    pitch = np.array([pitch_of[k] for k in names])
    out = {}
    for yaw_name, in_yaw in yaw_bins(yaw).items():
        cells = {}
        for lo, hi in zip(PITCH_EDGES[:-1], PITCH_EDGES[1:]):
            inside = in_yaw & (pitch >= lo) & (pitch < hi)
            cells[f"{lo}..{hi}"] = {"mean": round(float(err[inside].mean()), 2) if inside.any() else None,
                                    "views": int(inside.sum())}
        out[yaw_name] = cells
    return out


def pitch_spread(labels: Path) -> dict:
    """Mean and median pitch of a label file's fitted faces, and the share beyond +-10 degrees."""
    pitch = np.array([r["pose"]["pitch"] for r in iter_rows(labels) if is_fitted(r)])
    return {"faces": len(pitch), "mean": round(float(pitch.mean()), 2),
            "median": round(float(np.median(pitch)), 2),
            "share_below_-10": round(float((pitch < -10).mean()), 3),
            "share_above_10": round(float((pitch > 10).mean()), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--views", nargs="+", type=Path, required=True, help="folders of expnet profile")
    ap.add_argument("--model", action="append", required=True, help="an ONNX model (repeat for more)")
    ap.add_argument("--labels", type=Path, help="the views' source label file: its pitch spread")
    args = ap.parse_args()
    out = {m: {v.name: by_pitch(m, v) for v in args.views} for m in args.model}
    if args.labels:
        out["source_pitch"] = pitch_spread(args.labels)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

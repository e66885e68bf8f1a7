"""Held-out views scored by how much the two teachers disagree on each view's source face.

A profiled view's label is its source face's pose from the label file it was made from (the fit
of dlib's landmarks) turned by a known rotation, so it carries that teacher's reading of the
source. Where the fit and FaceMesh's pose (``expnet label --pose mesh``) read the source alike,
the label is the same under either teacher; where they disagree, a network that learned the
other teacher on real faces is scored against the fit's reading. This splits the views into
thirds by that disagreement (the geodesic angle between the two poses of the source) and tests
each model against each reference within each third (Wilcoxon, as ``expnet evaluate compare``).

    python scripts/views_by_teacher.py --views outputs/profiled/lfw-val-3v \
        --fit-labels outputs/labels/lfw-expressions.jsonl \
        --mesh-labels outputs/labels/lfw-expressions-meshpose.jsonl \
        --model A.onnx [--model B.onnx] --reference R.onnx [--reference S.onnx]

Prints JSON.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from expnet.evaluation.compare import pose_paired_test, view_errors
from expnet.face.pose import rotation_angle
from expnet.io.labels import is_fitted, iter_rows


def source_disagreement(views: Path, fit_labels: Path, mesh_labels: Path) -> dict[str, float]:
    """View file name -> geodesic angle (degrees) between its source's two teacher poses."""
    fit = {r["image"]: r["pose"]["rotation"] for r in iter_rows(fit_labels) if is_fitted(r)}
    mesh = {r["image"]: r["pose"]["rotation"] for r in iter_rows(mesh_labels) if is_fitted(r)}
    rows = [r for r in iter_rows(views / "labels.jsonl") if is_fitted(r)
            and r["profiled_from"] in fit and r["profiled_from"] in mesh]
    angles = rotation_angle(np.array([fit[r["profiled_from"]] for r in rows]),
                            np.array([mesh[r["profiled_from"]] for r in rows]))
    return {Path(r["image"]).name: float(a) for r, a in zip(rows, angles)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", nargs="+", required=True)
    parser.add_argument("--fit-labels", required=True)
    parser.add_argument("--mesh-labels", required=True)
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--reference", action="append", required=True)
    args = parser.parse_args()
    out = {}
    for folder in map(Path, args.views):
        apart = source_disagreement(folder, Path(args.fit_labels), Path(args.mesh_labels))
        errors = {m: {k: e for k, (_, e) in view_errors(m, folder).items() if k in apart}
                  for m in args.model + args.reference}
        names = sorted(set.intersection(*(set(e) for e in errors.values())))
        edges = np.quantile([apart[k] for k in names], [0, 1 / 3, 2 / 3, 1])
        thirds = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = [k for k in names if lo <= apart[k] <= hi]
            third = {"disagreement_degrees": [round(float(lo), 2), round(float(hi), 2)], "views": len(inside),
                     "mean_error": {m: round(float(np.mean([errors[m][k] for k in inside])), 3) for m in errors},
                     "tests": []}
            for m in args.model:
                for r in args.reference:
                    _, error, ref_error, closer, ref_closer, p = pose_paired_test(
                        {k: errors[m][k] for k in inside}, {k: errors[r][k] for k in inside})
                    third["tests"].append({"model": m, "reference": r, "model_closer": closer,
                                           "reference_closer": ref_closer, "p": round(float(p), 4)})
            thirds.append(third)
        out[folder.name] = thirds
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

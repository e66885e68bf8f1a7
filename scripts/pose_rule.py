"""The pose rule of docs/results/models.md ("How candidates are judged"), read off a report of
``scripts/compare_turned_heads.sh``: a recipe replaces the shipped one when both of its seeds read
the held-out views closer than both references (Wilcoxon, p < 0.05, face-only and head views: 8
tests), no paired test on AFLW2000-3D's samples (either box source) says it is worse, and its
two-seed mean there is within 0.4 degrees of the references' with either box source.

    python scripts/pose_rule.py reports/experiments/turned-heads/compare-glasses \\
        split-expression-s1+pose-mesh-big-glasses-s0 split-expression-s1+pose-mesh-big-glasses-s1

Prints the verdict and every figure it rests on as JSON; exit status 0 if the recipe passes, 1 if not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

VIEWS = ("lfw-val-3v", "lfw-val-head-3v")  # the rule's view sets (others in the report are shown beside)
MARGIN = 0.4  # degrees: what two seeds of one recipe move the AFLW2000-3D mean


def judge(results: dict, seeds: list[str]) -> dict:
    """The rule's verdict on ``seeds`` (model folder names) from a compare report's results."""
    def model(name: str) -> str:
        found = [m for m in results["models"] + results["references"] if Path(m).parent.name == name]
        if not found:
            raise SystemExit(f"{name} is not among the report's models")
        return found[0]
    chosen = [model(s) for s in seeds]
    tests = [t for t in results["pose_tests"] if t["model"] in chosen]
    views = [t for t in tests if t["items"] in VIEWS]
    aflw = [t for t in tests if t["items"] == "aflw"]
    means = {boxes: {"candidates": _aflw_mean(results, chosen, boxes),
                     "references": _aflw_mean(results, results["references"], boxes)} for boxes in ("gt", "own")}
    checks = {
        "views: every test better": len(views) == 4 * len(seeds) and all(t["verdict"] == "better" for t in views),
        "aflw: no test worse": not any(t["verdict"] == "worse" for t in aflw),
        "aflw: two-seed mean within 0.4 of the references'": all(
            m["candidates"] <= m["references"] + MARGIN for m in means.values()),
    }
    return {"seeds": seeds, "passes": all(checks.values()), "checks": checks, "aflw_means": means,
            "view_tests": [{k: t[k] for k in ("model", "reference", "items", "error", "reference_error", "p_value",
                                               "verdict")} for t in views],
            "aflw_tests": [{k: t[k] for k in ("model", "reference", "boxes", "error", "reference_error", "p_value",
                                               "verdict")} for t in aflw]}


def _aflw_mean(results: dict, models: list[str], boxes: str) -> float:
    """The models' mean AFLW2000-3D error (the mean of yaw, pitch and roll) with one box source."""
    return round(sum(next(s["mae"]["mean"] for s in results["pose"][m] if s["boxes"] == boxes)
                     for m in models) / len(models), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", help="a folder of scripts/compare_turned_heads.sh (its results.json)")
    parser.add_argument("seeds", nargs="+", help="the recipe's seeds: the model folders' names")
    args = parser.parse_args()
    verdict = judge(json.loads((Path(args.report) / "results.json").read_text()), args.seeds)
    print(json.dumps(verdict, indent=1))
    return 0 if verdict["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())

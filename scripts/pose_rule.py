"""The pose rule of docs/results/models.md ("How candidates are judged"), read off a report of
``scripts/compare_turned_heads.sh``. Two versions, both kept so every verdict can be read again:

- ``fifth`` (fifth to eleventh rounds): both seeds read the yaw-spread held-out views closer than
  both references (Wilcoxon, p < 0.05, face-only and head views: 8 tests, every one better).
- ``twelfth`` (from the twelfth round, written before its candidates were scored): the pitched
  held-out views join the yaw-spread ones (4 sets, 16 tests); no test may say worse, and at least
  two sets must be won (all four of a set's tests better). A recipe aimed at pitch can pass
  without a gain on yaw, and none can pass with a loss anywhere.

Both then ask that no paired test on AFLW2000-3D's samples (either box source) says the recipe is
worse, and that its two-seed mean there is within 0.4 degrees of the references' with either box
source.

    python scripts/pose_rule.py reports/experiments/turned-heads/compare-glasses \\
        split-expression-s1+pose-mesh-big-glasses-s0 split-expression-s1+pose-mesh-big-glasses-s1 --rule fifth

``--also REPORT`` adds the view tests of a further report of the same models and references (views
scored later, as the eleventh round's pitched ones).

Prints the verdict and every figure it rests on as JSON; exit status 0 if the recipe passes, 1 if not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

VIEWS = {  # each rule's view sets (others in the report are shown beside)
    "fifth": ("lfw-val-3v", "lfw-val-head-3v"),
    "twelfth": ("lfw-val-3v", "lfw-val-head-3v", "lfw-val-pitch", "lfw-val-head-pitch"),
}
SETS_TO_WIN = 2  # twelfth rule: sets whose every test must be better
MARGIN = 0.4  # degrees: what two seeds of one recipe move the AFLW2000-3D mean


def judge(results: dict, seeds: list[str], rule: str = "twelfth") -> dict:
    """The ``rule``'s verdict on ``seeds`` (model folder names) from a compare report's results."""
    def model(name: str) -> str:
        found = [m for m in results["models"] + results["references"] if Path(m).parent.name == name]
        if not found:
            raise SystemExit(f"{name} is not among the report's models")
        return found[0]
    chosen = [model(s) for s in seeds]
    tests = [t for t in results["pose_tests"] if t["model"] in chosen]
    sets = VIEWS[rule]
    views = [t for t in tests if t["items"] in sets]
    aflw = [t for t in tests if t["items"] == "aflw"]
    per_set = len(seeds) * len(results["references"])
    won = [s for s in sets if sum(t["items"] == s and t["verdict"] == "better" for t in views) == per_set]
    means = {boxes: {"candidates": _aflw_mean(results, chosen, boxes),
                     "references": _aflw_mean(results, results["references"], boxes)} for boxes in ("gt", "own")}
    checks = {f"views: all {len(sets)} sets in the report": len(views) == per_set * len(sets)}
    if rule == "fifth":
        checks["views: every test better"] = all(t["verdict"] == "better" for t in views)
    else:
        checks["views: no test worse"] = not any(t["verdict"] == "worse" for t in views)
        checks[f"views: at least {SETS_TO_WIN} sets won"] = len(won) >= SETS_TO_WIN
    checks["aflw: no test worse"] = not any(t["verdict"] == "worse" for t in aflw)
    checks[f"aflw: two-seed mean within {MARGIN} of the references'"] = all(
        m["candidates"] <= m["references"] + MARGIN for m in means.values())
    return {"rule": rule, "seeds": seeds, "passes": all(checks.values()), "checks": checks, "sets_won": won,
            "aflw_means": means,
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
    parser.add_argument("--rule", choices=sorted(VIEWS), default="twelfth",
                        help="which version of the rule (default: twelfth, the current one)")
    parser.add_argument("--also", nargs="*", default=[], metavar="REPORT",
                        help="further reports of the same references whose view tests join the main one's")
    args = parser.parse_args()
    results = json.loads((Path(args.report) / "results.json").read_text())
    for extra in args.also:
        more = json.loads((Path(extra) / "results.json").read_text())
        if sorted(more["references"]) != sorted(results["references"]):
            raise SystemExit(f"{extra} has other references than {args.report}")
        results["pose_tests"] += [t for t in more["pose_tests"] if t["items"] != "aflw"]
    verdict = judge(results, args.seeds, args.rule)
    print(json.dumps(verdict, indent=1))
    return 0 if verdict["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())

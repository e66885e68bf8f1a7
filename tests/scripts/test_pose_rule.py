"""scripts/pose_rule.py: the pose rule's verdict read off a compare report, in both its versions."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from pose_rule import judge  # noqa: E402

REFS = ["r/ref-s0/expnet.onnx", "r/ref-s1/expnet.onnx"]
SEEDS = ["r/new-s0/expnet.onnx", "r/new-s1/expnet.onnx"]
SETS = ("lfw-val-3v", "lfw-val-head-3v", "lfw-val-pitch", "lfw-val-head-pitch")


def _results(verdicts: dict[str, str], aflw: str = "no difference", aflw_mean: float = 4.0) -> dict:
    """A compare report's results: every seed against every reference on each view set."""
    tests = [{"model": m, "reference": r, "items": s, "error": 4.0, "reference_error": 4.1, "p_value": 0.01,
              "verdict": v} for s, v in verdicts.items() for m in SEEDS for r in REFS]
    tests += [{"model": m, "reference": r, "items": "aflw", "boxes": b, "error": 4.0, "reference_error": 4.0,
               "p_value": 0.5, "verdict": aflw} for m in SEEDS for r in REFS for b in ("gt", "own")]
    pose = {m: [{"boxes": b, "mae": {"mean": aflw_mean if m in SEEDS else 4.0}} for b in ("gt", "own")]
            for m in SEEDS + REFS}
    return {"models": SEEDS, "references": REFS, "pose_tests": tests, "pose": pose}


def test_the_fifth_rule_needs_every_yaw_view_test_better():
    seeds = ["new-s0", "new-s1"]
    assert judge(_results({"lfw-val-3v": "better", "lfw-val-head-3v": "better"}), seeds, "fifth")["passes"]
    tie = judge(_results({"lfw-val-3v": "better", "lfw-val-head-3v": "no difference"}), seeds, "fifth")
    assert not tie["passes"] and not tie["checks"]["views: every test better"]


@pytest.mark.parametrize("verdicts, passes", [
    # a pitch recipe: both pitched sets won, the yaw sets tied
    (dict(zip(SETS, ["no difference", "no difference", "better", "better"])), True),
    # one set won is not enough
    (dict(zip(SETS, ["better", "no difference", "no difference", "no difference"])), False),
    # a loss on any set fails, whatever is won
    (dict(zip(SETS, ["better", "worse", "better", "better"])), False),
])
def test_the_twelfth_rule_counts_sets_won_and_allows_no_loss(verdicts, passes):
    verdict = judge(_results(verdicts), ["new-s0", "new-s1"], "twelfth")
    assert verdict["passes"] is passes
    assert verdict["sets_won"] == [s for s in SETS if verdicts[s] == "better"]


def test_missing_sets_and_aflw_failures_fail_the_rule():
    both_pitched = dict(zip(SETS, ["no difference", "no difference", "better", "better"]))
    missing = judge(_results({k: v for k, v in both_pitched.items() if "pitch" in k}), ["new-s0", "new-s1"])
    assert not missing["checks"]["views: all 4 sets in the report"]
    assert not judge(_results(both_pitched, aflw="worse"), ["new-s0", "new-s1"])["passes"]
    far = judge(_results(both_pitched, aflw_mean=4.5), ["new-s0", "new-s1"])
    assert not far["passes"] and far["aflw_means"]["gt"] == {"candidates": 4.5, "references": 4.0}


def test_the_command_joins_a_later_reports_views_and_sets_its_exit_status(tmp_path):
    yaw = _results({"lfw-val-3v": "no difference", "lfw-val-head-3v": "no difference"})
    pitched = _results({"lfw-val-pitch": "better", "lfw-val-head-pitch": "better"})
    for name, results in (("yaw", yaw), ("pitched", pitched)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(results))
    command = [sys.executable, str(SCRIPTS / "pose_rule.py"), str(tmp_path / "yaw"), "new-s0", "new-s1"]
    alone = subprocess.run(command, capture_output=True, text=True)
    joined = subprocess.run(command + ["--also", str(tmp_path / "pitched")], capture_output=True, text=True)
    assert alone.returncode == 1 and joined.returncode == 0, joined.stderr
    assert json.loads(joined.stdout)["sets_won"] == ["lfw-val-pitch", "lfw-val-head-pitch"]

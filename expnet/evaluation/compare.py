"""``expnet evaluate compare``: models scored on the same items, with paired tests.

One training against one other training is not a decision: CK+48's 327 clips move about 2 points
and FER-2013 validation about 0.8 between identical trainings. This module scores every model on
the same items (the 5-NN protocol of :mod:`expnet.evaluation.knn`, each item right or wrong),
compares each candidate with each reference model by the exact McNemar test on the items where
exactly one of the two is right, and puts the candidate's accuracy beside the mean of the
references (e.g. the shipped recipe trained with two seeds). Head pose (AFLW2000-3D-style folder,
both box sources) is compared face by face as well (Wilcoxon signed-rank test on each face's mean
angle error), and expression under pose (a folder of ``expnet profile --yaws``) is reported
beside, with how much of the true yaw each model reads on the profiled views. Folders of profiled
views of held-out faces (``--pose-views``: thousands of views whose true rotation is known, where
AFLW2000-3D's samples are 16 faces) score each model's rotation view by view (the geodesic angle
to the truth, on the label's box), tested against each reference the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import binomtest, wilcoxon

from expnet.assets.datasets import CKPLUS48, FER2013_VALIDATION, LFW_EXPRESSIONS
from expnet.evaluation.datasets import EmotionSet, load_dataset, load_profiled
from expnet.evaluation.experiment import cached_features
from expnet.evaluation.knn import knn_leave_group_out, pool
from expnet.io.atomic import write_text
from expnet.io.labels import is_fitted, iter_rows

# (dataset, scale) pairs every comparison scores: the bars, on the shared layouts
EMOTION_ITEMS = (("fer2013", FER2013_VALIDATION, 1.0), ("ckplus48", CKPLUS48, 1.0), ("ckplus48", CKPLUS48, 0.2),
                 ("lfw-expressions", LFW_EXPRESSIONS, 1.0))


@dataclass
class ItemScores:
    """One model on one dataset at one scale: each unit (image or clip) right or wrong."""

    dataset: str
    scale: float
    units: list[str]
    correct: np.ndarray  # (U,) bool

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self.correct) else float("nan")


def _verdict(p_value: float, model_ahead: bool) -> str:
    """A paired test's word for the report (two-sided, at p < 0.05)."""
    if p_value >= 0.05:
        return "no difference at p < 0.05"
    return "better" if model_ahead else "worse"


@dataclass
class PairedTest:
    """Exact McNemar test of a model against a reference on the same units."""

    dataset: str
    scale: float
    model: str
    reference: str
    accuracy: float
    reference_accuracy: float
    only_model: int       # units the model gets right and the reference wrong
    only_reference: int   # the other way round
    p_value: float        # two-sided

    @property
    def verdict(self) -> str:
        return _verdict(self.p_value, self.only_model > self.only_reference)


@dataclass
class PosePairedTest:
    """Wilcoxon signed-rank test of a model's per-face pose error against a reference's."""

    boxes: str            # "gt" or "own"; "label" on profiled views
    model: str
    reference: str
    faces: int            # faces both found
    error: float          # mean over those faces of the mean yaw/pitch/roll error (views: geodesic), degrees
    reference_error: float
    lower_model: int      # faces the model reads closer than the reference
    lower_reference: int  # the other way round
    p_value: float        # two-sided
    items: str = "aflw"   # the AFLW2000-3D-style folder, or the profiled views' folder name

    @property
    def verdict(self) -> str:
        return _verdict(self.p_value, self.error < self.reference_error)


def pose_paired_test(model_errors: dict[str, float], reference_errors: dict[str, float]
                     ) -> tuple[int, float, float, int, int, float]:
    """Faces both found, both mean errors, the faces each reads closer, and the two-sided
    Wilcoxon signed-rank p-value (1 when every face ties)."""
    faces = sorted(set(model_errors) & set(reference_errors))
    if not faces:
        return 0, float("nan"), float("nan"), 0, 0, 1.0
    a = np.array([model_errors[f] for f in faces], float)
    b = np.array([reference_errors[f] for f in faces], float)
    diff = a - b
    p = 1.0 if not np.any(diff) else float(wilcoxon(a, b).pvalue)
    return len(faces), float(a.mean()), float(b.mean()), int((diff < 0).sum()), int((diff > 0).sum()), p


def _face_errors(score: dict) -> dict[str, float]:
    """Image -> mean of the yaw, pitch and roll errors, for one ``evaluate_pose`` score (faces found)."""
    return {r["image"]: float(np.mean(r["abs_error"])) for r in score["per_image"] if r["abs_error"] is not None}


@dataclass
class Comparison:
    """Everything ``expnet evaluate compare`` measured."""

    models: list[str]
    references: list[str]
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)   # model -> "dataset@scale" -> acc
    reference_mean: dict[str, float] = field(default_factory=dict)        # "dataset@scale" -> mean
    tests: list[PairedTest] = field(default_factory=list)
    pose: dict[str, list[dict]] = field(default_factory=dict)             # model -> pose scores
    pose_tests: list[PosePairedTest] = field(default_factory=list)
    yaw_ratio: dict[str, dict[str, dict]] = field(default_factory=dict)   # model -> yaw -> ratio
    view_pose: dict[str, dict[str, dict]] = field(default_factory=dict)   # model -> views folder -> errors
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"models": self.models, "references": self.references, "accuracy": self.accuracy,
                "reference_mean": self.reference_mean,
                "tests": [asdict(t) | {"verdict": t.verdict} for t in self.tests],
                "pose": self.pose, "pose_tests": [asdict(t) | {"verdict": t.verdict} for t in self.pose_tests],
                "yaw_ratio": self.yaw_ratio, "view_pose": self.view_pose, "meta": self.meta}


def mcnemar(model_correct: np.ndarray, reference_correct: np.ndarray) -> tuple[int, int, float]:
    """Discordant counts (model only, reference only) and the exact two-sided McNemar p-value."""
    a, b = np.asarray(model_correct, bool), np.asarray(reference_correct, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired tests need the same items; got {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(binomtest(min(only_a, only_b), n, 0.5).pvalue)
    return only_a, only_b, p


def item_scores(model: str | os.PathLike, data: EmotionSet, scale: float, cache_dir: str | os.PathLike,
                progress: bool = True, k: int = 5) -> ItemScores:
    """The 5-NN protocol for one model, keeping each unit's verdict (same boxes as ``evaluate emotion``)."""
    from expnet.evaluation.methods import ExpNetFeatures
    feats = cached_features(ExpNetFeatures(str(model)), data, scale, False, Path(cache_dir), progress)
    x, y, g, units = pool(feats, data.labels, data.groups, data.clips)
    pred, _ = knn_leave_group_out(x, y, g, k, data.classes)
    return ItemScores(data.name, scale, units.tolist(), np.array([p == t for p, t in zip(pred, y)], bool))


def yaw_ratio(model: str | os.PathLike, profiled: str | os.PathLike, batch: int = 64) -> dict[str, dict]:
    """Per view yaw of a ``profile --yaws --crop`` folder: the mean predicted abs(yaw) over the
    mean true abs(yaw) (1: no shrinking towards frontal), and the mean absolute yaw error."""
    from expnet.inference.predictor import ExpNet
    from expnet.io.images import ImageError, load_image
    net = ExpNet(model, detector=None)
    rows = [r for r in iter_rows(Path(profiled) / "labels.jsonl") if is_fitted(r)]
    by_yaw: dict[float, list[tuple[float, float]]] = {}
    images, truth = [], []
    for r in rows:
        try:
            images.append(load_image(r["image"], "L"))
        except ImageError:
            continue
        truth.append((round(float(r["view"]["yaw"]), 1), float(r["pose"]["yaw"])))
    predicted = [p.faces[0].pose.yaw if p.faces else np.nan for p in net.predict_many(images, batch_size=batch)]
    for (view, true), pred in zip(truth, predicted):
        by_yaw.setdefault(view, []).append((true, pred))
    out = {}
    for view, pairs in sorted(by_yaw.items()):
        true, pred = np.array(pairs).T
        ok = np.isfinite(pred)
        mean_true = float(np.abs(true[ok]).mean())
        out[f"{view:g}"] = {"n": int(ok.sum()), "mean_true_abs_yaw": mean_true,
                            "mean_predicted_abs_yaw": float(np.abs(pred[ok]).mean()),
                            "ratio": float(np.abs(pred[ok]).mean() / mean_true) if mean_true > 1 else None,
                            "yaw_mae": float(np.abs(pred[ok] - true[ok]).mean())}
    return out


def view_errors(model: str | os.PathLike, views: str | os.PathLike, batch: int = 64) -> dict[str, tuple[float, float]]:
    """Image -> (true abs(yaw), geodesic error in degrees) of a model's rotation on a folder of
    profiled views (``expnet profile`` output: each row's box and true rotation); views with no
    image or no answer are left out."""
    from expnet.face.pose import rotation_angle
    from expnet.inference.predictor import ExpNet
    rows = [r for r in iter_rows(Path(views) / "labels.jsonl") if is_fitted(r) and Path(r["image"]).exists()]
    net = ExpNet(model, detector=None)
    out = {}
    for r, pred in zip(rows, net.predict_many([r["image"] for r in rows], [[r["box"]] for r in rows],
                                              batch_size=batch)):
        if pred.faces:
            error = rotation_angle(np.asarray(r["pose"]["rotation"]), pred.faces[0].pose.rotation)
            out[Path(r["image"]).name] = (abs(float(r["pose"]["yaw"])), float(error))
    return out


def _view_summary(errors: dict[str, tuple[float, float]]) -> dict:
    """Mean and median geodesic error, and the mean by abs(yaw) bin (with counts)."""
    from expnet.evaluation.pose import yaw_bins
    yaw, err = np.array(list(errors.values()), float).reshape(-1, 2).T
    out = {"views": len(err), "mean": float(err.mean()) if len(err) else float("nan"),
           "median": float(np.median(err)) if len(err) else float("nan")}
    for name, inside in yaw_bins(yaw).items():
        out[name] = {"views": int(inside.sum()), "mean": float(err[inside].mean()) if inside.any() else float("nan")}
    return out


def emotion_sets(data: str | os.PathLike | None = None, profiled: str | os.PathLike | None = None
                 ) -> list[tuple[EmotionSet, float]]:
    """The (dataset, scale) pairs of a comparison: FER-2013 validation, CK+48 peak at x1 and
    x0.2 and lfw-expressions validation from ``data`` (the shared layout), and one set per yaw of a
    ``profile --yaws`` folder."""
    sets: list[tuple[EmotionSet, float]] = []
    if data is not None:
        loaded: dict[str, EmotionSet] = {}
        for name, sub, scale in EMOTION_ITEMS:
            if name not in loaded:
                loaded[name] = load_dataset(name, Path(data) / sub)
            sets.append((loaded[name], scale))
    if profiled is not None:
        sets += [(s, 1.0) for s in load_profiled(profiled)]
    return sets


def compare_models(models: list[str], references: list[str] | None = None,
                   sets: list[tuple[EmotionSet, float]] | None = None, profiled: str | os.PathLike | None = None,
                   aflw: str | os.PathLike | None = None, cache_dir: str | os.PathLike = "outputs/cache/features",
                   progress: bool = True, pose_views: list[str | os.PathLike] | None = None) -> Comparison:
    """Score ``models`` (and ``references``, default: the first model) on the same items.

    Parameters
    ----------
    models : list of paths
        ONNX models to compare.
    references : list of paths, optional
        Models every other model is tested against (paired); their mean accuracy is the bar.
    sets : list of (EmotionSet, scale), optional
        The emotion items (see :func:`emotion_sets`).
    profiled : path, optional
        A folder of ``expnet profile --yaws ... --crop PX`` views: the predicted over the true yaw.
    aflw : path, optional
        An AFLW2000-3D-style folder (head pose with both box sources).
    pose_views : list of paths, optional
        Folders of ``expnet profile`` views of held-out faces: each model's rotation error view by
        view, tested against each reference (Wilcoxon signed-rank).
    """
    references = list(references or models[:1])
    every = list(dict.fromkeys(references + list(models)))
    result = Comparison([str(m) for m in models], [str(r) for r in references])
    sets = sets or []
    scores: dict[str, dict[str, ItemScores]] = {}
    for m in every:
        scores[m] = {f"{d.name}@{scale:g}": item_scores(m, d, scale, cache_dir, progress) for d, scale in sets}
        result.accuracy[str(m)] = {key: s.accuracy for key, s in scores[m].items()}
    for key in (f"{d.name}@{scale:g}" for d, scale in sets):
        result.reference_mean[key] = float(np.mean([scores[r][key].accuracy for r in references]))
        for m in models:
            for r in references:
                if m == r:
                    continue
                a, b = scores[m][key], scores[r][key]
                only_m, only_r, p = mcnemar(a.correct, b.correct)
                result.tests.append(PairedTest(a.dataset, a.scale, str(m), str(r), a.accuracy, b.accuracy,
                                               only_m, only_r, p))
    if aflw is not None:
        from expnet.evaluation.pose import evaluate_pose
        for m in every:
            result.pose[str(m)] = []
            for own in (False, True):
                _, pose_scores, _ = evaluate_pose(aflw, ["expnet"], own, str(m))
                result.pose[str(m)] += [asdict(s) for s in pose_scores]
        for m in models:
            for r in references:
                if m == r:
                    continue
                for score, ref_score in zip(result.pose[str(m)], result.pose[str(r)]):
                    stats = pose_paired_test(_face_errors(score), _face_errors(ref_score))
                    result.pose_tests.append(PosePairedTest(score["boxes"], str(m), str(r), *stats))
    for folder in pose_views or []:
        name = Path(folder).name
        errors = {m: view_errors(m, folder) for m in every}
        for m in every:
            result.view_pose.setdefault(str(m), {})[name] = _view_summary(errors[m])
        for m in models:
            for r in references:
                if m != r:
                    stats = pose_paired_test({k: e for k, (_, e) in errors[m].items()},
                                             {k: e for k, (_, e) in errors[r].items()})
                    result.pose_tests.append(PosePairedTest("label", str(m), str(r), *stats, items=name))
    if profiled is not None:
        result.yaw_ratio = {str(m): yaw_ratio(m, profiled) for m in every}
    return result


def write_compare_report(folder: str | os.PathLike, result: Comparison) -> Path:
    """``report.md`` and ``results.json`` of a comparison."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = {m: _short(m) for m in dict.fromkeys(result.references + result.models)}
    lines = ["# Models compared on the same items", "",
             f"Command: `{result.meta.get('command', 'expnet evaluate compare')}`.", "",
             "References (their mean is the bar): " + ", ".join(f"`{names[r]}`" for r in result.references) + "."]
    if result.reference_mean:  # a pose-only comparison scores no emotion set
        lines += ["", "## 5-NN emotion accuracy (%)", "",
                  "| model | " + " | ".join(result.reference_mean) + " |",
                  "|---|" + "---|" * len(result.reference_mean)]
        for m, acc in result.accuracy.items():
            lines.append(f"| {names[m]} | " + " | ".join(f"{100 * acc[k]:.1f}" for k in result.reference_mean) + " |")
        lines.append("| *reference mean* | "
                     + " | ".join(f"{100 * v:.1f}" for v in result.reference_mean.values()) + " |")
    if result.tests:
        lines += ["", "## Paired tests (exact McNemar, two-sided)", "",
                  "Units right for the model only / for the reference only, and the p-value.", "",
                  "| model | reference | dataset | accuracy | reference | model only | reference only | p | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in result.tests:
            lines.append(f"| {names[t.model]} | {names[t.reference]} | {t.dataset}@{t.scale:g} | "
                         f"{100 * t.accuracy:.1f} | {100 * t.reference_accuracy:.1f} | {t.only_model} | "
                         f"{t.only_reference} | {t.p_value:.3f} | {t.verdict} |")
    if result.pose:
        bins = list(next(iter(result.pose.values()))[0]["mae_by_yaw"])
        lines += ["", "## Head pose (MAE, degrees)", "",
                  "The last column is the rotation's geodesic error (mean degrees), free of the Euler angles' "
                  "coupling past 60 degrees of yaw.", "",
                  "| model | boxes | found | yaw | pitch | roll | mean | " + " | ".join(f"abs(yaw) {b}" for b in bins)
                  + " | rotation |", "|---|---|---|---|---|---|---|" + "---|" * (len(bins) + 1)]
        for m, entries in result.pose.items():
            for s in entries:
                mae = s["mae"]
                lines.append(f"| {names[m]} | {s['boxes']} | {s['found']}/{s['images']} | {mae['yaw']:.1f} | "
                             f"{mae['pitch']:.1f} | {mae['roll']:.1f} | {mae['mean']:.1f} | "
                             + " | ".join(f"{s['mae_by_yaw'][b]['mean']:.1f}" for b in bins)
                             + f" | {s['rotation']['mean']:.1f} |")
    if result.pose_tests:
        lines += ["", "## Paired tests on head pose (Wilcoxon signed-rank, two-sided)", "",
                  "Each face's error against the reference's on the same face (AFLW2000-3D: the mean of the yaw, "
                  "pitch and roll errors; `--pose-views` folders: the geodesic error); the faces each model reads "
                  "closer.", "",
                  "| model | reference | items | boxes | faces | error | reference | model closer | reference closer "
                  "| p | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for t in result.pose_tests:
            lines.append(f"| {names[t.model]} | {names[t.reference]} | {t.items} | {t.boxes} | {t.faces} | "
                         f"{t.error:.2f} | {t.reference_error:.2f} | {t.lower_model} | {t.lower_reference} | "
                         f"{t.p_value:.3f} | {t.verdict} |")
    if result.view_pose:
        from expnet.evaluation.pose import YAW_BINS
        bins = [f"{lo}-{hi}" for lo, hi in YAW_BINS]
        lines += ["", "## Rotation error on held-out faces with a known pose (geodesic, degrees)", "",
                  "Each `--pose-views` folder: profiled views of held-out faces (their rendered pose) or any "
                  "labelled faces (their label's pose).", "",
                  "| model | views | count | mean | median | " + " | ".join(f"abs(yaw) {b}" for b in bins) + " |",
                  "|---|---|---|---|---|" + "---|" * len(bins)]
        for m, by_folder in result.view_pose.items():
            for name, v in by_folder.items():
                lines.append(f"| {names[m]} | {name} | {v['views']} | {v['mean']:.2f} | {v['median']:.2f} | "
                             + " | ".join(f"{v[b]['mean']:.2f}" for b in bins) + " |")
    if result.yaw_ratio:
        yaws = [y for y in next(iter(result.yaw_ratio.values())) if float(y) != 0]
        lines += ["", "## Predicted over true abs(yaw) on the profiled views", "",
                  "| model | " + " | ".join(f"yaw {y}" for y in yaws) + " |", "|---|" + "---|" * len(yaws)]
        for m, by_yaw in result.yaw_ratio.items():
            lines.append(f"| {names[m]} | " + " | ".join(f"{by_yaw[y]['ratio']:.2f}" for y in yaws) + " |")
    write_text(folder / "report.md", "\n".join(lines) + "\n")
    write_text(folder / "results.json", json.dumps(result.to_dict(), indent=2) + "\n")
    return folder / "report.md"


def _short(path: str) -> str:
    """A model's name in tables: its folder and file (``seed-1/expnet.onnx``)."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name

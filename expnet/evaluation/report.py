"""The evaluation report: ``report.md``, ``results.json`` and PNG figures (confusion matrices at
scale 1.0, accuracy versus scale, runtime table)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from expnet.evaluation.knn import EmotionScore
from expnet.io.atomic import write_text
from expnet.io.figures import pyplot, save_figure


def _plt():
    return pyplot()


def _save(fig, path: Path) -> None:
    save_figure(fig, path, dpi=110, tight=True)


def plot_confusion(score: EmotionScore, title: str, path: Path) -> None:
    plt = _plt()
    conf = score.confusion.astype(float)
    rows = conf.sum(1, keepdims=True)
    norm = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    n = len(score.classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{100 * norm[i, j]:.0f}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xticks(range(n), score.classes, rotation=45, ha="right")
    ax.set_yticks(range(n), score.classes)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    ax.set_title(f"{title}\naccuracy {100 * score.accuracy:.1f}%, per-class {100 * score.mean_class_accuracy:.1f}%",
                 fontsize=9)
    _save(fig, path)


def plot_scales(results: dict[str, dict[float, EmotionScore]], title: str, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for method, by_scale in results.items():
        scales = sorted(by_scale, reverse=True)
        ax.plot(scales, [100 * by_scale[s].accuracy for s in scales], "o-", label=method)
    ax.set_xlabel("image scale"), ax.set_ylabel("5-NN accuracy (%)")
    ax.invert_xaxis()
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def write_report(out: Path, results: dict[str, dict[str, dict[float, EmotionScore]]],
                 runtime: dict | None, meta: dict) -> Path:
    """results: dataset -> method -> scale -> score."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# expnet evaluation report", "",
             f"Command: `{meta.get('command', '')}`", "",
             "Protocol: per item, the expression coefficients divided by the prior std of each "
             "component (whitened); clips pooled by the mean of their frames; 5-nearest-neighbour "
             "(Euclidean, majority vote, ties to the nearest) leave-one-group-out. Images are "
             "downscaled (area) to each scale before any method sees them; "
             + ("each method runs its own detector." if meta.get("own_detector") else
                "the face box is the same for every method (the whole crop, or the dlib-hog box "
                "at full scale) and scaled with the image."),
             "An item where a method finds no face counts as misclassified (coverage below).", ""]
    js = {"meta": meta, "results": {}, "runtime": runtime}
    for dataset, by_method in results.items():
        scales = sorted({s for m in by_method.values() for s in m}, reverse=True)
        any_score = next(iter(next(iter(by_method.values())).values()))
        lines += [f"## {dataset} ({any_score.n} items, {len(any_score.classes)} classes)", "",
                  "| method | " + " | ".join(f"x{s:g}" for s in scales) + " | per-class @1.0 | coverage @1.0 |",
                  "|---|" + "---|" * (len(scales) + 2)]
        js["results"][dataset] = {}
        for method, by_scale in by_method.items():
            cells = [f"{100 * by_scale[s].accuracy:.1f}" if s in by_scale else "" for s in scales]
            top = by_scale.get(1.0) or by_scale[max(by_scale)]
            lines.append(f"| {method} | " + " | ".join(cells)
                         + f" | {100 * top.mean_class_accuracy:.1f} | {100 * top.coverage:.0f}% |")
            js["results"][dataset][method] = {str(s): sc.to_dict() for s, sc in by_scale.items()}
            if method != "majority":
                png = out / f"confusion-{dataset}-{method.replace(':', '_')}.png"
                plot_confusion(top, f"{dataset}: {method} (scale 1.0)", png)
        lines.append("")
        if len(scales) > 1:  # one scale: nothing to plot against
            png = out / f"accuracy-vs-scale-{dataset}.png"
            plot_scales(by_method, f"{dataset}: accuracy vs. scale", png)
            lines += [f"![accuracy vs scale]({png.name})", ""]
        lines += [f"![{m}](confusion-{dataset}-{m.replace(':', '_')}.png)" for m in by_method if m != "majority"]
        lines.append("")
    lines += _yaw_section(results, out)
    if runtime:
        lines += ["## Runtime (ms per face, this machine)", "", "| stage | ms |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in runtime.items()]
        lines.append("")
    write_text(out / "report.md", "\n".join(lines) + "\n")
    write_text(out / "results.json", json.dumps(js, indent=1))
    return out / "report.md"


_YAW_SET = re.compile(r"^(.*)-yaw(-?\d+(?:\.\d+)?)$")


def _yaw_section(results: dict[str, dict[str, dict[float, EmotionScore]]], out: Path) -> list[str]:
    """Sets made by ``expnet profile --yaws`` (``<name>-yaw<deg>``): accuracy against yaw, a table
    and a PNG (the expression-under-pose experiment); nothing when there are none."""
    by_yaw = {float(m.group(2)): results[name] for name in results if (m := _YAW_SET.match(name))}
    if len(by_yaw) < 2:
        return []
    yaws = sorted(by_yaw)
    methods = list(dict.fromkeys(m for r in by_yaw.values() for m in r))

    def accuracy(yaw, method):
        by_scale = by_yaw[yaw].get(method)
        top = (by_scale.get(1.0) or by_scale[max(by_scale)]) if by_scale else None
        return None if top is None else 100 * top.accuracy

    lines = ["## Accuracy against yaw (scale 1.0)", "",
             "| method | " + " | ".join(f"yaw {y:g}" for y in yaws) + " |", "|---|" + "---|" * len(yaws)]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for method in methods:
        acc = [accuracy(y, method) for y in yaws]
        lines.append(f"| {method} | " + " | ".join("" if a is None else f"{a:.1f}" for a in acc) + " |")
        ax.plot(yaws, [np.nan if a is None else a for a in acc], "o-", label=method)
    ax.set_xlabel("yaw of the profiled view (degrees)"), ax.set_ylabel("5-NN accuracy (%)")
    ax.set_title("expression under pose", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, out / "accuracy-vs-yaw.png")
    return lines + ["", "![accuracy vs yaw](accuracy-vs-yaw.png)", ""]

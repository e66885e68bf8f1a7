"""The paper's quantitative protocol: k-nearest-neighbour emotion classification (Euclidean,
majority vote, ties broken by the nearest tied neighbour), leave-one-group-out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EmotionScore:
    accuracy: float
    mean_class_accuracy: float
    confusion: np.ndarray      # (C, C) counts: rows true, columns predicted
    classes: list[str]
    n: int
    coverage: float            # fraction of items with features (the rest count as wrong)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "mean_class_accuracy": self.mean_class_accuracy,
                "confusion": self.confusion.tolist(), "classes": self.classes, "n": self.n,
                "coverage": self.coverage}


def pool(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, units: np.ndarray):
    """Average the feature vectors of each unit (clip); NaN rows (no face) are left out of the mean.
    Returns pooled features, labels, groups and units, one row per unit."""
    order = list(dict.fromkeys(units.tolist()))
    idx = {u: i for i, u in enumerate(order)}
    pos = np.array([idx[u] for u in units.tolist()])
    valid = np.isfinite(features).all(1)
    sums = np.zeros((len(order), features.shape[1]))
    counts = np.zeros(len(order))
    np.add.at(sums, pos[valid], features[valid])
    np.add.at(counts, pos[valid], 1)
    pooled = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], np.nan)
    first = np.array([np.flatnonzero(pos == i)[0] for i in range(len(order))])
    return pooled, labels[first], groups[first], np.array(order)


def knn_leave_group_out(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 5,
                        classes: list[str] | None = None) -> tuple[np.ndarray, EmotionScore]:
    """Predict each item from the items of other groups. Items without features (NaN rows)
    neither vote nor get a prediction; they count as misclassified."""
    x = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    classes = classes or sorted(set(labels.tolist()))
    valid = np.isfinite(x).all(1)
    xv = x[valid]
    sq = (xv ** 2).sum(1)
    dist = np.maximum(sq[:, None] + sq[None] - 2 * xv @ xv.T, 0.0)
    gv = groups[valid]
    dist[gv[:, None] == gv[None]] = np.inf  # leave the whole group out
    lv = labels[valid]
    pred_valid = np.empty(len(xv), dtype=object)
    kk = min(k, max(len(xv) - 1, 1))
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :kk]
    for i, nn in enumerate(nearest):
        nn = nn[np.isfinite(dist[i, nn])]
        if len(nn) == 0:
            pred_valid[i] = None
            continue
        votes = lv[nn]
        uniq, counts = np.unique(votes, return_counts=True)
        tied = set(uniq[counts == counts.max()].tolist())
        pred_valid[i] = next(v for v in votes if v in tied)  # nn is sorted: the nearest tied class
    pred = np.full(len(x), None, dtype=object)
    pred[valid] = pred_valid
    return pred, score(labels, pred, classes, float(valid.mean()) if len(x) else 0.0)


def score(labels: np.ndarray, pred: np.ndarray, classes: list[str], coverage: float = 1.0) -> EmotionScore:
    idx = {c: i for i, c in enumerate(classes)}
    conf = np.zeros((len(classes), len(classes)), dtype=np.int64)
    correct = 0
    for t, p in zip(labels.tolist(), pred.tolist()):
        if p is not None and p in idx:
            conf[idx[t], idx[p]] += 1
        correct += int(p == t)
    per_class = [conf[i, i] / max((labels == c).sum(), 1) for c, i in idx.items() if (labels == c).any()]
    return EmotionScore(correct / max(len(labels), 1), float(np.mean(per_class)) if per_class else 0.0,
                        conf, classes, int(len(labels)), coverage)


def majority_baseline(labels: np.ndarray, groups: np.ndarray, classes: list[str] | None = None
                      ) -> tuple[np.ndarray, EmotionScore]:
    """Predict the most frequent class of the other groups."""
    labels = np.asarray(labels)
    classes = classes or sorted(set(labels.tolist()))
    pred = np.empty(len(labels), dtype=object)
    for g in np.unique(groups):
        mask = groups == g
        rest = labels[~mask]
        uniq, counts = np.unique(rest, return_counts=True)
        pred[mask] = uniq[np.argmax(counts)] if len(rest) else None
    return pred, score(labels, pred, classes)

"""Score your own features with the paper's protocol (5-NN, leave-one-group-out).

    python examples/score_features.py features.npz labels.csv

``features.npz`` holds ``image`` (names) and ``features`` (one row each); ``labels.csv`` has the
columns ``image,emotion,group`` (a group is left out together, e.g. a subject). With no
arguments, a small made-up set shows the call.
"""

import csv
import sys

import numpy as np

from expnet.evaluation.knn import knn_leave_group_out

if len(sys.argv) > 2:
    with np.load(sys.argv[1]) as data:
        table = dict(zip(data["image"].tolist(), data["features"]))
    rows = list(csv.DictReader(open(sys.argv[2])))
    features = np.array([table[r["image"]] for r in rows])
    labels = np.array([r["emotion"] for r in rows])
    groups = np.array([r["group"] for r in rows])
else:  # two emotions, ten subjects, features that separate them with some noise
    rng = np.random.default_rng(0)
    labels = np.repeat(["happy", "sad"], 20)
    groups = np.tile(np.repeat(np.arange(10).astype(str), 2), 2)
    features = np.where(labels[:, None] == "happy", 1.0, -1.0) + rng.normal(0, 0.8, (40, 4))

_, score = knn_leave_group_out(features, labels, groups, k=5)
print(f"5-NN accuracy {100 * score.accuracy:.1f}%, mean per-class accuracy {100 * score.mean_class_accuracy:.1f}%")

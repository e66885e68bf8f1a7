"""The emotion protocol on synthetic features with known answers."""

import numpy as np
import pytest

from expnet.evaluation.knn import knn_leave_group_out, majority_baseline, pool


def test_perfectly_separable_is_perfect():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 20)
    centres = {"a": [0, 0], "b": [10, 0], "c": [0, 10]}
    x = np.array([centres[label] for label in labels]) + rng.normal(0, 0.5, (60, 2))
    pred, s = knn_leave_group_out(x, labels, np.arange(60).astype(str))
    assert s.accuracy == 1.0 and s.mean_class_accuracy == 1.0
    assert np.array_equal(np.diag(s.confusion), [20, 20, 20])


def test_random_features_are_at_chance():
    rng = np.random.default_rng(1)
    labels = rng.choice(["a", "b", "c", "d"], 2000)
    _, s = knn_leave_group_out(rng.normal(size=(2000, 8)), labels, np.arange(2000).astype(str))
    assert 0.19 < s.accuracy < 0.31


def test_group_is_left_out():
    # Two copies of each item in one group: leave-one-out would find the twin; leave-group-out must not.
    labels = np.array(["a", "b"] * 10)
    x = np.arange(20, dtype=float)[:, None] * 100  # every item far from every other
    x2 = np.concatenate([x, x])
    y2 = np.concatenate([labels, labels])
    groups = np.concatenate([np.arange(20), np.arange(20)]).astype(str)
    _, by_item = knn_leave_group_out(x2, y2, np.arange(40).astype(str), k=1)
    _, by_group = knn_leave_group_out(x2, y2, groups, k=1)
    assert by_item.accuracy == 1.0 and by_group.accuracy < 0.6


def test_ties_go_to_the_nearest():
    # neighbours by distance: b (1), a (2), b (3), a (4): 2-2 tie -> b, the nearest.
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    labels = np.array(["q", "b", "a", "b", "a"])
    pred, _ = knn_leave_group_out(x, labels, np.arange(5).astype(str), k=4)
    assert pred[0] == "b"


def test_clip_pooling_averages_frames_and_skips_missing():
    x = np.array([[0.0, 0.0], [2.0, 2.0], [np.nan, np.nan], [10.0, 10.0]])
    labels = np.array(["a", "a", "a", "b"])
    clips = np.array(["c1", "c1", "c1", "c2"])
    pooled, y, g, units = pool(x, labels, clips, clips)
    assert np.allclose(pooled, [[1.0, 1.0], [10.0, 10.0]])
    assert list(y) == ["a", "b"] and list(units) == ["c1", "c2"]


def test_missing_features_count_as_wrong():
    x = np.array([[0.0], [0.1], [np.nan], [5.0], [5.1], [5.2]])
    labels = np.array(["a", "a", "a", "b", "b", "b"])
    pred, s = knn_leave_group_out(x, labels, np.arange(6).astype(str), k=1)
    assert pred[2] is None and s.accuracy == pytest.approx(5 / 6) and s.coverage == pytest.approx(5 / 6)


def test_majority_baseline():
    labels = np.array(["a"] * 6 + ["b"] * 3)
    _, s = majority_baseline(labels, np.arange(9).astype(str))
    assert s.accuracy == pytest.approx(6 / 9)

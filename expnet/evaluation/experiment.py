"""Score methods on an emotion dataset: features at each scale (cached) -> clip pooling -> 5-NN,
leave-one-group-out (the paper's protocol)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from expnet.evaluation.datasets import EmotionSet
from expnet.evaluation.knn import EmotionScore, knn_leave_group_out, majority_baseline, pool
from expnet.evaluation.methods import FeatureExtractor, make_method
from expnet.io.atomic import atomic_path

SCALES = (1.0, 0.8, 0.6, 0.4, 0.2)


def cached_features(method: FeatureExtractor, data: EmotionSet, scale: float, own_detector: bool,
                    cache_dir: Path, progress: bool = True) -> np.ndarray:
    key = json.dumps([method.name, method.version(), data.name, len(data),
                      hashlib.sha1("\n".join(data.paths.tolist()).encode()).hexdigest()[:12],
                      scale, own_detector])
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    path = cache_dir / f"{method.name.replace(':', '_')}-{data.name}-{scale}-{digest}.npy"
    if path.exists():
        return np.load(path)
    feats = method.extract(data.paths.tolist(), scale, data.cropped, own_detector, progress)
    with atomic_path(path) as tmp:
        np.save(tmp, feats)
    return feats


def evaluate(data: EmotionSet, method_name: str, scales=SCALES, own_detector: bool = False,
             model: str | None = None, cache_dir: str | os.PathLike = "outputs/cache/features",
             progress: bool = True, k: int = 5) -> dict[float, EmotionScore]:
    """Score one method on one dataset at each scale."""
    classes = data.classes
    results = {}
    if method_name.endswith("@own"):  # this method runs its own detector on the downscaled image
        method_name, own_detector = method_name[: -len("@own")], True
    if method_name == "majority":
        _, units_labels, units_groups, _ = pool(np.zeros((len(data), 1)), data.labels, data.groups, data.clips)
        s = majority_baseline(units_labels, units_groups, classes)[1]
        return {scale: s for scale in scales}
    method = make_method(method_name, model)
    for scale in scales:
        feats = cached_features(method, data, scale, own_detector, Path(cache_dir), progress)
        x, y, g, _ = pool(feats, data.labels, data.groups, data.clips)
        results[scale] = knn_leave_group_out(x, y, g, k, classes)[1]
    return results


def evaluate_datasets(specs: list[tuple[str, str | os.PathLike]], methods: dict[str, str], scales=SCALES,
                      own_detector: bool = False, model: str | None = None,
                      cache_dir: str | os.PathLike = "outputs/cache/features", progress: bool = True
                      ) -> dict[str, dict[str, dict[float, EmotionScore]]]:
    """``expnet evaluate emotion``: every method on every dataset at every scale.

    Parameters
    ----------
    specs : list of (loader name, folder)
        Datasets (``profiled`` gives one set per yaw).
    methods : dict
        Label in the report -> method name (``expnet``, ``dlib-fit@own``, ``features:FILE.npz``, ...).

    Returns
    -------
    dataset name -> method label -> scale -> score.
    """
    from expnet.evaluation.datasets import load_datasets
    results: dict[str, dict[str, dict[float, EmotionScore]]] = {}
    for data in (d for name, root in specs for d in load_datasets(name, root)):
        results[data.name] = {label: evaluate(data, spec, scales, own_detector, model, cache_dir, progress)
                              for label, spec in methods.items()}
    return results

"""``expnet label --engine ray``: the label pipeline as a distributed job, with the local output.

1. Detection and landmarks: a Ray dataset of paths through an actor pool of
   :class:`~expnet.teacher.labeling.Observer` (one per CPU); each observation comes back to the
   driver and goes into the same side file as the local engine's, so an interrupted job resumes
   (on either engine).
2. The first fit of every face, in parallel batches (``map_batches``).
3. Shape pooling as a group-by on identity: each identity with several images gets its mean shape
   and the refit of pose and expression with it (``groupby(...).map_groups``).

The fit of one face does not depend on the others in its batch, and each identity's mean is taken
in input order, so the labels equal the local ``expnet label`` output.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import asdict

import numpy as np

from expnet.cluster.runtime import actor_count, engine_errors, ray_runtime, shielded
from expnet.face.extra_basis import ExtraComponents
from expnet.face.model import FaceModel, LinearModel
from expnet.io.labels import POSE_SOURCE_MESH
from expnet.teacher.fitting import FitConfig, LandmarkFitter
from expnet.teacher.labeling import LabelPipeline, LabelSummary, Observation, Observer

IMAGES_PER_BLOCK = 16   # detection + landmarks: ~0.1 s an image, so a block is a few seconds
FACES_PER_FIT = 1000    # the fit is vectorised over faces: large batches


class _Observe:
    """One Ray actor: detector and landmark model (built once), a block of paths -> observations."""

    def __init__(self, detector: str, landmarks: str, mesh: bool = False):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self.observer = Observer(detector, landmarks, mesh)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        return {"observation": [json.dumps(asdict(self.observer(str(p)))) for p in batch["image"]]}


class _Fit:
    """One Ray actor: the landmark fitter of ``model`` (extra components included). Without
    ``pooled``, a first fit of each face; with it, the faces are one identity's: their mean
    first-fit shape, held fixed in a refit."""

    def __init__(self, model: LinearModel, config: FitConfig | None, pooled: bool):
        self.fitter = LandmarkFitter(model, config)
        self.pooled = pooled

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        order = np.argsort(batch["index"], kind="stable")  # the local engine's order: the same mean
        batch = {k: np.asarray(v)[order] for k, v in batch.items()}
        pts = batch["landmarks"].astype(np.float64)
        shape = None
        if self.pooled:
            shape = np.repeat(batch["shape"].mean(0, keepdims=True), len(pts), axis=0)
        r = self.fitter.fit(pts, shape)
        return {**batch, "rotation": r.rotation, "translation": r.translation, "scale": r.scale, "shape": r.shape,
                "expression": r.expression, "residual": r.residual, "at_bound": r.at_bound}


FIT_FIELDS = ("rotation", "translation", "scale", "shape", "expression", "residual", "at_bound")


class RayLabelPipeline(LabelPipeline):
    """:class:`~expnet.teacher.labeling.LabelPipeline` with each stage on a Ray cluster.

    Parameters
    ----------
    address : str, optional
        A running cluster (``auto`` or ``HOST:PORT``); None starts a local runtime on loopback for
        the job.
    workers : int, optional
        Actors per stage (default: one per CPU of the cluster).
    """

    def __init__(self, detector: str = "auto", workers: int | None = None, fit_config: FitConfig | None = None,
                 model: FaceModel | None = None, landmarks: str = "dlib", address: str | None = None,
                 extra: ExtraComponents | None = None, pose: str = "fit"):
        super().__init__(detector, workers, fit_config, model, landmarks, extra, pose)
        self.address = address
        self.requested = workers
        self.actors = 1

    def run(self, paths: list[str | os.PathLike], output: str | os.PathLike, identity=None,
            progress: bool = True) -> LabelSummary:
        with engine_errors("label"), ray_runtime(self.address) as resources:
            self.actors = actor_count(resources, self.requested)
            return super().run(paths, output, identity, progress)

    def _run(self, todo: list[str]):
        import ray
        actors = min(self.actors, len(todo))
        per_block = min(IMAGES_PER_BLOCK, math.ceil(len(todo) / actors))
        ds = ray.data.from_items([{"image": p} for p in todo], override_num_blocks=math.ceil(len(todo) / per_block))
        ds = ds.map_batches(shielded(__name__, "_Observe"),
                            fn_constructor_args=(self.detector, self.landmarks, self.pose == POSE_SOURCE_MESH),
                            batch_size=None,
                            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1, batch_format="numpy")
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for text in batch["observation"]:
                yield Observation(**json.loads(text))

    def solve(self, pts: np.ndarray, identities: list[str | None]) -> tuple[dict, np.ndarray]:
        import ray
        sizes = Counter(i for i in identities if i is not None)
        counts = np.array([sizes[i] if i is not None and sizes[i] > 1 else 1 for i in identities])
        items = [{"index": j, "identity": identities[j] or "", "landmarks": pts[j].astype(np.float64)}
                 for j in range(len(pts))]
        actors = min(self.actors, max(1, len(pts) // 50))
        parts = []
        for pooled in (False, True):
            chosen = [item for item, c in zip(items, counts) if (c > 1) == pooled]
            if not chosen:
                continue
            ds = ray.data.from_items(chosen, override_num_blocks=max(actors, math.ceil(len(chosen) / FACES_PER_FIT)))
            ds = ds.map_batches(shielded(__name__, "_Fit"),
                                fn_constructor_args=(self.fit_model, self.fitter.config, False),
                                batch_size=FACES_PER_FIT, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
                                batch_format="numpy")
            if pooled:
                # Half a CPU per refit actor: the shuffle's reduce tasks need CPUs while the pool
                # stands (a pool holding every CPU waits for them forever).
                ds = ds.groupby("identity", num_partitions=actors).map_groups(
                    shielded(__name__, "_Fit"), fn_constructor_args=(self.fit_model, self.fitter.config, True),
                    compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=0.5, batch_format="numpy")
            parts.append(ds)
        final = {k: [None] * len(pts) for k in FIT_FIELDS}
        for part in parts:
            for batch in part.iter_batches(batch_size=None, batch_format="numpy"):
                for n, j in enumerate(batch["index"]):
                    for k in FIT_FIELDS:
                        final[k][int(j)] = batch[k][n]
        return {k: np.stack(v) for k, v in final.items()}, counts

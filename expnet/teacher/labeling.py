"""``expnet label``: the offline label pipeline of ExpNet (spec section 1, steps 1-3).

image -> face box -> 68 landmarks (parallel worker processes) -> batched fit -> shape pooled per
identity -> refit of pose and expression with the pooled shape -> one row per image.

Stage one (detection and landmarks, the slow part) appends each finished image to a side file
``<output>.observations.jsonl``; an interrupted run started again skips what is there. The labels
file itself is written atomically at the end. A bad or faceless image becomes a row with a status
and an error message, never a crash.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from expnet.face.extra_basis import ExtraComponents, extend
from expnet.face.model import FaceModel
from expnet.face.pose import Pose
from expnet.io.images import ImageError, load_image, to_gray
from expnet.io.labels import POSE_SOURCE_MESH, STATUS_ERROR, STATUS_FIT_FAILED, STATUS_NO_FACE, STATUS_OK, write_rows
from expnet.io.pools import worker_map
from expnet.io.sidefile import open_side_file, read_side_file
from expnet.io.summary import JobSummary, interruptible
from expnet.teacher.fitting import FitConfig, LandmarkFitter
from expnet.teacher.mesh_pose import pose_from_mesh


@dataclass
class Observation:
    """Stage-one result for one image: the largest face's box and landmarks."""

    image: str
    status: str
    error: str | None = None
    width: int | None = None
    height: int | None = None
    n_faces: int = 0
    detector: str | None = None
    box: list[float] | None = None
    score: float | None = None
    landmarks: list[list[float]] | None = None
    mesh: list[list[float]] | None = None   # FaceMesh's 468 points (x, y, z), with --landmarks mesh


LANDMARK_BACKENDS = ("dlib", "mesh")
# Where a row's rotation comes from: the 2D landmark fit, or FaceMesh's 3D points
# (:mod:`expnet.teacher.mesh_pose`).
POSE_SOURCES = ("fit", POSE_SOURCE_MESH)


@dataclass
class LabelSummary:
    images: int
    labelled: int
    by_status: dict[str, int]
    by_detector: dict[str, int]
    residual_percentiles: dict[str, float]
    expression_at_bound: float
    identities: int
    observe_seconds: float
    observed_now: int                  # images this run observed (detector + landmarks) ...
    images_per_second: float | None    # ... and at what rate (None when it observed none)
    fit_seconds: float
    output: str
    extra: dict = field(default_factory=dict)
    resumed: int = 0                   # images whose observations an earlier run had left


class Observer:
    """Detection + landmarks for one image; one instance per worker process.

    ``landmarks``: ``dlib`` (dlib's 68-point predictor, grey) or ``mesh`` (FaceMesh's 468 points,
    colour where the image has it; the 68 are its iBUG-compatible subset, the 468 are kept).
    ``mesh``: also run FaceMesh on the box for its 468 points (the mesh pose) beside dlib's 68;
    the image is then decoded in colour and dlib takes OpenCV's grey of it.
    """

    def __init__(self, detector: str = "auto", landmarks: str = "dlib", mesh: bool = False):
        from expnet.detection.chain import DetectorChain
        if landmarks not in LANDMARK_BACKENDS:
            raise ValueError(f"landmarks must be one of {LANDMARK_BACKENDS}, got {landmarks!r}")
        self.detector = DetectorChain(detector)
        self.backend = landmarks
        self.landmarker = self.mesher = None
        if landmarks == "dlib":
            from expnet.teacher.landmarks import DlibLandmarker
            self.landmarker = DlibLandmarker()
        if landmarks == "mesh" or mesh:
            from expnet.teacher.mesh_landmarks import FaceMeshLandmarker
            self.mesher = FaceMeshLandmarker()
        self.colour = self.mesher is not None or self.detector.uses_color

    def __call__(self, path: str) -> Observation:
        try:
            image = load_image(path, "RGB" if self.colour else "L")
        except ImageError as exc:
            return Observation(path, STATUS_ERROR, error=str(exc))
        h, w = image.shape[:2]
        mesh = None
        try:
            boxes = self.detector.detect(image)
            if not boxes:
                return Observation(path, STATUS_NO_FACE, error="no face found", width=w, height=h)
            box = boxes[0]
            if self.mesher is not None:
                subset, points = self.mesher.predict68(image, box)
                mesh = np.round(points, 2).tolist()
            pts = self.landmarker.predict(to_gray(image), box) if self.backend == "dlib" else subset
        except Exception as exc:  # a library failure on one image must not stop the batch
            return Observation(path, STATUS_ERROR, error=f"{type(exc).__name__}: {exc}", width=w, height=h)
        return Observation(path, STATUS_OK, width=w, height=h, n_faces=len(boxes),
                           detector=box.detector, box=box.to_list(), score=round(box.score, 4),
                           landmarks=np.round(pts, 2).tolist(), mesh=mesh)


def identities_from_csv(path: str | os.PathLike, image_column: str = "image",
                        identity_column: str = "identity") -> dict[str, str]:
    """Map image file name -> identity from a CSV (e.g. lfw-expressions' ``labels.csv``)."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {image_column, identity_column} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path} has no column(s) {sorted(missing)}; it has {reader.fieldnames}")
        return {Path(row[image_column]).name: row[identity_column] for row in reader
                if row[identity_column]}


def identity_source(csv_path: str | os.PathLike | None = None, rule: str | None = None,
                    image_column: str = "image", identity_column: str = "identity"):
    """Where identities come from: a CSV of file name -> identity, a regex on the file stem, or
    nothing (None: each image its own identity)."""
    if csv_path:
        return identities_from_csv(csv_path, image_column, identity_column)
    return identity_from_rule(rule) if rule else None


def identity_of(identity, path) -> str | None:
    """The identity of ``path`` under an :func:`identity_source` (None where it names none)."""
    if identity is None:
        return None
    return identity(str(path)) if callable(identity) else identity.get(Path(path).name)


def label_inputs(paths: list, limit: int | None = None, shard: str | None = None, identity=None) -> list:
    """A label job's inputs: the first ``limit``, then shard ``I/N`` of them, split by identity
    where one is known (an identity's images are fitted together)."""
    paths = paths[:limit] if limit else paths
    if shard:
        from expnet.io.shard import Shard
        paths = Shard.parse(shard).select(paths, key=lambda p: identity_of(identity, p) or str(p))
    return paths


def identity_from_rule(pattern: str):
    """A function file-path -> identity: the first group of ``pattern`` matched on the file stem."""
    regex = re.compile(pattern)
    if regex.groups < 1:
        raise ValueError(f"identity rule {pattern!r} needs one capturing group")

    def rule(path: str) -> str | None:
        m = regex.match(Path(path).stem)
        return m.group(1) if m else None
    return rule


def _read_observations(path: Path, settings: dict) -> dict[str, Observation]:
    """Observations saved by an earlier (possibly interrupted) run with the same settings."""
    done: dict[str, Observation] = {}
    for item in read_side_file(path, settings):
        try:
            obs = Observation(**item)
        except TypeError:
            continue  # not an observation of this version: observed again
        done[obs.image] = obs
    return done


class LabelPipeline:
    """Label a list of face images with pose, shape and expression from a landmark fit.

    ``pose="mesh"`` takes each face's rotation from FaceMesh's 3D points (FaceMesh runs on the
    box beside either landmark backend) instead of the 2D fit, which reads steep pitches flatter;
    scale and translation place the fitted face, so turned, on the row's landmarks; shape and
    expression stay the fit's: rows for training pose.
    """

    def __init__(self, detector: str = "auto", workers: int | None = None,
                 fit_config: FitConfig | None = None, model: FaceModel | None = None, landmarks: str = "dlib",
                 extra: ExtraComponents | None = None, pose: str = "fit"):
        if landmarks not in LANDMARK_BACKENDS:
            raise ValueError(f"landmarks must be one of {LANDMARK_BACKENDS}, got {landmarks!r}")
        if pose not in POSE_SOURCES:
            raise ValueError(f"pose must be one of {POSE_SOURCES}, got {pose!r}")
        self.detector = detector
        self.landmarks = landmarks
        self.pose = pose
        self.workers = workers or os.cpu_count() or 1
        self.model = model or FaceModel.load()
        # With extra components the fit solves 10 + K expression coefficients; rows keep the
        # basis' ten in ``expression`` (3DDFA-compatible) and the K in ``expression_extra``.
        self.extra = extra
        self.fit_model = self.model.landmarks if extra is None else extend(self.model.landmarks, extra)
        self.fitter = LandmarkFitter(self.fit_model, fit_config)

    # -- stage one ----------------------------------------------------------------------------
    def observe(self, paths: list[str], side_file: Path, progress: bool = True
                ) -> tuple[dict[str, Observation], int, float]:
        settings = {"detector": self.detector, **({"landmarks": self.landmarks} if self.landmarks != "dlib" else {}),
                    **({"pose": self.pose} if self.pose != "fit" else {})}
        done = _read_observations(side_file, settings)
        todo = [p for p in dict.fromkeys(paths) if p not in done]
        start = time.perf_counter()
        if todo:
            bar = tqdm(total=len(todo), desc="landmarks", unit="img", disable=not progress,
                       smoothing=0.05)
            so_far = JobSummary("label")  # what Ctrl-C reports: this run's observed images
            with open_side_file(side_file, settings) as out, interruptible(so_far):
                for obs in self._run(todo):
                    out.write(json.dumps(asdict(obs)) + "\n")
                    out.flush()
                    done[obs.image] = obs
                    so_far.add(obs.image, int(obs.status == STATUS_OK), obs.error)
                    bar.update()
            bar.close()
        return done, len(todo), time.perf_counter() - start

    def _run(self, todo: list[str]):
        yield from worker_map(Observer, (self.detector, self.landmarks, self.pose == POSE_SOURCE_MESH), todo,
                              self.workers, ordered=False, chunksize=8)

    # -- stage two ----------------------------------------------------------------------------
    def fit(self, observations: list[Observation], identities: list[str | None]) -> list[dict]:
        """Fit every observed face, pool shape per identity, refit. Returns output rows."""
        ok = [i for i, o in enumerate(observations) if o.status == STATUS_OK]
        rows = [self._base_row(o, ident, self.landmarks == "mesh") for o, ident in zip(observations, identities)]
        if not ok:
            return rows
        pts = np.array([observations[i].landmarks for i in ok], dtype=np.float64)
        final, counts = self.solve(pts, [identities[i] for i in ok])
        if self.pose == POSE_SOURCE_MESH:  # the fitted face turned as the mesh's 3D points, placed on the landmarks
            meshes = np.array([observations[i].mesh for i in ok], dtype=np.float64)
            vertices = self.fit_model.vertices(final["shape"], final["expression"])
            final["rotation"], final["scale"], final["translation"] = pose_from_mesh(vertices, meshes, pts)
        for j, i in enumerate(ok):
            self._fill_row(rows[i], {k: v[j] for k, v in final.items()}, int(counts[j]))
        return rows

    def solve(self, pts: np.ndarray, identities: list[str | None]) -> tuple[dict, np.ndarray]:
        """The fits of (B, 68, 2) landmarks: a first fit each, then, for identities with several
        images, their mean shape (the paper's step 1) held fixed in a refit of pose and
        expression. Returns the final fits (arrays by name) and each face's identity size."""
        first = self._fit_chunks(pts)
        groups: dict[str, list[int]] = defaultdict(list)
        for j, ident in enumerate(identities):
            if ident is not None:
                groups[ident].append(j)
        pooled = first["shape"].copy()
        counts = np.ones(len(pts), dtype=int)
        for members in groups.values():
            if len(members) > 1:
                pooled[members] = first["shape"][members].mean(0)
                counts[members] = len(members)
        refit_idx = np.flatnonzero(counts > 1)
        final = {k: v.copy() for k, v in first.items()}
        if len(refit_idx):
            second = self._fit_chunks(pts[refit_idx], pooled[refit_idx])
            for k in final:
                final[k][refit_idx] = second[k]
        return final, counts

    def _fill_row(self, row: dict, fit: dict, identity_images: int) -> None:
        """Write one face's fit into its row (or mark the row failed)."""
        if not (np.isfinite(fit["expression"]).all() and np.isfinite(fit["residual"])):
            row.update(status=STATUS_FIT_FAILED, error="the fit did not converge to finite values")
            return
        pose = Pose(fit["rotation"], fit["translation"], float(fit["scale"])).to_dict()
        for k in ("yaw", "pitch", "roll"):
            pose[k] = round(pose[k], 3)
        pose["scale"] = float(f"{pose['scale']:.6g}")  # ~1e-3 px per model unit: keep digits
        if self.pose == POSE_SOURCE_MESH:
            pose["source"] = POSE_SOURCE_MESH
        ten = self.model.landmarks.n_expression
        if self.extra is not None:
            row.update(expression_extra=np.round(fit["expression"][ten:], 5).tolist(),
                       extra_version=self.extra.version)
        row.update(
            pose=pose,
            shape=np.round(fit["shape"], 3).tolist(),
            expression=np.round(fit["expression"][:ten], 5).tolist(),
            residual=round(float(fit["residual"]), 5),
            expression_at_bound=int(fit["at_bound"].sum()),
            identity_images=identity_images)

    def _fit_chunks(self, pts: np.ndarray, shape: np.ndarray | None = None, chunk: int = 2000) -> dict:
        parts = []
        for s in range(0, len(pts), chunk):
            r = self.fitter.fit(pts[s:s + chunk], None if shape is None else shape[s:s + chunk])
            parts.append(dict(rotation=r.rotation, translation=r.translation, scale=r.scale,
                              shape=r.shape, expression=r.expression, residual=r.residual,
                              at_bound=r.at_bound))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    @staticmethod
    def _base_row(o: Observation, identity: str | None, keep_mesh: bool) -> dict:
        """A row before the fit; the 468 points stay in it where they are its landmarks (a mesh
        observed only for the pose stays in the side file: 1,400 numbers a row)."""
        return {"image": o.image, "status": o.status, "error": o.error, "identity": identity,
                "width": o.width, "height": o.height, "detector": o.detector, "box": o.box,
                "score": o.score, "landmarks": o.landmarks, "pose": None, "shape": None,
                "expression": None, "residual": None, **({"mesh": o.mesh} if keep_mesh and o.mesh is not None else {})}

    # -- the whole job --------------------------------------------------------------------------
    def run(self, paths: list[str | os.PathLike], output: str | os.PathLike,
            identity=None, progress: bool = True) -> LabelSummary:
        """Label ``paths`` into ``output`` (``.jsonl`` or ``.csv``).

        ``identity``: None, a dict file-name -> identity, or a callable path -> identity.
        """
        output = Path(output)
        if output.suffix.lower() not in (".jsonl", ".csv"):
            raise ValueError(f"output must end in .jsonl or .csv, got {output.name}")
        paths = [str(p) for p in paths]
        side_file = output.with_name(output.name + ".observations.jsonl")
        observed, n_new, seconds = self.observe(paths, side_file, progress)
        observations = [observed[p] for p in dict.fromkeys(paths)]
        if identity is None:
            idents = [None] * len(observations)
        elif callable(identity):
            idents = [identity(o.image) for o in observations]
        else:
            idents = [identity.get(Path(o.image).name) for o in observations]
        t0 = time.perf_counter()
        rows = self.fit(observations, idents)
        fit_seconds = time.perf_counter() - t0
        write_rows(rows, output)
        return summarise(rows, output, n_new, seconds, fit_seconds)


def summarise(rows: list[dict], output: Path, n_new: int, seconds: float, fit_seconds: float
              ) -> LabelSummary:
    status = defaultdict(int)
    detectors = defaultdict(int)
    for r in rows:
        status[r["status"]] += 1
        if r["status"] == STATUS_OK:
            detectors[r["detector"]] += 1
    res = np.array([r["residual"] for r in rows if r["status"] == STATUS_OK])
    at_bound = [r["expression_at_bound"] / len(r["expression"]) for r in rows if r["status"] == STATUS_OK]
    pct = {f"p{q}": round(float(np.percentile(res, q)), 4) for q in (5, 25, 50, 75, 95, 99)} if len(res) else {}
    return LabelSummary(
        images=len(rows), labelled=status[STATUS_OK], by_status=dict(status),
        by_detector=dict(detectors), residual_percentiles=pct,
        expression_at_bound=round(float(np.mean(at_bound)), 4) if at_bound else 0.0,
        identities=len({r["identity"] for r in rows if r["identity"] is not None}),
        observe_seconds=round(seconds, 2), observed_now=n_new,
        images_per_second=round(n_new / seconds, 2) if n_new and seconds > 0 else None,
        fit_seconds=round(fit_seconds, 3), output=str(output), resumed=max(len(rows) - n_new, 0))



"""``expnet evaluate pose``: head pose and 68-landmark error on AFLW2000-3D-style folders.

A folder holds ``*.jpg`` images, each with a ``.mat`` beside it carrying ``Pose_Para`` (pitch,
yaw, roll in radians, then scale and translation) and ``pt3d_68`` (3 x 68 landmarks, pixels).
Each method's yaw, pitch and roll are compared with ``Pose_Para`` (mean and median absolute error,
overall and by abs(yaw) bin), so is its rotation as a whole (the geodesic angle between the
predicted and the true rotation: past 60 degrees of yaw pitch and roll trade places in the Euler
angles, so a head read nearly right can show large pitch and roll errors), and the 68 landmarks
projected from its 3D face with ``pt3d_68`` (NME: mean point distance over the square root of the
ground-truth landmarks' box area, the usual AFLW2000-3D normalisation).

Boxes: ``gt`` derives each face box from the ground-truth landmarks (extents x0, y0, W, H: centre
(x0 + 0.5 W, y0 + 0.38 H), side 1.05 H, in the dlib-hog convention every method takes), so the
methods are compared on the same boxes; ``own`` runs each method's own detector and counts the
faces it misses (a detection counts as the face when it overlaps the ground-truth box by IoU 0.3
or more).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from expnet.detection.boxes import FaceBox
from expnet.detection.mediapipe import box_iou
from expnet.face.pose import euler_to_rotation, rotation_angle, rotation_to_euler
from expnet.io.atomic import write_text

YAW_BINS = ((0, 30), (30, 60), (60, 90))


def yaw_bins(abs_yaw: np.ndarray) -> dict[str, np.ndarray]:
    """``"lo-hi"`` -> which of the ``abs_yaw`` (degrees) fall in each of :data:`YAW_BINS` (the last
    one closed)."""
    return {f"{lo}-{hi}": (abs_yaw >= lo) & ((abs_yaw < hi) | (hi == YAW_BINS[-1][1])) for lo, hi in YAW_BINS}

POSE_METHODS = ("expnet", "dlib-fit", "mesh-pose")
MIN_IOU = 0.3


@dataclass
class PoseSet:
    """Images with ground-truth angles (degrees: pitch, yaw, roll) and 68 landmarks (pixels)."""

    paths: list[Path]
    angles: np.ndarray      # (N, 3) pitch, yaw, roll
    landmarks: np.ndarray   # (N, 68, 2)

    def boxes(self) -> np.ndarray:
        """(N, 4) face boxes derived from the ground-truth landmarks (see the module doc)."""
        lo, hi = self.landmarks.min(1), self.landmarks.max(1)
        w, h = (hi - lo).T
        cx, cy, side = lo[:, 0] + 0.5 * w, lo[:, 1] + 0.38 * h, 1.05 * h
        return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=1)


def load_pose_set(folder: str | os.PathLike) -> PoseSet:
    """The ``*.jpg`` + ``*.mat`` pairs of an AFLW2000-3D-style folder."""
    from scipy.io import loadmat
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    paths, angles, landmarks = [], [], []
    for image in sorted(folder.glob("*.jpg")):
        mat = image.with_suffix(".mat")
        if not mat.exists():
            continue
        data = loadmat(mat)
        if "Pose_Para" not in data or "pt3d_68" not in data:
            raise ValueError(f"{mat} has no Pose_Para or pt3d_68 (is this the AFLW2000-3D layout?)")
        paths.append(image)
        angles.append(np.degrees(data["Pose_Para"][0, :3]))
        landmarks.append(data["pt3d_68"][:2].T)
    if not paths:
        raise ValueError(f"{folder} holds no *.jpg with a *.mat beside it (the AFLW2000-3D layout)")
    return PoseSet(paths, np.array(angles, dtype=np.float64), np.array(landmarks, dtype=np.float64))


@dataclass
class MethodPoses:
    """One method's answers: angles (N, 3) and projected landmarks (N, 68, 2), NaN where missed;
    for ExpNet also each image's face (None where missed), whose 3D face the overlays draw."""

    angles: np.ndarray
    landmarks: np.ndarray
    faces: list | None = None


@dataclass
class PoseScore:
    method: str
    boxes: str
    images: int
    found: int
    mae: dict[str, float]
    median: dict[str, float]
    mae_by_yaw: dict[str, dict[str, float]]
    nme: float
    nme_median: float
    rotation: dict[str, float] = field(default_factory=dict)  # geodesic error: mean, median, by abs(yaw) bin
    per_image: list[dict] = field(default_factory=list)


def _matching(found: list[np.ndarray], truth: np.ndarray) -> int | None:
    """Index of the detection that is the ground-truth face, or None."""
    if not found:
        return None
    ious = box_iou(np.asarray(truth, dtype=np.float64), np.asarray(found, dtype=np.float64).reshape(-1, 4))
    best = int(np.argmax(ious))
    return best if ious[best] >= MIN_IOU else None


def expnet_poses(data: PoseSet, own_detector: bool, model: str | None = None) -> MethodPoses:
    """ExpNet's angles and the 68 landmarks of its 3D face, projected with its pose."""
    from expnet.face.pose import project
    from expnet.inference.predictor import ExpNet
    net = ExpNet(model)
    lm = net.landmark_model
    truth = data.boxes()
    angles = np.full((len(data.paths), 3), np.nan)
    points = np.full((len(data.paths), 68, 2), np.nan)
    faces: list = [None] * len(data.paths)
    boxes = None if own_detector else [[b] for b in truth]
    for i, pred in enumerate(net.predict_many([str(p) for p in data.paths], boxes)):
        k = _matching([f.box for f in pred.faces], truth[i])
        if k is None:
            continue
        face = faces[i] = pred.faces[k]
        angles[i] = [face.pose.pitch, face.pose.yaw, face.pose.roll]
        verts = lm.vertices(face.shape, face.expression)
        points[i] = project(verts, face.pose.rotation, face.pose.scale, face.pose.translation)
    return MethodPoses(angles, points, faces)


def fit_poses(data: PoseSet, own_detector: bool, pose: str = "fit") -> MethodPoses:
    """The landmark baseline: dlib's 68 landmarks (on the ground-truth box, or after the label
    pipeline's own detector), the fit, its pose and projected landmarks; ``pose="mesh"``: the
    teacher of ``expnet label --pose mesh``, the fitted face placed on FaceMesh's 3D points."""
    from expnet.face.model import FaceModel
    from expnet.face.pose import project
    from expnet.io.images import load_image, to_gray
    from expnet.io.labels import STATUS_OK
    from expnet.teacher.fitting import LandmarkFitter
    from expnet.teacher.labeling import Observer
    from expnet.teacher.landmarks import DlibLandmarker
    from expnet.teacher.mesh_landmarks import FaceMeshLandmarker
    from expnet.teacher.mesh_pose import pose_from_mesh
    truth = data.boxes()
    n = len(data.paths)
    found = np.zeros(n, dtype=bool)
    pts = np.zeros((n, 68, 2))
    meshes = np.zeros((n, 468, 3))
    if own_detector:
        observer = Observer("auto", mesh=pose == "mesh")
        for i, path in enumerate(data.paths):
            obs = observer(str(path))
            if obs.status == STATUS_OK and _matching([np.array(obs.box)], truth[i]) is not None:
                found[i], pts[i] = True, obs.landmarks
                if obs.mesh is not None:
                    meshes[i] = obs.mesh
    else:
        landmarker = DlibLandmarker()
        mesher = FaceMeshLandmarker() if pose == "mesh" else None
        for i, path in enumerate(data.paths):
            box = FaceBox(*truth[i], 1.0, "gt")
            pts[i] = landmarker.predict(to_gray(load_image(path, "L")), box)
            if mesher is not None:
                meshes[i] = mesher.predict(load_image(path, "RGB"), box)
            found[i] = True
    angles = np.full((n, 3), np.nan)
    points = np.full((n, 68, 2), np.nan)
    if found.any():
        model = FaceModel.load().landmarks
        fit = LandmarkFitter(model).fit(pts[found])
        rotation, projected = fit.rotation, fit.projected
        if pose == "mesh":
            vertices = model.vertices(fit.shape, fit.expression)
            rotation, scale, translation = pose_from_mesh(vertices, meshes[found], pts[found])
            projected = project(vertices, rotation, scale, translation)
        angles[found] = np.degrees(rotation_to_euler(rotation))
        points[found] = projected
    return MethodPoses(angles, points)


def score(data: PoseSet, poses: MethodPoses, method: str, boxes: str) -> PoseScore:
    """Errors of one method's answers against the ground truth (per image: predicted pitch, yaw,
    roll and their absolute errors)."""
    found = np.isfinite(poses.angles).all(1)
    err = np.abs(poses.angles - data.angles)
    err = np.minimum(err, 360 - err)  # angles are periodic
    names = ("pitch", "yaw", "roll")

    def summary(rows: np.ndarray, reduce) -> dict[str, float]:
        if not len(rows):
            return {k: float("nan") for k in (*names, "mean")}
        values = {k: float(reduce(rows[:, j])) for j, k in enumerate(names)}
        values["mean"] = float(np.mean([values[k] for k in names]))
        return {k: round(v, 2) for k, v in values.items()}

    yaw = np.abs(data.angles[:, 1])
    geodesic = np.full(len(data.paths), np.nan)
    true_r, pred_r = (euler_to_rotation(*np.radians(a[found]).T) for a in (data.angles, poses.angles))
    geodesic[found] = rotation_angle(true_r, pred_r)
    by_yaw, rotation = {}, {"mean": _round(geodesic[found], np.mean), "median": _round(geodesic[found], np.median)}
    for name, inside in yaw_bins(yaw).items():
        inside &= found
        by_yaw[name] = {**summary(err[inside], np.mean), "images": int(inside.sum())}
        rotation[name] = _round(geodesic[inside], np.mean)
    lo, hi = data.landmarks.min(1), data.landmarks.max(1)
    size = np.sqrt(np.prod(hi - lo, axis=1))
    nme = np.linalg.norm(poses.landmarks - data.landmarks, axis=2).mean(1) / size
    # the answers and their errors, not the ground truth itself (the datasets are not ours to share)
    per_image = [{"image": p.name, "predicted": None if not found[i] else np.round(poses.angles[i], 2).tolist(),
                  "abs_error": None if not found[i] else np.round(err[i], 2).tolist(),
                  "rotation_error": None if not found[i] else round(float(geodesic[i]), 2),
                  "nme": None if not found[i] else round(float(nme[i]), 4)} for i, p in enumerate(data.paths)]
    return PoseScore(method, boxes, len(data.paths), int(found.sum()), summary(err[found], np.mean),
                     summary(err[found], np.median), by_yaw,
                     round(float(np.mean(nme[found])), 4) if found.any() else float("nan"),
                     round(float(np.median(nme[found])), 4) if found.any() else float("nan"), rotation, per_image)


def _round(values: np.ndarray, reduce) -> float:
    return round(float(reduce(values)), 2) if len(values) else float("nan")


def evaluate_pose(folder: str | os.PathLike, methods=POSE_METHODS, own_detector: bool = False,
                  model: str | None = None) -> tuple[PoseSet, list[PoseScore], dict[str, MethodPoses]]:
    """Score ``methods`` (``expnet``; the teachers ``dlib-fit`` and ``mesh-pose``, the poses of
    ``expnet label`` and ``expnet label --pose mesh``) on an AFLW2000-3D-style folder."""
    unknown = set(methods) - set(POSE_METHODS)
    if unknown:
        raise ValueError(f"pose methods are {POSE_METHODS}; got {sorted(unknown)}")
    data = load_pose_set(folder)
    boxes = "own" if own_detector else "gt"
    answers = {}
    for m in methods:
        answers[m] = (expnet_poses(data, own_detector, model) if m == "expnet"
                      else fit_poses(data, own_detector, "mesh" if m == "mesh-pose" else "fit"))
    return data, [score(data, answers[m], m, boxes) for m in methods], answers


def write_pose_report(folder: str | os.PathLike, data: PoseSet, scores: list[PoseScore],
                      answers: dict[str, MethodPoses], meta: dict) -> Path:
    """report.md, results.json and error-vs-yaw.png in ``folder``; returns the report's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "results.json", json.dumps({"meta": meta, "scores": [asdict(s) for s in scores]}, indent=2))
    lines = [f"# Head pose: {meta.get('folder', '')}", "", f"Made by `{meta.get('command', '')}`.", "",
             "Absolute error in degrees (mean over the faces found); NME of the 68 landmarks projected from "
             "the 3D face, over sqrt(ground-truth box area).", "",
             "| method | boxes | found | yaw | pitch | roll | mean | median (mean of 3) | "
             + " | ".join(f"mean, abs(yaw) {k} ({v['images']})" for k, v in scores[0].mae_by_yaw.items())
             + " | NME |", "|" + "---|" * (9 + len(YAW_BINS))]
    for s in scores:
        lines.append(f"| {s.method} | {s.boxes} | {s.found}/{s.images} | {s.mae['yaw']:.1f} | {s.mae['pitch']:.1f} "
                     f"| {s.mae['roll']:.1f} | **{s.mae['mean']:.1f}** | {s.median['mean']:.1f} | "
                     + " | ".join(f"{v['mean']:.1f}" for v in s.mae_by_yaw.values())
                     + f" | {s.nme:.4f} |")
    lines += ["", "The angle of the rotation between the predicted and the true head pose (geodesic, degrees; "
              "free of the Euler angles' coupling past 60 degrees of yaw):", "",
              "| method | boxes | mean | median | " + " | ".join(f"mean, abs(yaw) {k}" for k in scores[0].mae_by_yaw)
              + " |", "|" + "---|" * (4 + len(YAW_BINS))]
    for s in scores:
        lines.append(f"| {s.method} | {s.boxes} | **{s.rotation['mean']:.1f}** | {s.rotation['median']:.1f} | "
                     + " | ".join(f"{s.rotation[k]:.1f}" for k in s.mae_by_yaw) + " |")
    lines += ["", "![error against yaw](error-vs-yaw.png)", ""]
    _plot(folder / "error-vs-yaw.png", data, answers)
    if answers.get("expnet") is not None and answers["expnet"].faces is not None:
        overlay_sheet(folder / "overlays.png", data, answers["expnet"])
        lines += ["ExpNet's 3D face on each image, by ground-truth yaw (true and predicted yaw, pitch, roll "
                  "under each):", "", "![overlays](overlays.png)", ""]
    report = folder / "report.md"
    write_text(report, "\n".join(lines))
    return report


def overlay_sheet(path: Path, data: PoseSet, poses: MethodPoses, tile: int = 200, columns: int = 4) -> Path:
    """A contact sheet of the 3D face drawn on each image (cut around its box), ordered by abs(yaw),
    with the true and predicted angles under each tile."""
    import cv2

    from expnet.detection.crop import crop
    from expnet.io.images import load_image
    from expnet.render.visuals import FaceRenderer, write_png
    renderer = FaceRenderer()
    order = np.argsort(np.abs(data.angles[:, 1]))
    rows = -(-len(order) // columns)
    sheet = np.full((rows * (tile + 34), columns * tile, 3), 255, np.uint8)
    boxes = data.boxes()
    for n, i in enumerate(order):
        image = load_image(data.paths[i])
        face = poses.faces[i]
        drawn = renderer.overlay(image, [face], landmarks=False) if face is not None else image
        cut, _ = crop(drawn, boxes[i], tile, enlarge=1.6)
        r, c = divmod(n, columns)
        y, x = r * (tile + 34), c * tile
        sheet[y:y + tile, x:x + tile] = cut if cut.ndim == 3 else cut[..., None]
        true = "true {:+.0f} {:+.0f} {:+.0f}".format(*data.angles[i, [1, 0, 2]])
        got = "pred {:+.0f} {:+.0f} {:+.0f}".format(*poses.angles[i, [1, 0, 2]]) if face is not None else "missed"
        for k, text in enumerate((true, got)):
            cv2.putText(sheet, text, (x + 4, y + tile + 13 + 15 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (30, 30, 30), 1,
                        cv2.LINE_AA)
    return write_png(path, sheet)


def _plot(path: Path, data: PoseSet, answers: dict[str, MethodPoses]) -> None:
    from expnet.io.figures import pyplot, save_figure
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, poses in answers.items():
        err = np.abs(poses.angles - data.angles)
        ax.scatter(data.angles[:, 1], np.nanmean(np.minimum(err, 360 - err), axis=1), label=method, s=18)
    ax.set_xlabel("ground-truth yaw (degrees)")
    ax.set_ylabel("mean abs error of yaw, pitch, roll (degrees)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)

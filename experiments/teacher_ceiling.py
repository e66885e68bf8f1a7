"""How much emotion information do the landmark teacher's inputs hold, and can a better fit
recover more? 5-NN accuracy (the evaluation protocol, the same boxes as `reports/emotion/`, full
size) of the shipped network, of the label pipeline's fit, of the raw 68 landmarks themselves, and
of variants of the fit: landmarks averaged with those found on the mirrored image, other prior
weights, a lighter jaw line, shape fixed to the mean face or to the network's shape estimate.
Last, the network with the whole-crop box moved or resized, to see how much the crop convention
matters.

    python experiments/teacher_ceiling.py > reports/experiments/teacher-ceiling/results.md

Reads FER-2013 validation and CK+48 from EXPNET_DATA (default ../shared/data); about 1 min on
2 cores. An experiment, not part of the product.
"""

import os
from pathlib import Path

import numpy as np

from expnet.assets.datasets import CKPLUS48, FER2013_VALIDATION
from expnet.detection.boxes import BoxCalibration, FaceBox
from expnet.evaluation.datasets import load_dataset
from expnet.evaluation.knn import knn_leave_group_out, pool
from expnet.evaluation.methods import face_box_at_scale
from expnet.face.ibug68 import mirror_landmarks
from expnet.face.model import FaceModel
from expnet.inference.predictor import ExpNet
from expnet.io.pools import worker_map
from expnet.teacher.fitting import FitConfig, LandmarkFitter
from expnet.teacher.landmarks import DlibLandmarker

# whole-crop box variants (dx, dy, size), around the shipped "none" calibration
BOXES = {"shipped crop box": (-0.031, 0.058, 0.803), "box 0.75x": (-0.031, 0.058, 0.75),
         "box 0.85x": (-0.031, 0.058, 0.85), "box up 3%": (-0.031, 0.028, 0.803),
         "box down 3%": (-0.031, 0.088, 0.803)}

class _Landmarks:
    """68 landmarks of the image and those of its mirror image, mapped back (point order and x)."""

    def __init__(self):
        self.predictor = DlibLandmarker()

    def __call__(self, job) -> tuple[np.ndarray, np.ndarray]:
        path, crops = job
        gray, box = face_box_at_scale(path, 1.0, crops, False, None)
        pts = self.predictor.predict(gray, box)
        w = gray.shape[1]
        flipped = np.ascontiguousarray(gray[:, ::-1])
        fbox = FaceBox(w - 1 - box.x1, box.y0, w - 1 - box.x0, box.y1, box.score, box.detector)
        return pts, mirror_landmarks(self.predictor.predict(flipped, fbox), w)  # mirroring is its own inverse


def procrustes(pts: np.ndarray) -> np.ndarray:
    """(B, 68, 2) landmarks centred, scaled to unit RMS radius and rotated onto their mean."""
    c = pts - pts.mean(1, keepdims=True)
    c /= np.sqrt((c ** 2).sum(2).mean(1))[:, None, None]
    ref = c.mean(0)
    u, _, vt = np.linalg.svd(np.einsum("bki,kj->bij", c, ref))
    return np.einsum("bki,bij->bkj", c, u @ vt)


def network(net: ExpNet, grays: list[np.ndarray], cal: tuple[float, float, float]):
    """Network outputs for whole-crop boxes (WholeImageDetector's) under this calibration."""
    calibration = BoxCalibration(*cal)
    boxes = [FaceBox(*calibration.apply(0, 0, g.shape[1] - 1, g.shape[0] - 1), 1.0, "none") for g in grays]
    return net.run_crops(np.concatenate([net.crop_faces(g, [b])[0] for g, b in zip(grays, boxes)]))


def accuracy(data, features) -> float:
    x, y, g, _ = pool(features, data.labels, data.groups, data.clips)
    return 100 * knn_leave_group_out(x, y, g)[1].accuracy


def main() -> None:
    root = Path(os.environ.get("EXPNET_DATA", "../shared/data"))
    model = FaceModel.load()
    net = ExpNet(detector="none", crop_scales=(1.0,))  # one crop per face, as shipped before

    def whiten(e):
        return (e - model.expression_mean) / model.expression_std

    sets = [("fer2013", root / FER2013_VALIDATION), ("ckplus48", root / CKPLUS48)]
    rows: dict[str, list[float]] = {}
    for name, path in sets:
        data = load_dataset(name, path)
        grays = [face_box_at_scale(str(p), 1.0, data.cropped, False, None)[0] for p in data.paths]

        exp, _, shape = network(net, grays, BOXES["shipped crop box"])
        found = list(worker_map(_Landmarks, (), [(str(p), data.cropped) for p in data.paths], os.cpu_count() or 1,
                                chunksize=32))
        pts = np.array([f[0] for f in found])
        mirrored = np.array([f[1] for f in found])

        def fit(landmarks, shape=None, **config):
            return whiten(LandmarkFitter(model.landmarks, FitConfig(**config)).fit(landmarks, shape).expression)

        result = {
            "ExpNet (shipped network, one crop)": exp,
            "label pipeline: dlib 68 + fit": fit(pts),
            "raw 68 landmarks (aligned)": procrustes(pts).reshape(len(pts), -1),
            "raw 51 inner landmarks (aligned, no jaw)": procrustes(pts)[:, 17:].reshape(len(pts), -1),
            "fit of landmarks averaged with the mirror image's": fit((pts + mirrored) / 2),
            "fit, expression prior 0.001 (default 0.003)": fit(pts, expression_prior=0.001),
            "fit, expression prior 0.01": fit(pts, expression_prior=0.01),
            "fit, jaw points weighted 0.05 (default 0.2)": fit(pts, contour_weight=0.05),
            "fit, shape fixed to the mean face": fit(pts, np.tile(model.shape_mean, (len(pts), 1))),
            "fit, shape fixed to ExpNet's estimate": fit(pts, shape * model.shape_std + model.shape_mean),
        }
        for label, cal in BOXES.items():
            if label != "shipped crop box":
                result[f"ExpNet, {label}"] = network(net, grays, cal)[0]
        for label, feats in result.items():
            rows.setdefault(label, []).append(accuracy(data, feats))
    print_table(rows)


def print_table(rows: dict[str, list[float]]) -> None:
    """The results table (markdown) on stdout: one row per feature set, FER-2013 then CK+48."""
    print("| features (full size, same boxes) | FER-2013 validation | CK+48 peak |")
    print("|---|---|---|")
    for label, accs in rows.items():
        print(f"| {label} | " + " | ".join(f"{a:.1f}" for a in accs) + " |")


if __name__ == "__main__":
    main()

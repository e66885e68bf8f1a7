"""The teacher's ceiling with a denser teacher (issue 13, item 2): dlib's 68, FaceMesh's 68-point
subset and FaceMesh's 468 points matched to the face model, each fitted and scored with the
evaluation protocol (5-NN on the whitened expression, same whole-crop boxes, full size), beside
the raw aligned points they come from.

    python experiments/dense_teacher.py > reports/experiments/dense-teacher/results.md

Steps: (1) the correspondence, learned on 300 near-frontal lfw-expressions training faces whose
dlib fit is good (``outputs/labels/lfw-expressions.jsonl`` from scripts/label_shared_data.sh),
saved to reports/experiments/dense-teacher/correspondence.npz (vertex indices only); (2) dlib's
68 and FaceMesh's 468 points on CK+48 peak frames and FER-2013 validation; (3) fits and 5-NN.
Reads EXPNET_DATA (default ../shared/data); a few minutes on 2 cores. An experiment.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
from dense_fit import MeshCorrespondence, learn_correspondence  # beside this script
from teacher_ceiling import accuracy, print_table, procrustes

from expnet.assets.datasets import CKPLUS48, FER2013_VALIDATION
from expnet.detection.boxes import FaceBox
from expnet.evaluation.datasets import load_dataset
from expnet.evaluation.methods import face_box_at_scale
from expnet.face.ibug68 import JAW, inter_ocular
from expnet.face.model import FaceModel, LinearModel
from expnet.face.pose import Pose
from expnet.io.images import load_image
from expnet.io.pools import worker_map
from expnet.splits import lfw_validation_identities
from expnet.teacher.fitting import FitConfig, LandmarkFitter
from expnet.teacher.landmarks import DlibLandmarker
from expnet.teacher.mesh_landmarks import IBUG68_FROM_MESH, FaceMeshLandmarker

OUT = Path("reports/experiments/dense-teacher")
class _Points:
    """dlib's 68 and FaceMesh's 468 on one image, with the box given or the whole-crop box."""

    def __init__(self):
        self.dlib, self.mesh = DlibLandmarker(), FaceMeshLandmarker()

    def __call__(self, job):
        path, cropped, box = job
        if box is None:
            gray, box = face_box_at_scale(path, 1.0, cropped, False, None)
        else:
            gray = load_image(path, "L")
            box = FaceBox(*box, 1.0, "given")
        return self.dlib.predict(gray, box), self.mesh.predict(load_image(path, "RGB"), box)


def _pool_map(jobs):
    return list(worker_map(_Points, (), jobs, os.cpu_count() or 1, chunksize=16))


def correspondence(model: FaceModel) -> MeshCorrespondence:
    held = lfw_validation_identities()
    rows = [json.loads(line) for line in open("outputs/labels/lfw-expressions.jsonl")]
    rows = [r for r in rows if r["status"] == "ok" and r["identity"] not in held and r["residual"] < 0.045
            and abs(r["pose"]["yaw"]) < 12 and abs(r["pose"]["pitch"]) < 12][:300]
    found = _pool_map([(r["image"], False, r["box"]) for r in rows])
    meshes = np.array([m for _, m in found])
    fits = [(np.array(r["shape"]), np.array(r["expression"]),
             Pose(np.array(r["pose"]["rotation"]), np.array(r["pose"]["translation"]), r["pose"]["scale"]))
            for r in rows]
    iod = inter_ocular(np.array([r["landmarks"] for r in rows]))
    return learn_correspondence(model, meshes, fits, iod)


def main() -> None:
    root = Path(os.environ.get("EXPNET_DATA", "../shared/data"))
    model = FaceModel.load()
    OUT.mkdir(parents=True, exist_ok=True)
    corr = correspondence(model)
    corr.save(OUT / "correspondence.npz")
    print(f"correspondence: {len(corr.points)} of 468 FaceMesh points kept (median spread "
          f"{np.median(corr.spread):.3f} IOD), {len(corr.contour)} on the outer ring, from {corr.faces} faces",
          file=sys.stderr)
    dense_model = corr.sub_model(model)

    def whiten(e):
        return (e - model.expression_mean) / model.expression_std

    both_vertices = np.r_[model.landmark_indices, corr.vertices]
    both_model = LinearModel(model.mean[both_vertices], model.shape_basis[both_vertices],
                             model.expression_basis[both_vertices], model.shape_mean, model.shape_std,
                             model.expression_mean, model.expression_std)
    rows: dict[str, list[float]] = {}
    for name, path in [("fer2013", root / FER2013_VALIDATION), ("ckplus48", root / CKPLUS48)]:
        data = load_dataset(name, path)
        found = _pool_map([(str(p), data.cropped, None) for p in data.paths])
        dlib = np.array([d for d, _ in found])
        mesh = np.array([m for _, m in found])
        dense = mesh[:, corr.points, :2]

        def fit(sub, pts, contour=None, **config):
            return whiten(LandmarkFitter(sub, FitConfig(**config), contour).fit(pts).expression)

        result = {
            "dlib 68 + fit (the label pipeline)": fit(model.landmarks, dlib),
            "FaceMesh 68-point subset + fit (mesh-fit)": fit(model.landmarks, mesh[:, IBUG68_FROM_MESH, :2]),
            f"FaceMesh dense ({len(corr.points)} points) + fit": fit(dense_model, dense, corr.contour),
            "dense, expression prior 0.001 (default 0.003)": fit(dense_model, dense, corr.contour,
                                                                 expression_prior=0.001),
            "dense, expression prior 0.01": fit(dense_model, dense, corr.contour, expression_prior=0.01),
            "dense, outer ring weighted 1 (as inner points)": fit(dense_model, dense, corr.contour,
                                                                   contour_weight=1.0, hidden_contour_weight=1.0),
            "dlib 68 + FaceMesh dense + fit": fit(both_model, np.concatenate([dlib, dense], 1),
                                                  np.r_[JAW, 68 + corr.contour]),
            "raw dlib 51 inner landmarks (aligned)": procrustes(dlib)[:, 17:].reshape(len(dlib), -1),
            "raw FaceMesh 468 points (aligned, x y)": procrustes(mesh[:, :, :2]).reshape(len(mesh), -1),
        }
        for label, feats in result.items():
            rows.setdefault(label, []).append(accuracy(data, feats))
    print_table(rows)


if __name__ == "__main__":
    main()

"""``expnet bench mesh68``: learn which of FaceMesh's 468 points stands for each iBUG-68 point.

On faces where both backends run (dlib's 68 and FaceMesh on the same dlib-hog box), each iBUG
point gets the mesh point with the smallest median distance to it, in inter-ocular distances.
Only near-frontal faces are used, where dlib's jaw (the silhouette) and the mesh's face oval
coincide. The result is :data:`expnet.teacher.mesh_landmarks.IBUG68_FROM_MESH`.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from expnet.detection.chain import DetectorChain
from expnet.face.ibug68 import JAW, inter_ocular
from expnet.io.images import load_image
from expnet.io.inputs import list_images
from expnet.teacher.landmarks import DlibLandmarker
from expnet.teacher.mesh_landmarks import FaceMeshLandmarker


def bench_mesh68(data: str | os.PathLike | None, n_images: int = 400, progress: bool = True) -> dict:
    """The learned correspondence and its error (median distance per iBUG point, in
    inter-ocular distances), from up to ``n_images`` face images under ``data``."""
    if not data:
        raise ValueError("bench mesh68 needs --data FOLDER (face images)")
    paths = list_images(data)
    paths = paths[:: max(1, len(paths) // n_images)][:n_images]
    detector, dlib68, mesh = DetectorChain("dlib-hog"), DlibLandmarker(), FaceMeshLandmarker()
    ibug, meshes = [], []
    for path in tqdm(paths, desc="mesh68", unit="img", disable=not progress):
        gray = load_image(path, "L")
        boxes = detector.detect(gray)
        if not boxes:
            continue
        pts = dlib68.predict(gray, boxes[0])
        m = mesh.predict(gray, boxes[0])
        if mesh.score < 0.5:
            continue
        # near-frontal: the nose tip (iBUG 30) halfway between the jaw ends, within 10% of the width
        jaw_mid = (pts[JAW[0]] + pts[JAW[-1]]) / 2
        if abs(pts[30, 0] - jaw_mid[0]) > 0.1 * (pts[JAW[-1], 0] - pts[JAW[0], 0]):
            continue
        ibug.append(pts)
        meshes.append(m[:, :2])
    if len(ibug) < 20:
        raise ValueError(f"only {len(ibug)} near-frontal faces found under {data}; give more face images")
    ibug, meshes = np.array(ibug), np.array(meshes)
    iod = inter_ocular(ibug)[:, None, None]
    # (faces, 68, 468) distances, normalised; the median over faces picks each point's partner
    dist = np.linalg.norm(ibug[:, :, None] - meshes[:, None], axis=3) / iod
    median = np.median(dist, axis=0)
    index = median.argmin(1)
    return {"faces": len(ibug), "images": len(paths), "ibug68_from_mesh": index.tolist(),
            "median_error_iod": np.round(median[np.arange(68), index], 4).tolist(),
            "median_error_iod_all": round(float(np.median(median[np.arange(68), index])), 4)}

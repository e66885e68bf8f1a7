"""A denser teacher: FaceMesh's 468 points matched to the face model's vertices, and the fit on them.

FaceMesh's points are surface points of a fixed topology (lips, eyelids and brows in far more
detail than dlib's 68). The correspondence to the model is learned by the project: on faces whose
dlib-68 fit is good and near-frontal, the fitted model is projected into the image and each
FaceMesh point votes for the nearest projected vertex (among vertices that face the camera); the
vertex with most votes wins. Points whose votes scatter (their median distance to the chosen vertex
is large) are dropped. The contour of the dense fit is FaceMesh's outer ring (the points on the
hull of the layout), weighted as dlib's jaw is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from expnet.face.model import FaceModel, LinearModel
from expnet.face.pose import Pose
from expnet.io.atomic import atomic_path

MAX_SPREAD = 0.05  # a point is kept when its median distance to its vertex is under this (IOD units)


@dataclass(frozen=True)
class MeshCorrespondence:
    """Which model vertex each kept FaceMesh point sits on."""

    points: np.ndarray    # (P,) FaceMesh point indices kept
    vertices: np.ndarray  # (P,) model vertex of each
    contour: np.ndarray   # indices into ``points``: the outer ring
    spread: np.ndarray    # (P,) median distance to the vertex on the learning faces (IOD units)
    faces: int            # faces it was learned from

    def sub_model(self, model: FaceModel) -> LinearModel:
        """The linear model of the matched vertices (what the fit solves with)."""
        idx = self.vertices
        return LinearModel(model.mean[idx], model.shape_basis[idx], model.expression_basis[idx],
                           model.shape_mean, model.shape_std, model.expression_mean, model.expression_std)

    def save(self, path: str | os.PathLike) -> Path:
        with atomic_path(path) as tmp:
            np.savez(tmp, points=self.points, vertices=self.vertices, contour=self.contour, spread=self.spread,
                     faces=np.array(self.faces))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MeshCorrespondence:
        with np.load(path) as d:
            return cls(d["points"], d["vertices"], d["contour"], d["spread"], int(d["faces"]))


def _facing_vertices(model: FaceModel, min_z: float = 0.3) -> np.ndarray:
    """Vertices of the mean face whose normal faces the viewer of a frontal face."""
    v = model.vertices().astype(np.float64)
    tri = np.asarray(model.triangles, dtype=np.int64)
    fn = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, tri[:, k], fn)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return np.flatnonzero(normals[:, 2] > min_z)


def learn_correspondence(model: FaceModel, meshes: np.ndarray, fits: list[tuple[np.ndarray, np.ndarray, Pose]],
                         inter_ocular: np.ndarray, max_spread: float = MAX_SPREAD) -> MeshCorrespondence:
    """Match FaceMesh points to model vertices.

    Parameters
    ----------
    model : FaceModel
    meshes : ndarray
        (B, 468, 2+) FaceMesh points of B near-frontal faces, image pixels.
    fits : list
        (shape, expression, pose) of each face's landmark fit, in the same image.
    inter_ocular : ndarray
        (B,) each face's inter-ocular distance (pixels), the unit of ``spread``.
    max_spread : float
        Drop points whose median distance to their vertex exceeds this.
    """
    candidates = _facing_vertices(model)
    n_points = meshes.shape[1]
    votes = np.zeros((len(meshes), n_points), np.int64)
    for i, (shape, expression, pose) in enumerate(fits):
        verts = model.vertices(shape, expression)[candidates]
        projected = pose.project(verts)
        votes[i] = candidates[cKDTree(projected).query(meshes[i, :, :2])[1]]
    chosen = np.array([np.bincount(col).argmax() for col in votes.T])
    # the chosen vertices' distances to their points, face by face (the first 200 faces)
    dist = np.stack([np.linalg.norm(pose.project(model.vertices(shape, expression)[chosen]) - meshes[i, :, :2], axis=1)
                     / inter_ocular[i] for i, (shape, expression, pose) in enumerate(fits[:200])])
    spread = np.median(dist, axis=0)
    keep = np.flatnonzero(spread <= max_spread)
    # the outer ring: points on the hull of the mean layout (centred and scaled face by face)
    layout = meshes[:, :, :2] - meshes[:, :, :2].mean(1, keepdims=True)
    layout = (layout / np.sqrt((layout ** 2).sum(2).mean(1))[:, None, None]).mean(0)
    ring = set(ConvexHull(layout).vertices.tolist())
    contour = np.array([k for k, p in enumerate(keep) if p in ring], np.int64)
    return MeshCorrespondence(keep, chosen[keep], contour, spread[keep], len(meshes))

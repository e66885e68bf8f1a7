"""Head pose from FaceMesh's depth: the face model's 68 landmarks aligned in 3D to the mesh's
iBUG-compatible subset (x, y and FaceMesh's relative depth z).

A fit of 2D landmarks leaves a steep pitch ambiguous (a face looking up or a shorter nose): on the
AFLW2000-3D samples the fit of dlib's landmarks reads faces pitched 31-36 degrees at 8-28. FaceMesh
also regresses each point's depth, and a rotation fitted to points in 3D has no such ambiguity.
The alignment is a similarity (Umeyama's least squares: rotation, one scale, translation) and
maps onto the project's weak-perspective pose (:mod:`expnet.face.pose`). For labels only its
rotation is kept: :func:`place_on_landmarks` then finds the scale and translation that put the
face on the row's own 2D landmarks, the convention of every other label (the 3D alignment's scale
runs smaller than the fit's: noisy depth shrinks a least-squares scale).
"""

from __future__ import annotations

import numpy as np

from expnet.face.ibug68 import JAW
from expnet.face.pose import project
from expnet.teacher.mesh_landmarks import IBUG68_FROM_MESH

# image (x right, y down, FaceMesh's z: towards the camera negative) -> model frame (y up, z
# towards the camera)
_TO_MODEL_AXES = np.array([1.0, -1.0, -1.0])


def align_to_mesh(model_points: np.ndarray, mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weak-perspective poses that place ``model_points`` on FaceMesh points.

    Parameters
    ----------
    model_points : ndarray
        (B, 68, 3) or (68, 3) model-frame landmarks (e.g. the fitted face's).
    mesh : ndarray
        (B, 468, 3) FaceMesh points: x, y in image pixels, z its relative depth in pixels.

    Returns
    -------
    rotation (B, 3, 3), scale (B,) pixels per model unit, translation (B, 2) pixels: the pose of
    :class:`expnet.face.pose.Pose`.
    """
    mesh = np.asarray(mesh, dtype=np.float64)
    if mesh.ndim != 3 or mesh.shape[1:] != (468, 3):
        raise ValueError(f"mesh must have shape (B, 468, 3); got {mesh.shape}")
    y = mesh[:, IBUG68_FROM_MESH] * _TO_MODEL_AXES
    x = np.broadcast_to(np.asarray(model_points, dtype=np.float64), y.shape)
    mx, my = x.mean(1, keepdims=True), y.mean(1, keepdims=True)
    xc, yc = x - mx, y - my
    u, sigma, vt = np.linalg.svd(np.einsum("bni,bnj->bij", yc, xc))
    flip = np.ones_like(sigma)
    flip[:, 2] = np.sign(np.linalg.det(u @ vt))  # a proper rotation, never a reflection
    rotation = (u * flip[:, None, :]) @ vt
    scale = (sigma * flip).sum(1) / (xc ** 2).sum((1, 2))
    offset = my[:, 0] - scale[:, None] * np.einsum("bij,bj->bi", rotation, mx[:, 0])
    return rotation, scale, offset[:, :2] * _TO_MODEL_AXES[:2]


def place_on_landmarks(model_points: np.ndarray, rotation: np.ndarray, landmarks: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Scale (B,) and translation (B, 2) that put ``model_points`` (B, 68, 3), turned by
    ``rotation`` (B, 3, 3), on 2D ``landmarks`` (B, 68, 2) in least squares; the jaw is left out
    (a contour follows the silhouette, not fixed vertices)."""
    inner = np.setdiff1d(np.arange(68), JAW)
    p = project(np.asarray(model_points, np.float64), rotation, np.ones(len(rotation)), np.zeros((len(rotation), 2)))
    p, q = p[:, inner], np.asarray(landmarks, np.float64)[:, inner]
    pc, qc = p - p.mean(1, keepdims=True), q - q.mean(1, keepdims=True)
    scale = (pc * qc).sum((1, 2)) / (pc ** 2).sum((1, 2))
    return scale, q.mean(1) - scale[:, None] * p.mean(1)


def pose_from_mesh(model_points: np.ndarray, mesh: np.ndarray, landmarks: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labels' mesh pose (``expnet label --pose mesh``): the rotation of
    :func:`align_to_mesh`, the scale and translation of :func:`place_on_landmarks` on the 2D
    ``landmarks`` (B, 68, 2)."""
    rotation = align_to_mesh(model_points, mesh)[0]
    return (rotation, *place_on_landmarks(model_points, rotation, landmarks))

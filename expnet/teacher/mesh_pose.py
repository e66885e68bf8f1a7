"""Head pose from FaceMesh's depth: the face model's 68 landmarks aligned in 3D to the mesh's
iBUG-compatible subset (x, y and FaceMesh's relative depth z).

A fit of 2D landmarks leaves a steep pitch ambiguous (a face looking up or a shorter nose): on the
AFLW2000-3D samples the fit of dlib's landmarks reads faces pitched 31-36 degrees at 8-23. FaceMesh
also regresses each point's depth, and a rotation fitted to points in 3D has no such ambiguity.
The alignment is a similarity (Umeyama's least squares: rotation, one scale, translation) and
maps onto the project's weak-perspective pose (:mod:`expnet.face.pose`).
"""

from __future__ import annotations

import numpy as np

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

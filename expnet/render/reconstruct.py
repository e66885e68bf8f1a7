"""From coefficients and pose to 3D meshes: in model space, in image space, and the
expression-only frontal face (mean identity, frontal pose) that shows an expression alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expnet.face.model import FaceModel
from expnet.face.pose import Pose, euler_to_rotation


@dataclass
class PosedMesh:
    """A face's 3D mesh, in model space and posed into an image."""

    vertices: np.ndarray        # (N, 3) model space (model units, y up)
    image_vertices: np.ndarray  # (N, 3) image space: x, y pixels (y down), z towards the camera (pixels)
    triangles: np.ndarray       # (T, 3)


def to_image_space(vertices: np.ndarray, pose: Pose) -> np.ndarray:
    # One product: scale, rotation and the y flip (model y up -> image y down) folded together.
    m = pose.scale * np.asarray(pose.rotation, dtype=np.float64) * np.array([[1.0], [-1.0], [1.0]])
    out = np.asarray(vertices, dtype=np.float64) @ m.T
    out[:, :2] += pose.translation
    return out


def reconstruct(model: FaceModel, shape: np.ndarray | None, expression: np.ndarray | None, pose: Pose) -> PosedMesh:
    """The face of a prediction (or a fit): shape + expression, posed into the image."""
    v = model.vertices(shape, expression).astype(np.float64)
    return PosedMesh(v, to_image_space(v, pose), model.triangles)


def frontal_pose(model: FaceModel, size: int, yaw: float = 0.0, fill: float = 0.8) -> Pose:
    """A pose that centres the prior-mean face in a ``size`` x ``size`` image."""
    v = model.vertices()
    extent = np.ptp(v[:, :2], axis=0).max()
    centre = (v[:, :2].max(0) + v[:, :2].min(0)) / 2
    rot = euler_to_rotation(0.0, np.radians(yaw), 0.0)
    scale = fill * size / extent
    c = scale * (rot @ np.r_[centre, 0.0])[:2] * np.array([1.0, -1.0])
    return Pose(rot, np.array([size / 2, size / 2]) - c, float(scale))

"""6-DoF head pose with a weak-perspective camera, and rotation <-> yaw/pitch/roll.

Projection to image pixels (x right, y down) of model points ``X`` (model y points up)::

    u = scale * (R @ X)_x + tx
    v = -scale * (R @ X)_y + ty

Angles follow AFLW2000-3D's ``Pose_Para`` (pitch, yaw, roll), whose rotation is
``R = Rx(pitch) @ Ry(yaw) @ Rz(roll)`` with the axis matrices written below; the tests check the
convention against the AFLW2000-3D ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FLIP = np.array([1.0, -1.0])  # model y-up -> image y-down


def _axis_matrices(angle: np.ndarray, axis: int) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    # AFLW2000-3D (3DDFA's MATLAB code) uses these signs for every axis but y.
    sign = -1.0 if axis == 1 else 1.0
    out[..., i, j] = sign * s
    out[..., j, i] = -sign * s
    return out


def euler_to_rotation(pitch, yaw, roll) -> np.ndarray:
    """Rotation matrices from angles in radians (scalars or arrays of one shape)."""
    pitch, yaw, roll = (np.asarray(a, dtype=np.float64) for a in (pitch, yaw, roll))
    return _axis_matrices(pitch, 0) @ _axis_matrices(yaw, 1) @ _axis_matrices(roll, 2)


def rotation_to_euler(rotation: np.ndarray) -> np.ndarray:
    """(pitch, yaw, roll) in radians, shape ``(..., 3)``, inverse of :func:`euler_to_rotation`."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = -np.arcsin(np.clip(r[..., 0, 2], -1.0, 1.0))
    pitch = np.arctan2(r[..., 1, 2], r[..., 2, 2])
    roll = np.arctan2(r[..., 0, 1], r[..., 0, 0])
    return np.stack([pitch, yaw, roll], axis=-1)


def rotation_to_6d(rotation: np.ndarray) -> np.ndarray:
    """The continuous 6-D representation of rotations (Zhou et al. 2019): the first two columns,
    ``(..., 3, 3) -> (..., 6)``; no wrap-around and no gimbal lock, unlike angles."""
    r = np.asarray(rotation, dtype=np.float64)
    return np.concatenate([r[..., :, 0], r[..., :, 1]], axis=-1)


def rotation_from_6d(six: np.ndarray) -> np.ndarray:
    """Rotations ``(..., 3, 3)`` from any ``(..., 6)`` vectors (two columns, made orthonormal by
    Gram-Schmidt; the third is their cross product)."""
    six = np.asarray(six, dtype=np.float64)
    a, b = six[..., :3], six[..., 3:]
    c0 = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b - (c0 * b).sum(-1, keepdims=True) * c0
    c1 = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return np.stack([c0, c1, np.cross(c0, c1)], axis=-1)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The angle in degrees of the rotation between ``a`` and ``b`` (``(..., 3, 3)`` each): the
    geodesic distance, free of the Euler angles' wrap-around."""
    trace = np.einsum("...ij,...ij->...", np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.degrees(np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0)))


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Batched axis-angle vectors ``(..., 3)`` to rotation matrices ``(..., 3, 3)``."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    theta = np.linalg.norm(rotvec, axis=-1)[..., None, None]
    k = np.zeros(rotvec.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -rotvec[..., 2], rotvec[..., 1]
    k[..., 1, 0], k[..., 1, 2] = rotvec[..., 2], -rotvec[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -rotvec[..., 1], rotvec[..., 0]
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(safe) / safe)
    b = np.where(small, 0.5, (1.0 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * k + b * (k @ k)


def mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """The rotation nearest (Frobenius) to the mean of ``(..., K, 3, 3)`` rotations, ``(..., 3, 3)``:
    the chordal mean, exact enough for the close estimates it averages here."""
    u, _, vt = np.linalg.svd(np.asarray(rotations, dtype=np.float64).mean(-3))
    d = np.sign(np.linalg.det(u @ vt))  # keep a proper rotation (det +1)
    return u @ (vt * np.stack([np.ones_like(d), np.ones_like(d), d], -1)[..., :, None])


def mirror_pose(rotation: np.ndarray, translation: np.ndarray, width) -> tuple[np.ndarray, np.ndarray]:
    """The pose of a face in its image flipped left-right (pixel column x -> width - 1 - x):
    rotation ``M R M`` with ``M = diag(-1, 1, 1)`` (yaw and roll change sign) and the model origin
    mirrored; the scale is unchanged. ``(..., 3, 3)``, ``(..., 2)``; ``width`` broadcasts."""
    flip = np.diag([-1.0, 1.0, 1.0])
    translation = np.asarray(translation, dtype=np.float64)
    return (flip @ np.asarray(rotation, dtype=np.float64) @ flip,
            np.stack([np.asarray(width, dtype=np.float64) - 1 - translation[..., 0], translation[..., 1]], -1))


def project(points: np.ndarray, rotation: np.ndarray, scale, translation) -> np.ndarray:
    """Weak-perspective projection of ``(..., N, 3)`` model points to ``(..., N, 2)`` pixels."""
    rotated = np.einsum("...ij,...nj->...ni", rotation, points)
    scale = np.asarray(scale, dtype=np.float64)[..., None, None]
    return scale * rotated[..., :2] * _FLIP + np.asarray(translation)[..., None, :]


@dataclass(frozen=True)
class Pose:
    """Head pose of one face: ``image = scale * (R @ X)[x, -y] + translation``.

    Attributes
    ----------
    rotation : ndarray
        (3, 3) rotation of model points (model y up).
    translation : ndarray
        (2,) image position of the model origin, pixels.
    scale : float
        Pixels per model unit.

    ``pitch``, ``yaw`` and ``roll`` are in degrees, AFLW2000-3D's convention
    (``R = Rx(pitch) Ry(yaw) Rz(roll)``).
    """

    rotation: np.ndarray     # (3, 3)
    translation: np.ndarray  # (2,) pixels
    scale: float             # pixels per model unit

    @property
    def angles(self) -> np.ndarray:
        """(pitch, yaw, roll) in degrees."""
        return np.degrees(rotation_to_euler(self.rotation))

    @property
    def pitch(self) -> float:
        return float(self.angles[0])

    @property
    def yaw(self) -> float:
        return float(self.angles[1])

    @property
    def roll(self) -> float:
        return float(self.angles[2])

    def project(self, points: np.ndarray) -> np.ndarray:
        return project(points, self.rotation, self.scale, self.translation)

    def to_dict(self) -> dict:
        pitch, yaw, roll = (float(a) for a in self.angles)
        return {"yaw": yaw, "pitch": pitch, "roll": roll,
                "rotation": self.rotation.tolist(), "translation": self.translation.tolist(),
                "scale": float(self.scale)}

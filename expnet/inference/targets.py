"""What the network regresses, and back: whitened coefficients and crop-relative pose.

Expression and shape are whitened by the model prior, ``(c - prior_mean) / prior_std``. Pose is
expressed relative to the face crop the network sees, so that it does not depend on where the face
sits in the image: the rotation, the log of the projected face size as a fraction of the crop, and
the projected model origin in crop units; these are then standardised by statistics of the
training labels (stored with the model). The rotation is encoded as (pitch, yaw, roll) in radians
(``pose_encoding="euler"``, six pose targets) or as its first two columns (``"6d"``, nine targets:
continuous, no wrap-around near profile, decoded by Gram-Schmidt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expnet.face.model import LinearModel
from expnet.face.pose import euler_to_rotation, rotation_from_6d, rotation_to_6d, rotation_to_euler

POSE_ENCODINGS = ("euler", "6d")


@dataclass(frozen=True)
class TargetCoder:
    """Encodes labels into network targets and decodes network outputs into labels."""

    expression_mean: np.ndarray
    expression_std: np.ndarray
    shape_mean: np.ndarray
    shape_std: np.ndarray
    model_radius: float          # RMS radius of the mean 68 landmarks, model units
    pose_mean: np.ndarray        # (n_pose,) statistics of the raw pose targets
    pose_std: np.ndarray
    pose_encoding: str = "euler"  # models exported before the 6-D encoding carry no such key

    def __post_init__(self):
        if self.pose_encoding not in POSE_ENCODINGS:
            raise ValueError(f"pose_encoding must be one of {POSE_ENCODINGS}, got {self.pose_encoding!r}")

    @classmethod
    def from_model(cls, model: LinearModel, pose_mean=None, pose_std=None, pose_encoding: str = "euler") -> TargetCoder:
        mean = model.vertices()
        radius = float(np.sqrt(((mean - mean.mean(0)) ** 2).sum(1).mean()))
        n = pose_targets(pose_encoding)
        return cls(model.expression_mean, model.expression_std, model.shape_mean, model.shape_std,
                   radius, np.zeros(n) if pose_mean is None else np.asarray(pose_mean),
                   np.ones(n) if pose_std is None else np.asarray(pose_std), pose_encoding)

    @property
    def n_pose(self) -> int:
        """Pose targets the network regresses."""
        return pose_targets(self.pose_encoding)

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> TargetCoder:
        return cls(**{k: (np.asarray(v, dtype=np.float64) if isinstance(v, list) else v) for k, v in d.items()})

    # -- pose ---------------------------------------------------------------------------------
    def raw_pose(self, rotation, scale, translation, affine, crop_size: int) -> np.ndarray:
        """(B, 6) unstandardised pose targets for image-space poses and image->crop affines."""
        rotation, affine = np.asarray(rotation), np.asarray(affine)
        a = affine[..., 0, 0]
        angles = rotation_to_euler(rotation) if self.pose_encoding == "euler" else rotation_to_6d(rotation)
        size = np.log(np.asarray(scale) * a * self.model_radius / crop_size)
        t = np.einsum("...ij,...j->...i", affine[..., :, :2], np.asarray(translation)) + affine[..., :, 2]
        return np.concatenate([angles, size[..., None], t / crop_size - 0.5], axis=-1)

    def encode_pose(self, rotation, scale, translation, affine, crop_size: int) -> np.ndarray:
        return (self.raw_pose(rotation, scale, translation, affine, crop_size) - self.pose_mean) / self.pose_std

    def mirror_map(self, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(sign, offset)``, ``(n_pose,)`` each: the whitened pose targets of a crop from those of
        its left-right mirror image (``crop[:, ::-1]``) are ``sign * mirrored + offset``.

        Mirroring (:func:`expnet.face.pose.mirror_pose`) turns a rotation R into ``M R M``
        (``M = diag(-1, 1, 1)``: yaw and roll change sign, and so do the 6-D encoding's second and
        third entries of the first column and the first of the second) and moves crop column x to
        ``crop_size - 1 - x``; size and height stay.
        """
        rotation = [1.0, -1.0, -1.0] if self.pose_encoding == "euler" else [1.0, -1.0, -1.0, -1.0, 1.0, 1.0]
        sign = np.array(rotation + [1.0, -1.0, 1.0])
        shift = np.zeros(len(sign))
        shift[-2] = -1.0 / crop_size  # raw x = t / S - 0.5 and t -> S - 1 - t
        return sign, (sign * self.pose_mean + shift - self.pose_mean) / self.pose_std

    def decode_pose(self, target: np.ndarray, affine: np.ndarray, crop_size: int):
        """Network pose outputs (B, n_pose) -> rotation (B,3,3), scale (B,), translation (B,2) in the image."""
        raw = np.asarray(target) * self.pose_std + self.pose_mean
        if self.pose_encoding == "euler":
            rotation = euler_to_rotation(raw[..., 0], raw[..., 1], raw[..., 2])
        else:
            rotation = rotation_from_6d(raw[..., :6])
        r = raw.shape[-1] - 3  # the rotation's targets; then size and the two translations
        a = np.asarray(affine)[..., 0, 0]
        scale = np.exp(raw[..., r]) * crop_size / self.model_radius / a
        t_crop = (raw[..., r + 1:r + 3] + 0.5) * crop_size
        translation = (t_crop - np.asarray(affine)[..., :, 2]) / a[..., None]
        return rotation, scale, translation

    # -- coefficients -------------------------------------------------------------------------
    def encode_expression(self, e):
        return (np.asarray(e) - self.expression_mean) / self.expression_std

    def decode_expression(self, t):
        return np.asarray(t) * self.expression_std + self.expression_mean

    def encode_shape(self, s):
        return (np.asarray(s) - self.shape_mean) / self.shape_std

    def decode_shape(self, t):
        return np.asarray(t) * self.shape_std + self.shape_mean


def pose_targets(encoding: str) -> int:
    """Pose targets of an encoding: its rotation's numbers, the log size and two translations."""
    if encoding not in POSE_ENCODINGS:
        raise ValueError(f"pose_encoding must be one of {POSE_ENCODINGS}, got {encoding!r}")
    return (3 if encoding == "euler" else 6) + 3

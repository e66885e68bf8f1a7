"""The pose terms of the training loss.

``euler``: the squared error of the standardised pose targets (angles, log size, translation), the
loss the shipped model was trained with. Per-coefficient regression of angles pulls large angles
in (a 40-degree pitch was read as 17) and breaks where Euler angles wrap around.

``vertex``: 3DDFA's vertex-distance idea on the 6-D rotation encoding. The mean face's 68
landmark vertices are placed in the crop with the predicted and with the true pose (rotation,
size, translation; depth included, so that every rotation error moves some point) and the loss is
their mean squared distance, divided by the spread of the true points over the training set (1
means as far off as always answering the average pose, as for the standardised targets).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from expnet.face.model import LinearModel
from expnet.inference.targets import TargetCoder
from expnet.training.config import encoding_of


def rotation_from_6d(six: torch.Tensor) -> torch.Tensor:
    """(B, 6) -> (B, 3, 3), Gram-Schmidt on two columns (as :func:`expnet.face.pose.rotation_from_6d`)."""
    c0 = F.normalize(six[:, :3], dim=1)
    b = six[:, 3:] - (c0 * six[:, 3:]).sum(1, keepdim=True) * c0
    c1 = F.normalize(b, dim=1)
    return torch.stack([c0, c1, torch.cross(c0, c1, dim=1)], dim=2)


class PoseLoss:
    """The pose term: ``PoseLoss(kind, coder, model)(predicted, target)`` on whitened targets.

    Parameters
    ----------
    kind : str
        ``"euler"`` or ``"vertex"`` (see the module docstring).
    coder : TargetCoder
        Its pose statistics un-standardise the targets; its encoding must match ``kind``.
    model : LinearModel
        The 68-landmark model whose mean face gives the points of the vertex loss.
    spread : float, optional
        The vertex loss' normaliser (mean squared distance of the true points from their mean over
        the training set); computed with :meth:`spread_of` when not given.
    """

    def __init__(self, kind: str, coder: TargetCoder, model: LinearModel, spread: float | None = None):
        if encoding_of(kind) != coder.pose_encoding:
            raise ValueError(f"the {kind} pose loss needs the {encoding_of(kind)} pose encoding, "
                             f"the coder has {coder.pose_encoding}")
        self.kind = kind
        self.mean = torch.tensor(coder.pose_mean, dtype=torch.float32)
        self.std = torch.tensor(coder.pose_std, dtype=torch.float32)
        points = model.vertices() / coder.model_radius  # model origin kept: rotations turn about it
        self.points = torch.tensor(points, dtype=torch.float32)
        self.spread = float(spread) if spread is not None else 1.0

    def to(self, device) -> PoseLoss:
        self.mean, self.std, self.points = (t.to(device) for t in (self.mean, self.std, self.points))
        return self

    def place(self, whitened: torch.Tensor) -> torch.Tensor:
        """(B, 9) whitened 6-D pose targets -> (B, 68, 3) points in crop units."""
        raw = whitened * self.std + self.mean
        rotation = rotation_from_6d(raw[:, :6])
        size = torch.exp(raw[:, 6])[:, None, None]
        shift = F.pad(raw[:, 7:9], (0, 1))[:, None, :]  # depth has no translation
        return size * torch.einsum("bij,nj->bni", rotation, self.points) + shift

    def spread_of(self, whitened: np.ndarray) -> float:
        """The normaliser from (N, 9) whitened training targets (1 for the Euler loss)."""
        if self.kind == "euler":
            return 1.0
        with torch.no_grad():
            pts = self.place(torch.as_tensor(whitened, dtype=torch.float32, device=self.mean.device))
            # floored: a training set of one pose (a test's) has no spread to divide by
            return max(float(((pts - pts.mean(0)) ** 2).sum(-1).mean()), 1e-6)

    def __call__(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "euler":
            return ((predicted - target) ** 2).mean()
        distance = ((self.place(predicted) - self.place(target)) ** 2).sum(-1).mean()
        return distance / self.spread

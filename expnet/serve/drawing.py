"""What the page draws, computed on the server: a light wireframe of the face model (about a
thousand vertices, a fixed topology sent once) projected with each face's pose, its 68 projected
landmarks, the frontal render of shape + expression and the mesh as OBJ text.

The full mesh (53,215 vertices) would cost megabytes of JSON per face; the wireframe keeps the
front-most vertex of each cell of a grid over the frontal face and triangulates them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from scipy.spatial import Delaunay

from expnet.face.mesh import write_mesh
from expnet.face.model import FaceModel, LinearModel
from expnet.face.pose import project
from expnet.inference.results import FacePrediction
from expnet.render.visuals import FaceRenderer

GRID = 36          # cells across the face: about a thousand wireframe vertices
MAX_EDGE = 2.5     # triangles with an edge longer than this many median edges are dropped


@dataclass(frozen=True)
class Wireframe:
    """A fixed subset of the model's vertices and triangles over them (indices into the subset)."""

    vertices: np.ndarray   # (V,) model vertex indices
    triangles: np.ndarray  # (T, 3)


def wireframe(model: FaceModel, grid: int = GRID) -> Wireframe:
    """The front-most vertex of each of ``grid`` x ``grid`` cells of the mean face, triangulated
    in the frontal view (long, folded triangles pruned)."""
    v = model.vertices()
    lo, span = v[:, :2].min(0), np.ptp(v[:, :2], 0).max()
    cells = np.minimum((grid * (v[:, :2] - lo) / span).astype(np.int64), grid - 1)
    key = cells[:, 1] * grid + cells[:, 0]
    order = np.lexsort((-v[:, 2], key))  # by cell, front-most first
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    tri = Delaunay(v[first, :2]).simplices
    edges = np.stack([np.linalg.norm(v[first][tri[:, i]] - v[first][tri[:, (i + 1) % 3]], axis=1)
                      for i in range(3)], axis=1)
    keep = edges.max(1) <= MAX_EDGE * np.median(edges)
    return Wireframe(first.astype(np.int64), tri[keep].astype(np.int64))


class FaceDrawings:
    """Drawings of predicted faces for the page (one per server: the model and renderer load once)."""

    def __init__(self, model: FaceModel | None = None):
        self.model = model or FaceModel.load()

    @cached_property
    def renderer(self) -> FaceRenderer:
        return FaceRenderer(self.model)

    @cached_property
    def wire(self) -> Wireframe:
        return wireframe(self.model)

    def topology(self) -> dict:
        """What the page needs once: the wireframe's triangles and the 68 landmarks' groups."""
        return {"triangles": self.wire.triangles.tolist(), "vertices": len(self.wire.vertices)}

    @cached_property
    def drawn(self) -> LinearModel:
        """The sub-model of the drawn vertices: the wireframe's, then the 68 landmarks (a face's
        drawing costs a small product, not the whole mesh)."""
        m = self.model
        idx = np.r_[self.wire.vertices, m.landmark_indices]
        return LinearModel(m.mean[idx], m.shape_basis[idx], m.expression_basis[idx], m.shape_mean, m.shape_std,
                           m.expression_mean, m.expression_std)

    def face(self, face: FacePrediction, digits: int = 1) -> dict:
        """The face's projected wireframe vertices and 68 landmarks, in image pixels."""
        pose = face.pose
        points = project(self.drawn.vertices(face.shape, face.expression), pose.rotation, pose.scale,
                         pose.translation)
        n = len(self.wire.vertices)
        return {"wireframe": np.round(points[:n], digits).tolist(), "landmarks": np.round(points[n:], digits).tolist()}

    def frontal_png(self, shape, expression, size: int = 256) -> bytes:
        """The frontal render (mean pose) of shape + expression as PNG bytes."""
        rgb = self.renderer.frontal(_coeffs(shape, self.model.n_shape), _coeffs(expression, self.model.n_expression),
                                    size)
        ok, data = cv2.imencode(".png", rgb[..., ::-1])
        if not ok:
            raise ValueError("the frontal render could not be encoded")
        return data.tobytes()

    def obj_text(self, shape, expression) -> str:
        """The face's mesh (model space) as Wavefront OBJ text."""
        import tempfile
        from pathlib import Path
        verts = self.model.vertices(_coeffs(shape, self.model.n_shape), _coeffs(expression, self.model.n_expression))
        with tempfile.TemporaryDirectory() as tmp:
            path = write_mesh(Path(tmp) / "face.obj", verts, self.model.triangles)
            return path.read_text()


def _coeffs(values, n: int) -> np.ndarray | None:
    """Coefficients from a request (a list of n numbers), checked."""
    if values is None:
        return None
    a = np.asarray(values, dtype=np.float64)
    if a.shape != (n,) or not np.isfinite(a).all():
        raise ValueError(f"expected {n} finite coefficients, got shape {a.shape}")
    return a


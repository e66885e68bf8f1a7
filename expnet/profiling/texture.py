"""Per-vertex colour of a fitted face: sampled from the image where the vertex is visible, taken
from its mirror vertex, or else from the nearest visible vertex, where it is not."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from expnet.io.images import to_rgb
from expnet.render.rasterizer import Visible


def mirror_vertices(vertices: np.ndarray) -> np.ndarray:
    """(N,) index of each vertex's mirror image (x -> -x about the face's midline) on a face
    mesh ``(N, 3)``, the nearest vertex to the mirrored position."""
    v = np.asarray(vertices, dtype=np.float64)
    mid = 0.5 * (v[:, 0].min() + v[:, 0].max())
    mirrored = v * np.array([-1.0, 1.0, 1.0]) + np.array([2.0 * mid, 0.0, 0.0])
    return cKDTree(v).query(mirrored)[1]


def visible_vertices(image_vertices: np.ndarray, fragments: Visible, normals_z: np.ndarray,
                     size: tuple[int, int], min_facing: float = 0.05, tolerance: float = 0.01) -> np.ndarray:
    """(N,) bool: the vertex is on the image, faces the camera (``normals_z`` above
    ``min_facing``: grazing vertices sample the background or the hair) and is not hidden by the
    surface in front of it (z-buffer test with ``tolerance`` x the face's width of slack).

    ``fragments``: the mesh rasterised at these vertices (:func:`visible_fragments`).
    """
    h, w = size
    v = np.asarray(image_vertices, dtype=np.float32)
    zbuf = np.full(h * w, -np.inf, np.float32)
    np.maximum.at(zbuf, fragments.pixel, fragments.depth)
    x, y = np.rint(v[:, 0]).astype(np.int64), np.rint(v[:, 1]).astype(np.int64)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    slack = tolerance * float(np.ptp(v[:, 0]))
    front = np.zeros(len(v), bool)
    pix = y[inside] * w + x[inside]
    front[inside] = v[inside, 2] >= zbuf[pix] - slack
    return front & (normals_z > min_facing)


def vertex_colours(image: np.ndarray, image_vertices: np.ndarray, visible: np.ndarray,
                   mirror: np.ndarray, model_vertices: np.ndarray) -> np.ndarray:
    """(N, 3) float32 RGB colours in 0-255: bilinear samples of ``image`` at the visible vertices;
    a hidden vertex takes its mirror's colour when the mirror is visible, else the nearest
    visible vertex's (nearest on the model-space face ``model_vertices``)."""
    rgb = to_rgb(image)
    v = np.asarray(image_vertices, dtype=np.float32)
    # remap wants maps under 32k columns: the N points as rows of 256
    n = len(v)
    grid = np.zeros((-(-n // 256) * 256, 2), np.float32)
    grid[:n] = v[:, :2]
    grid = grid.reshape(-1, 256, 2)
    samples = cv2.remap(rgb, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)[:n].astype(np.float32)
    colours = np.zeros((len(v), 3), np.float32)
    colours[visible] = samples[visible]
    known = visible.copy()
    from_mirror = ~visible & visible[mirror]
    colours[from_mirror] = samples[mirror[from_mirror]]
    known |= from_mirror
    if known.any() and not known.all():
        idx = np.flatnonzero(known)
        nearest = cKDTree(model_vertices[idx]).query(model_vertices[~known])[1]
        colours[~known] = colours[idx[nearest]]
    elif not known.any():  # nothing of the face is visible: a uniform grey rather than black
        colours[:] = samples.mean(0) if len(samples) else 128.0
    return colours

"""A vectorised z-buffer rasteriser in numpy with Lambertian shading: no GPU, no OpenGL.

Triangles are rasterised in groups by the size of their bounding box: for each group every
candidate pixel centre of every triangle is tested at once with edge functions, and the depth
test is one ``np.maximum.at``. Depth is "towards the camera": larger is nearer.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse


@dataclass
class Fragments:
    """Per-pixel rasterisation result."""

    triangle: np.ndarray  # (H, W) int32, -1 where no triangle covers the pixel centre
    bary: np.ndarray      # (H, W, 3) float32 barycentric weights of the covering triangle
    depth: np.ndarray     # (H, W) float32, -inf where empty

    @property
    def mask(self) -> np.ndarray:
        return self.triangle >= 0


_MAX_SPAN = 8  # triangles wider than this (pixels) are subdivided before rasterising


def rasterize(vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int],
              cull_back: bool = False) -> Fragments:
    """Rasterise ``(N, 3)`` image-space vertices (x, y pixels, z depth) into an ``(H, W)`` grid.

    A pixel is covered when its centre (integer coordinates) lies inside a triangle.
    ``cull_back`` drops triangles wound clockwise on screen (y down), i.e. facing away for a mesh
    wound counter-clockwise in a y-up frame, as :func:`expnet.mesh.triangulate` makes them.
    """
    h, w = size
    v = np.asarray(vertices, dtype=np.float32)
    tri = np.asarray(triangles, dtype=np.int64)
    corners = v[tri]                                                     # (T, 3, 3)
    area = _area(corners)
    keep = np.abs(area) > 1e-12
    if cull_back:
        keep &= area < 0  # y-down screen: front faces of a y-up CCW mesh turn clockwise
    ids = np.flatnonzero(keep)
    corners = corners[ids]
    # Corner barycentrics w.r.t. the parent triangle; subdivision splits large triangles in 4.
    bary_of_corners = np.broadcast_to(np.eye(3, dtype=np.float32), (len(ids), 3, 3)).copy()
    parts = []
    while len(ids):
        lo, hi = _min3(corners[:, :, :2]), _max3(corners[:, :, :2])
        on_screen = (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] <= w - 1) & (lo[:, 1] <= h - 1)
        big = np.max(hi - lo, axis=1) > _MAX_SPAN
        small = on_screen & ~big
        parts.append(_raster_small(corners[small], ids[small], bary_of_corners[small], w, h))
        split = on_screen & big
        ids, corners, bary_of_corners = _subdivide(ids[split], corners[split], bary_of_corners[split])
    tri_map = np.full(h * w, -1, np.int32)
    zbuf = np.full(h * w, -np.inf, np.float32)
    bary = np.zeros((h * w, 3), np.float32)
    parts = [p for p in parts if p is not None and len(p[0])]
    if parts:
        pix, depth, tris, wb = (np.concatenate(x) for x in zip(*parts))
        np.maximum.at(zbuf, pix, depth)
        win = depth >= zbuf[pix]
        tri_map[pix[win]] = tris[win]
        bary[pix[win]] = wb[win]
    return Fragments(tri_map.reshape(h, w), bary.reshape(h, w, 3), zbuf.reshape(h, w))


def _min3(c: np.ndarray) -> np.ndarray:
    """Minimum over the 3 corners; elementwise, much faster than a reduction over a size-3 axis."""
    return np.minimum(np.minimum(c[:, 0], c[:, 1]), c[:, 2])


def _max3(c: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(c[:, 0], c[:, 1]), c[:, 2])


def _area(c: np.ndarray) -> np.ndarray:
    return ((c[:, 1, 0] - c[:, 0, 0]) * (c[:, 2, 1] - c[:, 0, 1])
            - (c[:, 1, 1] - c[:, 0, 1]) * (c[:, 2, 0] - c[:, 0, 0]))


def _subdivide(ids, corners, bary):
    """Split each triangle into four (corner, corner, corner + the middle), winding kept."""
    m = lambda a, b: 0.5 * (a + b)  # noqa: E731
    c0, c1, c2 = corners[:, 0], corners[:, 1], corners[:, 2]
    b0, b1, b2 = bary[:, 0], bary[:, 1], bary[:, 2]
    cm01, cm12, cm20 = m(c0, c1), m(c1, c2), m(c2, c0)
    bm01, bm12, bm20 = m(b0, b1), m(b1, b2), m(b2, b0)
    new_c = np.concatenate([np.stack(t, 1) for t in ((c0, cm01, cm20), (cm01, c1, cm12), (cm20, cm12, c2), (cm01, cm12, cm20))])
    new_b = np.concatenate([np.stack(t, 1) for t in ((b0, bm01, bm20), (bm01, b1, bm12), (bm20, bm12, b2), (bm01, bm12, bm20))])
    return np.tile(ids, 4), new_c, new_b


def _raster_small(corners, ids, bary_of_corners, w, h):
    """Candidate pixels of triangles at most _MAX_SPAN wide, grouped by bounding-box size."""
    if not len(ids):
        return None
    lo, hi = _min3(corners[:, :, :2]), _max3(corners[:, :, :2])
    x0 = np.maximum(np.ceil(lo[:, 0]), 0).astype(np.int64)
    x1 = np.minimum(np.floor(hi[:, 0]), w - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(lo[:, 1]), 0).astype(np.int64)
    y1 = np.minimum(np.floor(hi[:, 1]), h - 1).astype(np.int64)
    span = np.maximum(x1 - x0, y1 - y0) + 1
    area = _area(corners)
    out = []
    lo = 0
    for k in (1, 2, 4, _MAX_SPAN + 1):
        sel = np.flatnonzero((span > lo) & (span <= k) & (x1 >= x0) & (y1 >= y0))
        lo = k
        if not len(sel):
            continue
        dy, dx = np.divmod(np.arange(k * k), k)
        px, py = x0[sel, None] + dx, y0[sel, None] + dy
        a, b, c = corners[sel, 0], corners[sel, 1], corners[sel, 2]
        fx, fy = px.astype(np.float32), py.astype(np.float32)
        ar = area[sel, None]
        w0 = ((b[:, 0, None] - fx) * (c[:, 1, None] - fy) - (b[:, 1, None] - fy) * (c[:, 0, None] - fx)) / ar
        w1 = ((c[:, 0, None] - fx) * (a[:, 1, None] - fy) - (c[:, 1, None] - fy) * (a[:, 0, None] - fx)) / ar
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px <= x1[sel, None]) & (py <= y1[sel, None])
        r, col = np.nonzero(inside)
        wl = np.stack([w0[r, col], w1[r, col], w2[r, col]], 1)              # w.r.t. the piece
        cz = corners[sel[r], :, 2]
        depth = wl[:, 0] * cz[:, 0] + wl[:, 1] * cz[:, 1] + wl[:, 2] * cz[:, 2]
        wp = np.einsum("ni,nij->nj", wl, bary_of_corners[sel[r]])          # w.r.t. the mesh triangle
        out.append((py[r, col] * w + px[r, col], depth.astype(np.float32), ids[sel[r]], wp.astype(np.float32)))
    if not out:
        return None
    return tuple(np.concatenate(x) for x in zip(*out))


class MeshShader:
    """Lambertian shading of one mesh topology; the vertex-face incidence is built once."""

    def __init__(self, triangles: np.ndarray, n_vertices: int):
        self.triangles = np.asarray(triangles, dtype=np.int64)
        t = len(self.triangles)
        rows = self.triangles.ravel()
        cols = np.repeat(np.arange(t), 3)
        self._incidence = sparse.csr_matrix((np.ones(3 * t, np.float32), (rows, cols)), shape=(n_vertices, t))

    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        v = np.asarray(vertices, dtype=np.float32)
        tri = self.triangles
        fn = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])  # area-weighted
        n = self._incidence @ fn
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def render(self, vertices: np.ndarray, size: tuple[int, int], light=(0.3, -0.4, 1.0),
               ambient: float = 0.25, colour=(0.78, 0.78, 0.8), flip_normals_y: bool = True):
        """Shade image-space vertices (x right, y down, z towards the camera).

        Returns (RGB float image in 0-1, mask). ``flip_normals_y``: the vertices are in a y-down
        frame, so normals computed there are turned back into a y-up, z-towards-camera frame.
        """
        v = np.asarray(vertices, dtype=np.float32)
        normals = self.vertex_normals(v)
        if flip_normals_y:
            normals = -normals  # a y-flip reverses the winding, and so the cross products
            normals[:, 1] *= -1
        # Cull triangles whose three (smoothed) vertex normals all face away: half the work at no
        # visible cost. Per-triangle winding would punch holes where the surface folds (nostrils,
        # brow, ears), where the project-built topology is not consistently oriented; for the same
        # reason shading is two-sided.
        keep = np.flatnonzero((normals[self.triangles, 2] > -0.2).any(1))
        frags = rasterize(v, self.triangles[keep], size)
        frags.triangle[frags.triangle >= 0] = keep[frags.triangle[frags.triangle >= 0]]
        light = np.asarray(light, np.float32)
        light = light / np.linalg.norm(light)
        intensity = ambient + (1 - ambient) * np.abs(normals @ (light * np.array([1, -1, 1], np.float32)))
        mask = frags.mask
        tri = self.triangles[frags.triangle[mask]]
        shade = (intensity[tri] * frags.bary[mask]).sum(1)
        img = np.zeros(size + (3,), np.float32)
        img[mask] = shade[:, None] * np.asarray(colour, np.float32)
        return img, mask


def overlay(image: np.ndarray, shaded: np.ndarray, mask: np.ndarray, alpha: float = 0.75) -> np.ndarray:
    """Blend a shaded render over an RGB or grey uint8 image."""
    base = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    out = base.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * 255.0 * shaded[mask]
    return np.clip(out, 0, 255).astype(np.uint8)


def draw_landmarks(image: np.ndarray, points: np.ndarray, colour=(255, 64, 64), radius: int | None = None) -> np.ndarray:
    out = np.ascontiguousarray(image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)).copy()
    r = radius or max(1, int(round(min(out.shape[:2]) / 200)))
    for x, y in np.asarray(points):
        cv2.circle(out, (int(round(x)), int(round(y))), r, colour, -1, lineType=cv2.LINE_AA)
    return out

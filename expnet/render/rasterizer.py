"""A vectorised z-buffer rasteriser in numpy with Lambertian shading: no GPU, no OpenGL.

Triangles are sorted into groups by the size of their bounding box (1x1, 1x2, ... pixels; a face
of 300 px is mostly made of pixel-sized triangles); for each group every candidate pixel centre
of every triangle is tested at once with edge functions, and the depth test is one
``np.maximum.at``. Only the visible fragments go on to shading (:func:`visible_fragments`);
:func:`rasterize` spreads them into dense buffers. Depth is "towards the camera": larger is nearer.
Coordinates are kept corner-major, (3, T), because contiguous gathers are several times faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse

from expnet.io.images import to_rgb


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
# Candidate grids (columns, rows) of pixels per piece: exact for the small pieces that most
# triangles are (a face at 300 px has ~1 px triangles), square buckets for the rest.
_GRIDS = tuple((kx, ky) for ky in (1, 2, 3) for kx in (1, 2, 3)) + ((5, 5), (_MAX_SPAN + 1, _MAX_SPAN + 1))


@dataclass
class Visible:
    """The visible fragments only: one row per covered pixel (a pixel where two triangles tie in
    depth may appear twice)."""

    pixel: np.ndarray     # (F,) flat index y * W + x
    triangle: np.ndarray  # (F,) int
    bary: np.ndarray      # (F, 3) float32
    depth: np.ndarray     # (F,) float32


def rasterize(vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int],
              cull_back: bool = False) -> Fragments:
    """Rasterise ``(N, 3)`` image-space vertices (x, y pixels, z depth) into an ``(H, W)`` grid.

    A pixel is covered when its centre (integer coordinates) lies inside a triangle or on its edge.
    ``cull_back`` drops triangles wound clockwise on screen (y down), i.e. facing away for a mesh
    wound counter-clockwise in a y-up frame, as :func:`expnet.mesh.triangulate` makes them.
    """
    h, w = size
    vis = visible_fragments(vertices, triangles, size, cull_back)
    tri_map = np.full(h * w, -1, np.int32)
    zbuf = np.full(h * w, -np.inf, np.float32)
    bary = np.zeros((h * w, 3), np.float32)
    tri_map[vis.pixel] = vis.triangle
    zbuf[vis.pixel] = vis.depth
    bary[vis.pixel] = vis.bary
    return Fragments(tri_map.reshape(h, w), bary.reshape(h, w, 3), zbuf.reshape(h, w))


def visible_fragments(vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int],
                      cull_back: bool = False, corner_major: bool = False) -> Visible:
    """:func:`rasterize` without the dense (H, W) buffers: what a shader needs, and faster.
    ``corner_major``: ``triangles`` is given transposed, (3, T), which saves a copy."""
    h, w = size
    v = np.asarray(vertices, dtype=np.float32)
    corners = np.asarray(triangles, dtype=np.int64)
    corners = corners if corner_major else corners.reshape(-1, 3).T
    # (3, T) corner coordinates, one array per axis and corner: contiguous gathers are cheap
    xs, ys, zs = (np.ascontiguousarray(v[:, k])[corners] for k in range(3))
    area = _area(xs, ys)
    keep = np.abs(area) > 1e-12
    if cull_back:
        keep &= area < 0  # y-down screen: front faces of a y-up CCW mesh turn clockwise
    ids = np.flatnonzero(keep)
    if len(ids) < corners.shape[1]:
        xs, ys, zs = (np.take(c, ids, axis=1) for c in (xs, ys, zs))
    frags = [f for f in _rasterize_pieces(_Pieces(ids, xs, ys, zs, None), w, h) if len(f.pix)]
    if not frags:
        return Visible(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.float32),
                       np.zeros(0, np.float32))
    pix = np.concatenate([f.pix for f in frags])
    depth = np.concatenate([f.depth for f in frags])
    zbuf = np.full(h * w, -np.inf, np.float32)
    np.maximum.at(zbuf, pix, depth)
    win = np.flatnonzero(depth >= zbuf[pix])
    # Barycentrics w.r.t. the mesh triangle, for the winning fragments only.
    offsets = np.cumsum([0] + [len(f.pix) for f in frags])
    parts = []
    for f, start, stop in zip(frags, offsets[:-1], offsets[1:]):
        mine = win[(win >= start) & (win < stop)] - start
        parts.append((f.pix[mine], f.parent[mine], f.bary(mine), f.depth[mine]))
    return Visible(*(np.concatenate(x) for x in zip(*parts)))


def _rasterize_pieces(pieces: _Pieces, w: int, h: int) -> list[_Fragments]:
    """Fragments of pieces, subdividing those wider than _MAX_SPAN until none is left."""
    frags = []
    while len(pieces.parent):
        lo_x, hi_x = _min3(pieces.x), _max3(pieces.x)
        lo_y, hi_y = _min3(pieces.y), _max3(pieces.y)
        on_screen = (hi_x >= 0) & (hi_y >= 0) & (lo_x <= w - 1) & (lo_y <= h - 1)
        big = np.maximum(hi_x - lo_x, hi_y - lo_y) > _MAX_SPAN
        frags.append(_fragments(pieces, on_screen & ~big, w, h))
        pieces = pieces.take(np.flatnonzero(on_screen & big)).subdivide()
    return frags


@dataclass
class _Pieces:
    """Triangles or pieces of subdivided triangles, with the mesh triangle each comes from."""

    parent: np.ndarray          # (P,) mesh triangle index
    x: np.ndarray               # (3, P) corner coordinates
    y: np.ndarray
    z: np.ndarray
    corner_bary: np.ndarray | None  # (3, P, 3) corners' barycentrics in the parent; None: identity

    def take(self, index: np.ndarray) -> _Pieces:
        # np.take along axis 1 is several times faster than fancy indexing [:, index]
        cb = None if self.corner_bary is None else np.take(self.corner_bary, index, axis=1)
        return _Pieces(self.parent[index], *(np.take(c, index, axis=1) for c in (self.x, self.y, self.z)), cb)

    def subdivide(self) -> _Pieces:
        """Each piece in four (corner, corner, corner + the middle), winding kept."""
        n = len(self.parent)
        cb = self.corner_bary
        if cb is None:
            cb = np.broadcast_to(np.eye(3, dtype=np.float32)[:, None], (3, n, 3))

        def split(c):  # (3, P, ...) -> (3, 4P, ...)
            c0, c1, c2 = c[0], c[1], c[2]
            m01, m12, m20 = 0.5 * (c0 + c1), 0.5 * (c1 + c2), 0.5 * (c2 + c0)
            return np.concatenate([np.stack(t) for t in
                                   ((c0, m01, m20), (m01, c1, m12), (m20, m12, c2), (m01, m12, m20))], axis=1)

        return _Pieces(np.tile(self.parent, 4), split(self.x), split(self.y), split(self.z), split(cb))


@dataclass
class _Fragments:
    """Covered pixel centres of a set of pieces, before the depth test."""

    pix: np.ndarray     # (F,) flat pixel index
    depth: np.ndarray   # (F,)
    parent: np.ndarray  # (F,) mesh triangle
    weights: np.ndarray  # (3, F) barycentrics w.r.t. the piece
    corner_bary: np.ndarray | None  # (3, F, 3) or None (the piece is the mesh triangle)

    def bary(self, index: np.ndarray) -> np.ndarray:
        """(n, 3) barycentrics w.r.t. the mesh triangle."""
        wl = np.take(self.weights, index, axis=1)
        if self.corner_bary is None:
            return wl.T
        return np.einsum("kn,knj->nj", wl, np.take(self.corner_bary, index, axis=1))


def _fragments(p: _Pieces, todo: np.ndarray, w: int, h: int) -> _Fragments:
    """Candidate pixels of the ``todo`` pieces (at most _MAX_SPAN wide), tested in groups of
    bounding-box size.

    Pieces are sorted by their candidate grid once, so that each group is a contiguous slice.
    Edge functions are evaluated in coordinates relative to each piece's first candidate pixel and
    left unnormalised, so that a pixel centre on an edge tests exactly (no division) as on-edge.
    """
    x0 = np.maximum(np.ceil(_min3(p.x)), 0)
    x1 = np.minimum(np.floor(_max3(p.x)), w - 1)
    y0 = np.maximum(np.ceil(_min3(p.y)), 0)
    y1 = np.minimum(np.floor(_max3(p.y)), h - 1)
    cols, rows = x1 - x0 + 1, y1 - y0 + 1
    # Grid index: (rows - 1) * 3 + cols - 1 up to 3 x 3, then the square buckets; pieces that
    # contain no pixel centre (a quarter of a face's at 300 px) sort last and stop here.
    big = np.maximum(cols, rows)
    group = np.where((cols <= 3) & (rows <= 3), (rows - 1) * 3 + cols - 1, np.where(big <= 5, 9, 10))
    group = np.where(todo & (cols >= 1) & (rows >= 1), group, len(_GRIDS)).astype(np.int16)
    order = np.argsort(group, kind="stable")  # a radix sort for 16-bit keys
    bounds = np.searchsorted(group[order], np.arange(len(_GRIDS) + 1))
    order = order[: bounds[-1]]
    x0, y0, cols, rows = x0[order], y0[order], cols[order], rows[order]
    lx, ly = np.take(p.x, order, axis=1) - x0, np.take(p.y, order, axis=1) - y0
    area = _area(lx, ly)
    sign = np.sign(area)
    size2 = (area * sign)[:, None]  # twice the area, positive
    # E_i(dx, dy) = c_i + a_i dx + b_i dy for the edge opposite corner i, made >= 0 inside; the
    # third is what the first two leave of the area (as barycentrics sum to one).
    coef = []
    for j, k in ((1, 2), (2, 0)):
        coef.append((((ly[j] - ly[k]) * sign)[:, None], ((lx[k] - lx[j]) * sign)[:, None],
                     ((lx[j] * ly[k] - ly[j] * lx[k]) * sign)[:, None]))
    pieces, pixels, edges = [], [], []
    for (kx, ky), start, stop in zip(_GRIDS, bounds[:-1], bounds[1:]):
        if start == stop:
            continue
        sl = slice(start, stop)
        if kx * ky == 1:
            e0, e1 = coef[0][2][sl], coef[1][2][sl]
            dx = dy = np.zeros(1, np.float32)
            inside = (e0 >= 0) & (e1 >= 0)
        else:
            dy, dx = (g.astype(np.float32) for g in np.divmod(np.arange(kx * ky), kx))
            (a0, b0, c0), (a1, b1, c1) = coef
            e0 = c0[sl] + a0[sl] * dx + b0[sl] * dy
            e1 = c1[sl] + a1[sl] * dx + b1[sl] * dy
            inside = (e0 >= 0) & (e1 >= 0) & (dx < cols[sl, None]) & (dy < rows[sl, None])
        e2 = size2[sl] - e0 - e1
        inside &= e2 >= 0
        flat = np.flatnonzero(inside)  # one index, split below: cheaper than a 2-D nonzero
        r, col = np.divmod(flat, kx * ky) if kx * ky > 1 else (flat, np.zeros_like(flat))
        piece = r + start
        pixels.append(((y0[piece] + dy[col]) * w + x0[piece] + dx[col]).astype(np.int64))
        edges.append([np.take(e_i, flat) for e_i in (e0, e1, e2)])
        pieces.append(piece)
    if not pieces:
        empty = np.zeros(0)
        return _Fragments(empty.astype(np.int64), empty.astype(np.float32), empty.astype(np.int64),
                          np.zeros((3, 0), np.float32), None)
    piece = np.concatenate(pieces)
    src = order[piece]  # index into p
    inv_size2 = 1.0 / size2[piece, 0]
    wl = np.stack([np.concatenate(e_i) for e_i in zip(*edges)]) * inv_size2  # (3, F)
    z = p.z
    depth = wl[0] * z[0][src] + wl[1] * z[1][src] + wl[2] * z[2][src]
    cb = None if p.corner_bary is None else np.take(p.corner_bary, src, axis=1)
    return _Fragments(np.concatenate(pixels), depth, p.parent[src], wl, cb)


def _min3(c: np.ndarray) -> np.ndarray:
    """Minimum over the 3 corners of (3, P) coordinates."""
    return np.minimum(np.minimum(c[0], c[1]), c[2])


def _max3(c: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(c[0], c[1]), c[2])


def _area(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Twice the signed area of (3, P) corner coordinates."""
    return (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])


class MeshShader:
    """Lambertian shading of one mesh topology; the vertex-face incidence is built once."""

    def __init__(self, triangles: np.ndarray, n_vertices: int):
        self.triangles = np.asarray(triangles, dtype=np.int64)
        self._corner = np.ascontiguousarray(self.triangles.T)  # (3, T): contiguous per corner
        t = len(self.triangles)
        rows = self.triangles.ravel()
        cols = np.repeat(np.arange(t), 3)
        self._incidence = sparse.csr_matrix((np.ones(3 * t, np.float32), (rows, cols)), shape=(n_vertices, t))

    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        v = np.asarray(vertices, dtype=np.float32)
        # Per-axis gathers: indexing contiguous columns is several times faster than rows of (N, 3).
        x, y, z = (np.ascontiguousarray(v[:, k])[self._corner] for k in range(3))  # (3, T) each
        ax, ay, az = x[1] - x[0], y[1] - y[0], z[1] - z[0]
        bx, by, bz = x[2] - x[0], y[2] - y[0], z[2] - z[0]
        fn = np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], 1)  # area-weighted
        n = self._incidence @ fn
        length = np.sqrt(np.maximum(n[:, 0] ** 2 + n[:, 1] ** 2 + n[:, 2] ** 2, 1e-24))
        return n * (1.0 / length)[:, None]

    def shade(self, vertices: np.ndarray, size: tuple[int, int], light=(0.3, -0.4, 1.0),
              ambient: float = 0.25, flip_normals_y: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Lambertian intensity (0-1) of the visible surface: (flat pixel indices, intensities).

        ``vertices`` are image-space (x right, y down, z towards the camera). ``flip_normals_y``:
        normals computed in that y-down frame are turned back into a y-up, z-towards-camera frame.
        """
        v = np.asarray(vertices, dtype=np.float32)
        normals = self.vertex_normals(v)
        if flip_normals_y:
            normals = -normals  # a y-flip reverses the winding, and so the cross products
            normals[:, 1] *= -1
        # Cull triangles whose three (smoothed) vertex normals all face away: less work at no
        # visible cost. Per-triangle winding would punch holes where the surface folds (nostrils,
        # brow, ears), where the project-built topology is not consistently oriented; for the same
        # reason shading is two-sided.
        facing = normals[:, 2] > -0.2
        keep = np.flatnonzero(facing[self._corner[0]] | facing[self._corner[1]] | facing[self._corner[2]])
        vis = visible_fragments(v, np.take(self._corner, keep, axis=1), size, corner_major=True)
        tri = keep[vis.triangle]
        light = np.asarray(light, np.float32)
        light = light / np.linalg.norm(light)
        intensity = ambient + (1 - ambient) * np.abs(normals @ (light * np.array([1, -1, 1], np.float32)))
        b = vis.bary
        shade = (intensity[self._corner[0][tri]] * b[:, 0] + intensity[self._corner[1][tri]] * b[:, 1]
                 + intensity[self._corner[2][tri]] * b[:, 2])
        return vis.pixel, shade.astype(np.float32)

    def render(self, vertices: np.ndarray, size: tuple[int, int], light=(0.3, -0.4, 1.0),
               ambient: float = 0.25, colour=(0.78, 0.78, 0.8), flip_normals_y: bool = True):
        """Shade image-space vertices (see :meth:`shade`). Returns (RGB float image in 0-1, mask)."""
        pixel, shade = self.shade(vertices, size, light, ambient, flip_normals_y)
        img = np.zeros((size[0] * size[1], 3), np.float32)
        img[pixel] = shade[:, None] * np.asarray(colour, np.float32)
        mask = np.zeros(size[0] * size[1], bool)
        mask[pixel] = True
        return img.reshape(size + (3,)), mask.reshape(size)


def blend_shading(image: np.ndarray, pixel: np.ndarray, shade: np.ndarray, colour=(0.78, 0.78, 0.8),
                  alpha: float = 0.75) -> np.ndarray:
    """Blend shaded pixels (flat indices and 0-1 intensities, as from :meth:`MeshShader.shade`)
    over an RGB or grey uint8 image; only those pixels are touched."""
    out = to_rgb(image).copy()
    if not len(pixel):  # e.g. a face entirely off the image
        return out
    flat = out.reshape(-1, 3)
    top = np.clip(np.multiply.outer(shade, np.asarray(colour, np.float32) * np.float32(255.0)), 0, 255)
    flat[pixel] = cv2.addWeighted(np.take(flat, pixel, axis=0), 1 - alpha, top.astype(np.uint8), alpha, 0.0)
    return out


def draw_landmarks(image: np.ndarray, points: np.ndarray, colour=(255, 64, 64),
                   radius: int | None = None) -> np.ndarray:
    """Dots at ``points``; their radius follows the face (the points' spread), not the image, so
    that the dots of a small face in a large photo do not cover it. Faces under 40 px get none."""
    out = np.ascontiguousarray(to_rgb(image)).copy()
    points = np.asarray(points, dtype=np.float64)
    face = float(np.ptp(points[:, 0])) if len(points) else 0.0
    if radius is None and face < 40:
        return out
    r = radius or max(1, int(round(face / 80)))
    for x, y in points:
        cv2.circle(out, (int(round(x)), int(round(y))), r, colour, -1, lineType=cv2.LINE_AA)
    return out

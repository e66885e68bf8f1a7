"""Mesh topology for a basis that ships none, and OBJ / PLY export.

The face surface is close to star-shaped seen from a point behind it, so the vertices are mapped
to spherical angles around such a point (an unrolling that keeps the cheeks and the underside of
the chin apart, unlike a frontal projection, which folds them onto the face) and triangulated
there with Delaunay. Triangles with a 3D edge far longer than the typical edge (the hull's
border fill) are pruned. Triangles are wound counter-clockwise seen from outside, so normals
point away from the head.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial import Delaunay

from expnet.io.atomic import atomic_path


def _unroll(vertices: np.ndarray, back: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    width = np.ptp(v[:, 0])
    centre = np.array([v[:, 0].mean(), 0.5 * (v[:, 1].min() + v[:, 1].max()), v[:, 2].max() - back * width])
    d = v - centre
    theta = np.arctan2(d[:, 0], d[:, 2])
    phi = np.arctan2(d[:, 1], np.hypot(d[:, 0], d[:, 2]))
    return np.c_[theta, phi], centre


def triangulate(vertices: np.ndarray, max_edge_factor: float = 8.0, back: float = 0.8) -> np.ndarray:
    """(N, 3) vertices of a face (y up, looking along +z) -> (T, 3) int32 triangles.

    ``back``: how far behind the nose the unrolling centre sits, in face widths. At 0.5 the
    underside of the chin lay behind it and was cut by the angle seam (a spike of missing
    triangles under the chin in every render); from 0.8 only a few ear vertices are.
    """
    v = np.asarray(vertices, dtype=np.float64)
    uv, _ = _unroll(v, back)
    tri = Delaunay(uv).simplices
    edges = np.stack([np.linalg.norm(v[tri[:, i]] - v[tri[:, (i + 1) % 3]], axis=1) for i in range(3)], axis=1)
    tri = tri[edges.max(1) <= max_edge_factor * np.median(edges)]
    # Counter-clockwise in the unrolled (right, up) plane => outward normals.
    a, b, c = uv[tri[:, 0]], uv[tri[:, 1]], uv[tri[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tri[cross < 0] = tri[cross < 0][:, [0, 2, 1]]
    tri = _attach_unused(v, tri[np.abs(cross) > 0].astype(np.int64))
    return tri.astype(np.int32)


def _attach_unused(v: np.ndarray, tri: np.ndarray, max_rounds: int = 100) -> np.ndarray:
    """Give every vertex a triangle, so that a mesh reloads with the model's vertex count.

    Pruning leaves a few vertices (in the folds of the ears and nostrils) without any.
    Each round, every such vertex takes the nearest free border edge (the vertex nearest to an
    edge wins it) and closes a triangle on it, wound against the edge's triangle so the winding
    stays consistent; the new edges are border edges for the next round.
    """
    from scipy.spatial import cKDTree
    for _ in range(max_rounds):
        free = np.flatnonzero(np.bincount(tri.ravel(), minlength=len(v)) == 0)
        if not len(free):
            break
        directed = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
        _, inverse, counts = np.unique(np.sort(directed, 1), axis=0, return_inverse=True, return_counts=True)
        border = directed[counts[inverse.ravel()] == 1]
        dist, edge = cKDTree(0.5 * (v[border[:, 0]] + v[border[:, 1]])).query(v[free])
        order = np.argsort(dist, kind="stable")
        _, first = np.unique(edge[order], return_index=True)
        won = order[first]
        tri = np.concatenate([tri, np.c_[border[edge[won], 1], border[edge[won], 0], free[won]]])
    return tri


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, triangles: np.ndarray) -> Path:
    """Write an OBJ or PLY (by suffix) atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".obj", ".ply"):
        raise ValueError(f"mesh format must be .obj or .ply, got {path.name}")
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(triangles, dtype=np.int64)
    if suffix == ".obj":
        with atomic_path(path) as tmp, open(tmp, "w") as fh:
            fh.write("# expnet face mesh\n")
            np.savetxt(fh, v, fmt="v %.6g %.6g %.6g")
            np.savetxt(fh, f + 1, fmt="f %d %d %d")
    else:
        header = ("ply\nformat binary_little_endian 1.0\n"
                  f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
                  f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")
        faces = np.zeros(len(f), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
        faces["n"] = 3
        faces["idx"] = f
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(header.encode("ascii"))
            fh.write(v.astype("<f4").tobytes())
            fh.write(faces.tobytes())
    return path


def read_obj(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read back an OBJ written by :func:`write_mesh`: (vertices, 0-based triangles)."""
    verts, faces = [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(t) for t in line.split()[1:4]])
            elif line.startswith("f "):
                faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:4]])
    return np.array(verts), np.array(faces, dtype=np.int64)

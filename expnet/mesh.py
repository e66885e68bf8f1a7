"""Mesh topology for a basis that ships none, and OBJ / PLY export.

The face is close to a height field seen from the front, so a Delaunay triangulation of the
frontal (x, y) projection of the mean face gives a manifold surface; triangles along the border
that bridge concave gaps (long edges) are pruned. Triangles are wound counter-clockwise in the
frontal view, so their normals point towards the camera (+z).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial import Delaunay


def triangulate(vertices: np.ndarray, max_edge_factor: float = 4.0) -> np.ndarray:
    """(N, 3) frontal-facing vertices -> (T, 3) int32 triangles over all of them."""
    xy = np.asarray(vertices, dtype=np.float64)[:, :2]
    tri = Delaunay(xy).simplices
    edges = np.stack([np.linalg.norm(xy[tri[:, i]] - xy[tri[:, (i + 1) % 3]], axis=1)
                      for i in range(3)], axis=1)
    limit = max_edge_factor * np.median(edges)
    tri = tri[edges.max(1) <= limit]
    # Counter-clockwise in the image of the front view (x right, y up) => normal along +z.
    a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tri[cross < 0] = tri[cross < 0][:, [0, 2, 1]]
    return tri.astype(np.int32)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, (N, 3)."""
    v = np.asarray(vertices, dtype=np.float64)
    face_n = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]], v[triangles[:, 2]] - v[triangles[:, 0]])
    normals = np.zeros_like(v)
    for i in range(3):
        np.add.at(normals, triangles[:, i], face_n)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, triangles: np.ndarray) -> Path:
    """Write an OBJ or PLY (by suffix) atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".obj", ".ply"):
        raise ValueError(f"mesh format must be .obj or .ply, got {path.name}")
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(triangles, dtype=np.int64)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".obj":
        with open(tmp, "w") as fh:
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
        with open(tmp, "wb") as fh:
            fh.write(header.encode("ascii"))
            fh.write(v.astype("<f4").tobytes())
            fh.write(faces.tobytes())
    os.replace(tmp, path)
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

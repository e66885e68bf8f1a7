"""The second landmark backend: MediaPipe's 468-point FaceMesh, run on a detector's box.

FaceMesh regresses 468 points of a fixed face topology (x, y in pixels, z a relative depth) from
a 192 px colour crop. Its points are surface points: the outer ring (the "face oval") stays on
the same skin whatever the pose, while dlib's jaw points follow the visible silhouette. The
68-point iBUG-compatible subset :data:`IBUG68_FROM_MESH` was learned by the project (``expnet
bench mesh68``: for each iBUG point, the mesh point closest to dlib's on frontal faces), so on
frontal faces the jaw of the subset is the face oval where dlib puts the jaw; on turned faces it
stays on the oval (a 3D contour) instead of sliding to the silhouette.
"""

from __future__ import annotations

import numpy as np

from expnet.detection.boxes import FaceBox
from expnet.detection.facemesh import N_MESH, FaceMesh

__all__ = ["N_MESH", "FaceMeshLandmarker", "IBUG68_FROM_MESH"]


class FaceMeshLandmarker:
    """``predict(image, box)`` -> (468, 3) points: x, y in image pixels, z in pixels (relative
    depth, towards the camera negative, MediaPipe's convention); ``score`` of the last call is
    FaceMesh's face-presence probability."""

    def __init__(self, threads: int = 1):
        self.net = FaceMesh(threads)
        self.size = self.net.size
        self.score = float("nan")

    def predict(self, image: np.ndarray, box: FaceBox | np.ndarray) -> np.ndarray:
        """Points of the face in ``box`` (x0, y0, x1, y1, the shared convention) of a grey or RGB
        uint8 image."""
        result = self.net(image, box.as_array() if isinstance(box, FaceBox) else box)
        self.score = result.presence
        return result.points

    def predict68(self, image: np.ndarray, box: FaceBox | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(68, 2) iBUG-compatible points (the subset) and the (468, 3) mesh."""
        mesh = self.predict(image, box)
        return mesh[IBUG68_FROM_MESH, :2], mesh


# One mesh index per iBUG point, learned by `expnet bench mesh68 --data lfw-expressions/images`
# (167 near-frontal faces; median distance to dlib's point 0.056 inter-ocular
# distances; reports/benchmarks/mesh68.json).
IBUG68_FROM_MESH = np.array([
    127, 93, 177, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 447, 356,  # jaw
    46, 53, 52, 65, 55, 285, 296, 334, 293, 383,  # brows
    168, 197, 5, 4, 240, 97, 164, 326, 460,  # nose
    7, 159, 158, 155, 153, 144, 382, 385, 387, 249, 373, 380,  # eyes
    61, 74, 72, 11, 302, 304, 291, 406, 314, 18, 84, 182, 146, 38, 13, 268, 375, 316, 15, 86,  # mouth
])

"""FaceMesh on a box, turned upright on a roll angle (the detector's second opinion)."""

import cv2
import numpy as np
import pytest

from expnet.assets.samples import read_pts, sample_path
from expnet.detection.facemesh import FaceMesh
from expnet.face.ibug68 import inter_ocular
from expnet.io.images import load_image

NOSE_TIP_MESH, NOSE_TIP_IBUG = 1, 30


@pytest.mark.parametrize("tilt", [0.0, 25.0, -35.0])
def test_a_tilted_face_turned_upright_is_a_face_and_its_points_map_back(tilt):
    path = sample_path("takeo.ppm")
    rgb = load_image(path)
    truth = read_pts(path.with_suffix(".pts"))
    centre = (truth.min(0) + truth.max(0)) / 2
    turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), tilt, 1.0)  # counter-clockwise
    tilted = cv2.warpAffine(rgb, turn, (rgb.shape[1], rgb.shape[0]))
    pts = truth @ turn[:, :2].T + turn[:, 2]
    box = np.r_[pts.min(0), pts.max(0)]
    eyes = pts[36:42].mean(0), pts[42:48].mean(0)  # the face's right eye, then its left, in the image
    roll = float(np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1])))
    assert abs(roll + tilt) < 8  # a counter-clockwise turn raises the left eye: negative roll
    mesh = FaceMesh()
    result = mesh(tilted, box, roll)
    assert result.presence > 0.9
    error = np.linalg.norm(result.points[NOSE_TIP_MESH, :2] - pts[NOSE_TIP_IBUG]) / inter_ocular(pts[None])[0]
    assert error < 0.15, error


def test_a_small_image_filled_by_a_face_is_judged_whole_by_facemesh():
    from expnet.bench.scenes import face_crop, sample_faces
    from expnet.detection.chain import DetectorChain
    det = DetectorChain("blazeface").backends[0]
    crop = cv2.resize(face_crop(sample_faces()[0], 1.6), (96, 96), interpolation=cv2.INTER_AREA)
    (box, presence), = det._whole_crop(crop)
    assert box == (0.0, 0.0, 95.0, 95.0) and presence >= det.mesh_sure
    rng = np.random.default_rng(0)
    blob = cv2.resize(rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8), (96, 96))
    assert det._whole_crop(blob) == []
    assert det._whole_crop(cv2.resize(crop, (400, 400))) == []  # a photo, not a crop: not judged whole

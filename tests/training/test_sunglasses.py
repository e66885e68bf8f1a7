"""Sunglasses on training crops: placed on the head with its true pose, dark, and the labels kept."""

import numpy as np
import pytest

from expnet.face.ibug68 import LEFT_EYE, RIGHT_EYE
from expnet.face.pose import euler_to_rotation, project
from expnet.training.sunglasses import GlassesFrame, draw_sunglasses

SIZE = 128


def _face(model, yaw_degrees):
    """A pose that puts the mean face in the middle of a SIZE-px crop (identity affine)."""
    points = model.landmarks.vertices()
    rotation = euler_to_rotation(0.0, np.radians(yaw_degrees), 0.0)
    scale = 0.6 * SIZE / np.ptp(points[:, 0])
    translation = np.array([SIZE / 2, SIZE / 2])
    return points, rotation, scale, translation


@pytest.mark.parametrize("yaw", [0.0, 40.0, -70.0])
def test_the_lenses_cover_the_visible_eyes_and_not_the_mouth(model, yaw):
    points, rotation, scale, translation = _face(model, yaw)
    frame = GlassesFrame.from_landmarks(points)
    img = np.full((SIZE, SIZE), 200, np.uint8)
    out = draw_sunglasses(img, rotation, scale, translation, np.eye(2, 3), frame, np.random.default_rng(0))
    on_image = project(points, rotation, scale, translation)
    near = LEFT_EYE if yaw < 0 else RIGHT_EYE  # the eye turned towards the camera
    x, y = np.round(on_image[near].mean(0)).astype(int)
    assert out[y, x] <= 70                                   # dark over the eye
    mx, my = np.round(on_image[[62, 66]].mean(0)).astype(int)  # the inner lips
    assert out[my, mx] == 200                                # the mouth untouched
    assert img.min() == 200                                  # the input is not drawn on


def test_only_the_temple_turned_towards_the_camera_is_drawn(model):
    points, _, scale, translation = _face(model, 0.0)
    rotation = euler_to_rotation(np.radians(20.0), np.radians(60.0), 0.0)  # pitched: the temples part
    frame = GlassesFrame.from_landmarks(points)
    img = np.full((SIZE, SIZE), 200, np.uint8)
    out = draw_sunglasses(img, rotation, scale, translation, np.eye(2, 3), frame, np.random.default_rng(1))
    towards = rotation[2, 0] * np.sign(frame.temples[:, 0, 0]) > 0
    assert towards.sum() == 1
    for k, visible in enumerate(towards):
        lens_edge, ear = project(frame.temples[k], rotation, scale, translation)
        x, y = np.round(0.2 * lens_edge + 0.8 * ear).astype(int)  # near the ear, clear of the lenses
        assert (out[y - 2:y + 3, x - 2:x + 3].min() < 190) == visible


def test_an_affine_moves_the_glasses_with_the_crop(model):
    points, rotation, scale, translation = _face(model, 0.0)
    frame = GlassesFrame.from_landmarks(points)
    img = np.full((SIZE, SIZE), 200, np.uint8)
    shifted = draw_sunglasses(img, rotation, scale, translation - 20, np.array([[1.0, 0, 20], [0, 1, 20]]), frame,
                              np.random.default_rng(2))
    plain = draw_sunglasses(img, rotation, scale, translation, np.eye(2, 3), frame, np.random.default_rng(2))
    assert np.array_equal(shifted, plain)


def test_bad_landmarks_and_a_missing_frame_are_refused(model):
    from expnet.training.config import TrainConfig
    from expnet.training.data import Augment
    with pytest.raises(ValueError, match=r"shape \(68, 3\)"):
        GlassesFrame.from_landmarks(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="glasses frame"):
        Augment(p_glasses=0.5)
    with pytest.raises(ValueError, match="sunglasses is a probability"):
        TrainConfig(labels=["x.jsonl"], sunglasses=2.0)

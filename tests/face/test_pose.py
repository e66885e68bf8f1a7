import numpy as np

from expnet.face.pose import Pose, euler_to_rotation, mirror_pose, project, rodrigues, rotation_to_euler


def test_euler_round_trip(rng):
    angles = rng.uniform(-1.4, 1.4, (100, 3))
    rot = euler_to_rotation(*angles.T)
    assert np.allclose(rot @ rot.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(rot), 1.0)
    assert np.allclose(rotation_to_euler(rot), angles, atol=1e-9)


def test_yaw_sign_matches_aflw_convention():
    # AFLW2000-3D: R = Rx(pitch) Ry(yaw) Rz(roll) with Ry = [[c,0,-s],[0,1,0],[s,0,c]].
    yaw = 0.3
    expected = np.array([[np.cos(yaw), 0, -np.sin(yaw)], [0, 1, 0], [np.sin(yaw), 0, np.cos(yaw)]])
    assert np.allclose(euler_to_rotation(0.0, yaw, 0.0), expected)


def test_rodrigues_inverse_and_small_angles(rng):
    v = rng.standard_normal((10, 3))
    assert np.allclose(rodrigues(v) @ rodrigues(-v), np.eye(3), atol=1e-12)
    assert np.allclose(rodrigues(np.zeros(3)), np.eye(3))


def test_projection_flips_y_and_scales():
    pose = Pose(np.eye(3), np.array([100.0, 50.0]), 2.0)
    pts = pose.project(np.array([[1.0, 1.0, 5.0]]))
    assert np.allclose(pts, [[102.0, 48.0]])  # model y up -> image y down
    assert np.allclose(project(np.zeros((1, 3)), np.eye(3), 1.0, [3.0, 4.0]), [[3.0, 4.0]])
    d = pose.to_dict()
    assert d["yaw"] == 0 and d["scale"] == 2.0


def test_mirror_pose_flips_yaw_and_roll_and_the_horizontal_position():
    rotation = euler_to_rotation(*np.radians([10.0, 50.0, -20.0]))
    r, t = mirror_pose(rotation, np.array([30.0, 40.0]), 100)
    assert np.allclose(np.degrees(rotation_to_euler(r)), [10.0, -50.0, 20.0]) and np.allclose(t, [69.0, 40.0])
    twice = mirror_pose(*mirror_pose(rotation, np.array([30.0, 40.0]), 100), 100)
    assert np.allclose(twice[0], rotation) and np.allclose(twice[1], [30.0, 40.0])

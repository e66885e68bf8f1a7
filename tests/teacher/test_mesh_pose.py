"""Pose from FaceMesh's 3D points (``expnet label --pose mesh``)."""

import json

import numpy as np
import pytest

from expnet.assets.samples import sample_path
from expnet.cli import main
from expnet.face.model import FaceModel
from expnet.face.pose import euler_to_rotation, project, rotation_angle
from expnet.teacher.labeling import LabelPipeline
from expnet.teacher.mesh_landmarks import IBUG68_FROM_MESH, N_MESH
from expnet.teacher.mesh_pose import align_to_mesh, place_on_landmarks


def _mesh_of(points, rotation, scale, translation, rng):
    """FaceMesh-like (B, 468, 3) arrays whose 68-point subset is ``points`` seen with the pose:
    x, y the projection, z the depth in pixels, towards the camera negative."""
    b = len(rotation)
    mesh = rng.normal(0, 50, (b, N_MESH, 3))  # the other 400 points must not matter
    xy = project(points, rotation, scale, translation)
    z = -scale[:, None] * np.einsum("bij,bnj->bni", rotation, points)[..., 2]
    mesh[:, IBUG68_FROM_MESH] = np.concatenate([xy, z[..., None]], -1)
    return mesh


def test_alignment_recovers_steep_poses():
    rng = np.random.default_rng(0)
    points = FaceModel.load().landmarks.vertices()
    angles = np.radians([[40, 10, 5], [-35, -60, -10], [5, 85, 20], [0, 0, 0]])
    rotation = euler_to_rotation(*angles.T)
    scale = np.array([0.0012, 0.002, 0.0009, 0.0015])
    translation = rng.uniform(50, 400, (4, 2))
    r, s, t = align_to_mesh(points, _mesh_of(np.broadcast_to(points, (4, 68, 3)), rotation, scale, translation, rng))
    assert rotation_angle(r, rotation).max() < 1e-4  # degrees (arccos near 1 limits the precision)
    np.testing.assert_allclose(s, scale, rtol=1e-9)
    np.testing.assert_allclose(t, translation, atol=1e-6)
    assert np.allclose(np.linalg.det(r), 1.0)
    # scale and translation from 2D landmarks under a known rotation
    faces = np.broadcast_to(points, (4, 68, 3))
    s2, t2 = place_on_landmarks(faces, rotation, project(faces, rotation, scale, translation))
    np.testing.assert_allclose(s2, scale, rtol=1e-9)
    np.testing.assert_allclose(t2, translation, atol=1e-6)


def test_alignment_checks_the_mesh_shape():
    with pytest.raises(ValueError, match="468"):
        align_to_mesh(np.zeros((68, 3)), np.zeros((2, 68, 3)))


def test_an_unknown_pose_source_is_refused():
    with pytest.raises(ValueError, match="pose must be one of"):
        LabelPipeline(pose="depth")


@pytest.mark.parametrize("landmarks", ["dlib", "mesh"])
def test_label_rows_take_the_pose_from_the_mesh(tmp_path, landmarks):
    common = [str(sample_path("takeo.ppm")), "--landmarks", landmarks, "--detector", "blazeface", "--workers", "1",
              "--quiet"]
    assert main(["label", *common, "-o", str(tmp_path / "fit.jsonl"), "--landmarks", "mesh"]) == 0
    assert main(["label", *common, "-o", str(tmp_path / "mesh.jsonl"), "--pose", "mesh"]) == 0
    fit, mesh = (json.loads((tmp_path / f"{n}.jsonl").read_text().splitlines()[0]) for n in ("fit", "mesh"))
    assert mesh["status"] == "ok" and mesh["pose"]["source"] == "mesh" and "source" not in fit["pose"]
    assert mesh["pose"]["rotation"] != fit["pose"]["rotation"]
    # the 468 points stay in a row only where they are its landmarks
    assert ("mesh" in mesh) == (landmarks == "mesh")
    if landmarks == "mesh":  # the same landmarks and fit: only the pose differs
        assert mesh["shape"] == fit["shape"] and mesh["expression"] == fit["expression"]
    # the two readings of one near-frontal face agree within a few degrees, and the mesh pose
    # places the fitted face's landmarks on the row's own
    assert rotation_angle(np.array(mesh["pose"]["rotation"]), np.array(fit["pose"]["rotation"])) < 8
    model = FaceModel.load().landmarks
    placed = project(model.vertices(np.array(mesh["shape"]), np.array(mesh["expression"])),
                     np.array(mesh["pose"]["rotation"]), mesh["pose"]["scale"], mesh["pose"]["translation"])
    target = np.array(mesh["landmarks"])
    size = np.ptp(target, axis=0).max()
    assert np.median(np.linalg.norm(placed - target, axis=1)) < 0.05 * size

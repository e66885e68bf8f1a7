"""The dense teacher of experiments/dense_teacher.py: a point-to-vertex correspondence learned
from fits, and the fit on it (the module lives beside the experiment that uses it)."""

import sys
from pathlib import Path

import numpy as np

from expnet.face.ibug68 import inter_ocular
from expnet.face.pose import Pose, euler_to_rotation
from expnet.teacher.fitting import LandmarkFitter

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))

from dense_fit import MeshCorrespondence, _facing_vertices, learn_correspondence  # noqa: E402


def test_correspondence_is_recovered_and_the_dense_fit_is_exact(model, rng, tmp_path):
    facing = _facing_vertices(model)
    truth = rng.choice(facing, 80, replace=False)
    fits, meshes, iods = [], [], []
    for _ in range(25):
        shape = model.shape_std * rng.normal(size=model.n_shape) * 0.5
        expression = model.expression_std * rng.normal(size=model.n_expression) * 0.5
        pose = Pose(euler_to_rotation(*np.radians(rng.uniform(-8, 8, 3))), np.array([100.0, 110.0]), 1e-3)
        verts = model.vertices(shape, expression)
        meshes.append(pose.project(verts[truth]) + rng.normal(scale=0.05, size=(len(truth), 2)))
        fits.append((shape, expression, pose))
        iods.append(inter_ocular(pose.project(verts[model.landmark_indices])[None])[0])
    corr = learn_correspondence(model, np.array(meshes), fits, np.array(iods))
    # the points' own vertices, or a neighbour within a hair's breadth on the mesh
    found = np.isin(truth[corr.points], truth) & (corr.vertices == truth[corr.points])
    assert len(corr.points) >= 76 and found.mean() > 0.9
    assert np.median(corr.spread) < 0.01
    corr.save(tmp_path / "c.npz")
    back = MeshCorrespondence.load(tmp_path / "c.npz")
    assert np.array_equal(back.vertices, corr.vertices) and back.faces == 25
    # fitting the matched vertices of a new face (identity known: 80 scattered points cannot tell
    # identity from expression) gives back its expression
    sub = corr.sub_model(model)
    expression = model.expression_mean + model.expression_std * rng.normal(size=model.n_expression)
    pose = Pose(euler_to_rotation(0.1, -0.2, 0.05), np.array([120.0, 100.0]), 1.2e-3)
    pts = pose.project(model.vertices(None, expression)[corr.vertices])
    result = LandmarkFitter(sub, contour=corr.contour).fit(pts, shape=model.shape_mean[None])
    assert result.residual[0] < 0.02  # the priors pull a little
    error = np.abs((result.expression[0] - expression) / model.expression_std).mean()
    # the 68-landmark fit of the same face, for scale: its priors keep it off the truth too
    ibug = LandmarkFitter(model.landmarks).fit(pose.project(model.vertices(None, expression)[model.landmark_indices]),
                                               shape=model.shape_mean[None])
    assert error < 1.5 * np.abs((ibug.expression[0] - expression) / model.expression_std).mean() + 0.1

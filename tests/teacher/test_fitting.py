import numpy as np
import pytest

from expnet.bench.synthetic import synthetic_faces
from expnet.teacher.fitting import FitConfig, LandmarkFitter


@pytest.fixture(scope="module")
def faces(model):
    return synthetic_faces(model.landmarks, 300, noise=0.02, seed=7)


def test_recovers_pose_and_expression(model, faces):
    result = LandmarkFitter(model.landmarks).fit(faces["landmarks"])
    lm = model.landmarks
    angle_err = np.abs(result.angles - faces["angles"])
    assert np.median(angle_err, 0).max() < 2.0  # degrees
    assert np.percentile(angle_err, 90, axis=0).max() < 6.0
    err = (result.expression - faces["expression"]) / lm.expression_std
    assert np.sqrt((err ** 2).mean()) < 0.9  # truth has std ~1: well below chance (~1.4)
    corr = [np.corrcoef(result.expression[:, j], faces["expression"][:, j])[0, 1] for j in range(lm.n_expression)]
    assert np.mean(corr) > 0.6 and min(corr[:2]) > 0.8  # later components are less observable
    assert np.median(result.residual) < 0.05


def test_noise_free_fit_is_exact(model):
    clean = synthetic_faces(model.landmarks, 50, noise=0.0, seed=3)
    result = LandmarkFitter(model.landmarks, FitConfig(expression_prior=1e-6, shape_prior=1e-6,
                                                       iterations=30, contour_weight=1.0,
                                                       hidden_contour_weight=1.0)).fit(clean["landmarks"])
    assert np.median(result.residual) < 1e-3
    assert np.abs(result.angles - clean["angles"]).max() < 0.5


def test_bounds_hold(model, faces):
    lm = model.landmarks
    # Exaggerated landmarks push expressions outwards; no prior, so only the box limits them.
    pts = faces["landmarks"].copy()
    centre = pts[:, 48:68].mean(1, keepdims=True)
    pts[:, 48:68] = centre + 3.0 * (pts[:, 48:68] - centre)
    result = LandmarkFitter(lm, FitConfig(expression_prior=0.0)).fit(pts)
    lo, hi = lm.expression_bounds(3.0)
    assert (result.expression >= lo - 1e-6).all() and (result.expression <= hi + 1e-6).all()
    assert result.at_bound.any()  # the test does reach the bounds


def test_fixed_shape_is_kept_and_pose_is_in_pixels(model, faces):
    shape = faces["shape"][:20]
    result = LandmarkFitter(model.landmarks).fit(faces["landmarks"][:20], shape=shape)
    assert np.allclose(result.shape, shape)
    assert np.abs(result.projected - faces["landmarks"][:20]).mean() < 5.0  # pixels
    one = LandmarkFitter(model.landmarks).fit(faces["landmarks"][0])
    assert len(one) == 1 and one.pose(0).rotation.shape == (3, 3)


def test_rejects_bad_landmarks(model):
    fitter = LandmarkFitter(model.landmarks)
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        fitter.fit(np.zeros((5, 5, 2)))
    bad = np.zeros((1, 68, 2))
    bad[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitter.fit(bad)
    with pytest.raises(ValueError, match="68-landmark"):
        LandmarkFitter(model)

import numpy as np
import pytest

from expnet.face.model import LinearModel


def test_basis_dimensions(model):
    assert model.n_vertices == 53215
    assert model.n_shape == 40 and model.n_expression == 10
    assert model.landmark_indices.shape == (68,)
    assert model.landmarks.mean.shape == (68, 3)
    lo, hi = model.expression_bounds()
    assert np.all(hi > lo)


def test_vertices_single_and_batch(model, rng):
    shape = model.shape_mean + rng.standard_normal((3, model.n_shape)) * model.shape_std
    exp = model.expression_mean + rng.standard_normal((3, model.n_expression)) * model.expression_std
    batch = model.landmarks.vertices(shape, exp)
    assert batch.shape == (3, 68, 3)
    one = model.landmarks.vertices(shape[1], exp[1])
    assert np.allclose(one, batch[1], rtol=1e-5, atol=1e-2)
    # the landmark sub-model is the full model at the landmark vertices
    full = model.vertices(shape[1], exp[1])
    assert np.allclose(full[model.landmark_indices], one, rtol=1e-5, atol=1e-2)


def test_expression_changes_mouth_not_identity(model):
    exp = model.expression_mean.copy()
    exp[0] += 2 * model.expression_std[0]
    moved = np.linalg.norm(model.landmarks.vertices(expression=exp) - model.landmarks.vertices(), axis=1)
    assert moved[48:68].mean() > moved[36:48].mean()  # mouth moves more than the eyes


def test_rejects_wrong_coefficient_count(model):
    with pytest.raises(ValueError, match="shape coefficients"):
        model.vertices(shape=np.zeros(7))


def test_other_basis_sizes_work(rng):
    """Nothing hard-codes 40/10: a 29-D expression basis goes through the same code."""
    n, ks, ke = 68, 12, 29
    m = LinearModel(rng.standard_normal((n, 3)).astype(np.float32),
                    rng.standard_normal((n, 3, ks)).astype(np.float32) * 0.05,
                    rng.standard_normal((n, 3, ke)).astype(np.float32) * 0.05,
                    np.zeros(ks), np.ones(ks), np.zeros(ke), np.ones(ke))
    assert m.vertices(np.zeros((2, ks)), np.zeros((2, ke))).shape == (2, n, 3)

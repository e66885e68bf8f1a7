"""The dense extension of extra expression components to the whole mesh (issue 18)."""

import numpy as np
import pytest

from expnet.face.extra_basis import ExtraComponents, extended_face_model, rim_vertices
from expnet.face.mesh import read_obj, write_mesh

INNER = np.arange(17, 68)


@pytest.fixture(scope="module")
def extended(model, tmp_path_factory):
    # smooth displacement fields over the inner landmarks, as learned components are (a smile-like
    # spread, a vertical stretch, a sideways shear)
    p = model.landmarks.mean[INNER, :2]
    x, y = ((p - p.mean(0)) / np.ptp(p, axis=0)).T
    fields = [np.stack([x, np.abs(x)], 1), np.stack([0 * x, y], 1), np.stack([y, 0 * y], 1)]
    basis = np.zeros((68, 3, 3))
    for k, d in enumerate(fields):
        basis[INNER, :2, k] = d / np.linalg.norm(d)
    # a prior like the learned ones: a few per cent of the face's size per std
    extra = ExtraComponents(basis, np.full(3, 0.03 * np.ptp(model.mean[:, 0])), 100)
    cache = tmp_path_factory.mktemp("cache")
    return extra, extended_face_model(model, extra, cache), cache


def test_the_dense_components_pass_through_the_landmarks_and_keep_the_rim_still(model, extended):
    extra, big, cache = extended
    assert big.n_expression == model.n_expression + 3
    dense = big.expression_basis[..., model.n_expression:]
    np.testing.assert_allclose(dense[model.landmark_indices][INNER], extra.basis[INNER], atol=1e-5)
    assert np.abs(dense[rim_vertices(model.triangles)]).max() == 0
    assert np.abs(dense).max() <= np.abs(extra.basis).max() * 1.5      # smooth: no overshoot far past the handles
    np.testing.assert_array_equal(big.expression_basis[..., :model.n_expression], model.expression_basis)
    made = list(cache.glob(f"extra-dense-{extra.version}-*.npy"))
    assert len(made) == 1      # computed once per components and mesh, then read
    again = extended_face_model(model, extra, cache)
    np.testing.assert_array_equal(again.expression_basis, big.expression_basis)
    # another triangulation is another extension (the interpolation runs on the mesh's edges)
    import copy
    remeshed = copy.copy(model)
    remeshed.__dict__["triangles"] = model.triangles[::-1].copy()
    extended_face_model(remeshed, extra, cache)
    assert len(list(cache.glob(f"extra-dense-{extra.version}-*.npy"))) == 2


def test_a_face_with_large_extra_coefficients_exports_as_a_clean_mesh(model, extended, tmp_path):
    _, big, _ = extended
    tri = model.triangles
    neutral = big.vertices()
    for k in range(model.n_expression, big.n_expression):
        e = big.expression_mean.copy()
        e[k] += 3 * big.expression_std[k]                                   # 3 std: the fit's bound
        path = write_mesh(tmp_path / f"extra{k}.obj", big.vertices(None, e), tri)
        v, f = read_obj(path)
        assert np.isfinite(v).all() and len(f) == len(tri)
        flipped = (np.einsum("ij,ij->i", _normals(neutral, f), _normals(v, f)) < 0).mean()
        assert flipped < 1e-4, f"{flipped:.2%} of the triangles turned over"
        assert (_edges(v, f) / np.maximum(_edges(neutral, f), 1e-9)).max() < 3.0   # nothing torn or spiked


def _normals(x, f):
    n = np.cross(x[f[:, 1]] - x[f[:, 0]], x[f[:, 2]] - x[f[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _edges(x, f):
    return np.linalg.norm(x[f[:, [1, 2, 0]]] - x[f], axis=2)

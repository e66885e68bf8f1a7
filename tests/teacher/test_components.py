"""Extra expression components learned from fit residuals (issue 18)."""

import numpy as np
import pytest

from expnet.face.extra_basis import ExtraComponents, extend
from expnet.face.pose import euler_to_rotation, project
from expnet.teacher.components import INNER, learn_components
from expnet.teacher.fitting import LandmarkFitter


def _hidden_direction(model) -> np.ndarray:
    """A smile-like displacement of the mouth corners, orthogonal to the ten components."""
    d = np.zeros((68, 3))
    d[48, :2], d[54, :2] = [-1.0, 1.0], [1.0, 1.0]
    e = model.expression_basis[INNER, :2].reshape(-1, model.n_expression)
    q, _ = np.linalg.qr(e)
    flat = d[INNER, :2].reshape(-1)
    flat -= q @ (q.T @ flat)
    d[INNER, :2] = flat.reshape(-1, 2)
    return d / np.linalg.norm(d)


def _faces(model, n, rng, amplitude, direction):
    """Label-like rows of synthetic faces that move along ``direction`` beyond the ten."""
    shape = model.shape_mean + rng.standard_normal((n, model.n_shape)) * model.shape_std * 0.5
    expression = model.expression_mean + rng.standard_normal((n, model.n_expression)) * model.expression_std * 0.5
    angles = np.radians(rng.uniform(-15, 15, (n, 3)))
    rotation = euler_to_rotation(*angles.T)
    scale, translation = rng.uniform(0.001, 0.002, n), rng.uniform(100, 300, (n, 2))
    hidden = rng.standard_normal(n) * amplitude
    points = model.vertices(shape, expression) + hidden[:, None, None] * direction
    return project(points, rotation, scale, translation), hidden


def test_a_hidden_component_is_learned_and_fitted(model, rng):
    lm = model.landmarks
    direction = _hidden_direction(lm)
    amplitude = 0.05 * np.abs(lm.mean).max()
    pts, _ = _faces(lm, 600, rng, amplitude, direction)
    fit = LandmarkFitter(lm).fit(pts)
    rows = [{"status": "ok", "identity": None, "landmarks": p.tolist(), "shape": s.tolist(), "expression": e.tolist(),
             "pose": {"rotation": r.tolist(), "scale": float(sc), "translation": t.tolist()}}
            for p, s, e, r, sc, t in zip(pts, fit.shape, fit.expression, fit.rotation, fit.scale, fit.translation)]
    extra = learn_components(rows, lm, k=3)
    first = extra.basis[..., 0].reshape(-1)
    assert abs(first @ direction.reshape(-1)) > 0.9          # the hidden direction, found without labels
    assert extra.std[0] > 3 * extra.std[1]                    # and it stands out
    ten = lm.expression_basis.reshape(-1, lm.n_expression)
    assert np.abs(ten.T @ extra.basis.reshape(-1, 3)).max() < 1e-6 * np.abs(ten).max() * 10   # orthogonal to the ten
    # a 10 + K fit recovers the hidden coefficient on new faces
    test, hidden = _faces(lm, 200, rng, amplitude, direction)
    full = LandmarkFitter(extend(lm, extra)).fit(test)
    assert full.expression.shape == (200, 13)
    assert abs(np.corrcoef(full.expression[:, 10], hidden)[0, 1]) > 0.9
    assert full.residual.mean() < LandmarkFitter(lm).fit(test).residual.mean()


def test_identity_means_are_removed(model, rng):
    lm = model.landmarks
    direction = _hidden_direction(lm)
    pts, _ = _faces(lm, 300, rng, 0.0, direction)
    # a fixed per-identity offset along the direction: a face shape, not an expression
    ident = np.repeat(np.arange(30), 10)
    offsets = rng.standard_normal(30)[ident] * 0.05 * np.abs(lm.mean).max()
    fit = LandmarkFitter(lm).fit(pts)
    proj = project(lm.vertices(fit.shape, fit.expression) + offsets[:, None, None] * direction, fit.rotation,
                   fit.scale, fit.translation)
    rows = [{"status": "ok", "identity": f"p{i}", "landmarks": p.tolist(), "shape": s.tolist(),
             "expression": e.tolist(), "pose": {"rotation": r.tolist(), "scale": float(sc), "translation": t.tolist()}}
            for i, p, s, e, r, sc, t in zip(ident, proj, fit.shape, fit.expression, fit.rotation, fit.scale,
                                            fit.translation)]
    with_ids = learn_components(rows, lm, k=2)
    without = learn_components([{**r, "identity": None} for r in rows], lm, k=2)
    along = lambda e: abs(e.basis[..., 0].reshape(-1) @ direction.reshape(-1))  # noqa: E731
    assert along(without) > 0.9 and along(with_ids) < 0.5


def test_components_round_trip_and_refuse_other_files(tmp_path):
    extra = ExtraComponents(np.random.default_rng(0).standard_normal((68, 3, 4)), np.ones(4), 10)
    path = extra.save(tmp_path / "extra.npz")
    back = ExtraComponents.load(path)
    assert back.version == extra.version and back.k == 4 and back.first(2).k == 2
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="no extra expression components"):
        ExtraComponents.load(tmp_path / "other.npz")


def random_components(path, k=4, seed=0):
    """Orthonormal random components on the inner points (for pipeline tests)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(INNER) * 2, k)))
    basis = np.zeros((68, 3, k))
    basis[INNER, :2] = q.reshape(len(INNER), 2, k)
    return ExtraComponents(basis, np.full(k, 2.0), 100).save(path)


def test_label_with_extra_components_adds_them_to_the_rows(tmp_path):
    import json
    import shutil

    from expnet.assets.samples import sample_path
    from expnet.cli import main
    faces = tmp_path / "faces"
    faces.mkdir()
    for name in ("einstein.jpg", "takeo.ppm"):
        shutil.copy(sample_path(name), faces / name)
    extra = random_components(tmp_path / "extra.npz")
    plain, rich = tmp_path / "plain.jsonl", tmp_path / "rich.jsonl"
    assert main(["label", str(faces), "-o", str(plain), "--workers", "1", "--quiet"]) == 0
    assert main(["label", str(faces), "-o", str(rich), "--workers", "1", "--quiet", "--extra", str(extra)]) == 0
    for a, b in zip(*(map(json.loads, p.read_text().splitlines()) for p in (plain, rich))):
        assert len(b["expression"]) == 10 and len(b["expression_extra"]) == 4
        assert b["extra_version"] == ExtraComponents.load(extra).version
        assert "expression_extra" not in a
        assert b["residual"] <= a["residual"] + 1e-6          # more freedom never fits worse


def test_expnet_components_builds_them_from_label_files_with_a_figure(model, rng, tmp_path, capsys):
    import json

    from expnet.cli import main
    lm = model.landmarks
    pts, _ = _faces(lm, 200, rng, 0.05 * np.abs(lm.mean).max(), _hidden_direction(lm))
    fit = LandmarkFitter(lm).fit(pts)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({
        "status": "ok", "identity": None, "landmarks": p.tolist(), "shape": s.tolist(), "expression": e.tolist(),
        "pose": {"rotation": r.tolist(), "scale": float(sc), "translation": t.tolist()}}) + "\n"
        for p, s, e, r, sc, t in zip(pts, fit.shape, fit.expression, fit.rotation, fit.scale, fit.translation)))
    out, figure = tmp_path / "extra.npz", tmp_path / "extra.png"
    assert main(["components", str(labels), "-o", str(out), "-k", "2", "--figure", str(figure)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["k"] == 2 and summary["faces"] == 200
    assert ExtraComponents.load(out).version == summary["version"]
    assert figure.stat().st_size > 5_000


def test_the_shipped_components_load_and_extend_the_fit(model):
    from expnet.face.extra_basis import shipped_components
    extra = ExtraComponents.load(shipped_components())
    assert extra.k == 10 and extra.faces > 10_000
    assert np.all(np.diff(extra.std) <= 0)                     # principal components, largest first
    assert extend(model.landmarks, extra).n_expression == 20

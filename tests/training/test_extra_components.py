"""A network that regresses extra expression components (issue 18): labels -> train -> export ->
predict, with the ten kept apart in every output format."""

import csv
import json
import shutil

import numpy as np
import pytest

from expnet.assets.samples import sample_path
from expnet.cli import main

pytest.importorskip("torch")
TINY_NET = '{"stem": 8, "widths": [8, 16, 16, 24], "depths": [1, 1, 1, 1], "hidden": 16}'


@pytest.fixture(scope="module")
def rich_model(tmp_path_factory):
    from tests.teacher.test_components import random_components
    root = tmp_path_factory.mktemp("extra-train")
    extra = random_components(root / "extra.npz", k=3)
    faces = root / "faces"
    faces.mkdir()
    for i, ident in enumerate(["anna", "anna", "bert", "bert", "carl", "carl"]):
        shutil.copy(sample_path("takeo.ppm"), faces / f"{ident}_{i:04d}.ppm")
    labels = root / "labels.jsonl"
    assert main(["label", str(faces), "-o", str(labels), "--workers", "1", "--quiet", "--extra", str(extra),
                 "--identity-rule", r"^(.*)_\d+$"]) == 0
    plain = root / "plain.jsonl"
    assert main(["label", str(faces), "-o", str(plain), "--workers", "1", "--quiet"]) == 0
    (root / "val.txt").write_text("carl\n")
    from expnet.training.trainer import TrainConfig, Trainer
    cfg = dict(out=str(root / "run"), input_size=64, batch_size=4, optimizer="adamw", lr=1e-3,
               net=json.loads(TINY_NET), val_identities=str(root / "val.txt"), cache=str(root / "cache"), epochs=1)
    with pytest.raises(ValueError, match="without the extra components"):   # labels of another fit
        Trainer(TrainConfig(labels=[str(plain)], extra=str(extra), **cfg), progress=False).run()
    Trainer(TrainConfig(labels=[str(labels)], extra=str(extra), **cfg), progress=False).run()
    model = root / "rich.onnx"
    assert main(["export", str(root / "run" / "best.pt"), "-o", str(model)]) == 0
    return model, root


def test_the_ten_and_the_extra_components_come_apart_in_every_format(rich_model, tmp_path):
    model, _ = rich_model
    from expnet.inference.predictor import ExpNet
    net = ExpNet(model)
    assert net.n_extra == 3 and net.metadata["extra"]["k"] == 3
    assert "+ 3 extra expression components" in net.metadata["basis"]
    face = net.predict(str(sample_path())).faces[0]
    assert face.expression.shape == (10,) and face.expression_extra.shape == (3,)
    assert face.expression_extra_normalized.shape == (3,)
    out = {fmt: tmp_path / f"out.{fmt}" for fmt in ("jsonl", "csv", "npz", "parquet")}
    for path in out.values():
        assert main(["predict", "--sample", "--model", str(model), "-o", str(path), "--quiet"]) == 0
    row = json.loads(out["jsonl"].read_text().splitlines()[0])["faces"][0]
    assert len(row["expression"]) == 10 and len(row["expression_extra"]) == 3
    header = next(csv.reader(open(out["csv"])))
    assert {"exp9", "xexp2", "xexpn2"} <= set(header) and "exp10" not in header
    with np.load(out["npz"]) as z:
        assert z["expression"].shape[1] == 10 and z["expression_extra"].shape[1] == 3
    from expnet.inference import parquet
    t = parquet.read_table(out["parquet"]).to_pylist()
    assert len(t[0]["expression"]) == 10 and len(t[0]["expression_extra_normalized"]) == 3


def test_a_ten_component_model_has_no_extra_fields(tmp_path):
    row = json.loads(_predict(tmp_path / "plain.jsonl").read_text().splitlines()[0])
    assert "expression_extra" not in row["faces"][0]


def _predict(path):
    assert main(["predict", "--sample", "-o", str(path), "--quiet"]) == 0
    return path


def test_evaluation_scores_the_full_vector_and_the_ten_apart(rich_model):
    from expnet.evaluation.methods import DEFAULT_METHODS, make_method
    model, _ = rich_model
    full, ten = make_method("expnet", str(model)), make_method("expnet-ten", str(model))
    assert (full.dim, ten.dim) == (13, 10) and full.version() != ten.version()
    assert "expnet-ten" in DEFAULT_METHODS
    features = full.extract([str(sample_path())], 1.0, False, True, progress=False)
    assert features.shape == (1, 13) and np.isfinite(features).all()


def test_renders_and_meshes_use_the_extra_components(rich_model, tmp_path):
    from expnet.face.extra_basis import load_extra
    from expnet.face.mesh import read_obj
    from expnet.inference.predictor import ExpNet
    from expnet.render.visuals import FaceRenderer
    model, root = rich_model
    net = ExpNet(model)
    assert net.extra_components.version == load_extra(root / "extra.npz").version   # stored in the model
    assert main(["render", "--sample", "--model", str(model), "--out", str(tmp_path), "--quiet"]) == 0
    vertices, _ = read_obj(sorted(tmp_path.glob("*_face0.obj"))[0])
    face = net.predict(str(sample_path())).faces[0]
    renderer = FaceRenderer(extra=net.extra_components)
    full = renderer.model.vertices(face.shape, renderer.expression(face))
    np.testing.assert_allclose(vertices, full, rtol=1e-4, atol=1e-2 * np.abs(full).max() * 1e-3)
    face.expression_extra = face.expression_extra + 3 * net.extra_components.std
    moved = np.abs(renderer.model.vertices(face.shape, renderer.expression(face)) - full).max()
    assert moved > 0.5 * 3 * net.extra_components.std.max() * np.abs(net.extra_components.basis).max()

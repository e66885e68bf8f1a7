"""``expnet export MODEL.onnx --pose-from POSE.pt``: an exported model's pose network replaced, its
expression network kept (a new pose recipe joined to a shipped expression network)."""

import json

import numpy as np
import pytest

from expnet.cli import main


@pytest.fixture(scope="module")
def pose_runs(trained, tmp_path_factory):
    """Two one-epoch pose networks (vertex loss, 32 px at the expression network's crop; seeds 0
    and 1) and one that reads a wider crop."""
    from expnet.training.trainer import TrainConfig, Trainer
    _, _, cfg, _ = trained
    root = tmp_path_factory.mktemp("pose-runs")
    pose = {**cfg, "epochs": 1, "pose_loss": "vertex", "input_size": 32, "loss_weights": (0.0, 1.0, 0.0)}
    runs = {"s0": {**pose, "seed": 0}, "s1": {**pose, "seed": 1},
            "wide": {**pose, "input_size": 40, "enlarge": 1.5625}}
    for name, config in runs.items():
        Trainer(TrainConfig(**{**config, "out": str(root / name)}), progress=False).run()
    return {name: root / name / "best.pt" for name in runs}


def _outputs(model, crops):
    import onnxruntime as ort
    return ort.InferenceSession(str(model)).run(None, {"pixels": crops[:, None]})


def test_a_models_pose_network_is_replaced_as_if_exported_with_both_checkpoints(trained, pose_runs, tmp_path):
    from expnet.inference.predictor import ExpNet
    _, out, _, _ = trained
    card_source = tmp_path / "one" / "expnet.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(card_source), "--card"]) == 0
    crops = np.random.default_rng(3).uniform(0, 255, (4, 64, 64)).astype(np.float32)
    for seed in ("s0", "s1"):
        direct = tmp_path / f"direct-{seed}.onnx"
        assert main(["export", str(out / "best.pt"), "--pose-from", str(pose_runs[seed]), "-o", str(direct)]) == 0
        replaced = tmp_path / f"replaced-{seed}" / "expnet.onnx"
        # from the one-network model, and (seed 1) from the two-network model of the other seed
        source = card_source if seed == "s0" else tmp_path / "replaced-s0" / "expnet.onnx"
        assert main(["export", str(source), "--pose-from", str(pose_runs[seed]), "-o", str(replaced), "--card"]) == 0
        for got, want in zip(_outputs(replaced, crops), _outputs(direct, crops)):
            assert got.shape == want.shape and np.allclose(got, want, atol=1e-5)
        meta, want_meta = ExpNet(replaced, detector="none").metadata, ExpNet(direct, detector="none").metadata
        assert meta["coder"] == want_meta["coder"] and meta["net_config"] == want_meta["net_config"]
        assert [n["outputs"] for n in meta["networks"]] == [["expression", "shape"], ["pose"]]
        assert meta["networks"][1]["train_config"]["seed"] == int(seed[1])
        card = (replaced.parent / "MODEL_CARD.md").read_text()
        assert f"its pose network replaced by `{pose_runs[seed]}`" in card and card.count("## Pose network") == 1
        assert f"seed {seed[1]}. Epochs run" in card and "Two networks in one graph" in card
        assert (replaced.parent / "pose_training_log.csv").read_text() == (
            pose_runs[seed].parent / "log.csv").read_text()
    # the expression network's weights are the one-network model's, untouched
    assert np.array_equal(_outputs(card_source, crops)[0], _outputs(replaced, crops)[0])


def test_a_pose_network_of_another_crop_or_an_averaged_model_is_refused(trained, pose_runs, tmp_path, capsys):
    _, out, _, _ = trained
    model, mirrored = tmp_path / "model.onnx", tmp_path / "mirrored.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(model)]) == 0
    before = model.read_bytes()
    assert main(["export", str(model), "--pose-from", str(pose_runs["wide"]), "-o", str(model)]) == 2
    assert "can only be replaced by one of the same crop" in capsys.readouterr().err
    assert model.read_bytes() == before  # nothing half-written over the model
    assert main(["export", str(model), "--pose-mirror", "-o", str(mirrored)]) == 0
    assert main(["export", str(mirrored), "--pose-from", str(pose_runs["s0"]), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "averages its pose over several readings" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_a_replaced_pose_can_be_averaged_in_the_same_command(trained, pose_runs, tmp_path):
    _, out, _, _ = trained
    model, both = tmp_path / "model.onnx", tmp_path / "both" / "expnet.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(model)]) == 0
    assert main(["export", str(model), "--pose-from", str(pose_runs["s0"]), "--pose-mirror", "-o", str(both)]) == 0
    import onnx
    meta = json.loads(next(p.value for p in onnx.load(str(both)).metadata_props if p.key == "expnet"))
    assert meta["pose_readings"] == [{"network": 1, "mirror": False}, {"network": 1, "mirror": True}]
    assert meta["networks"][1]["train_config"]["pose_loss"] == "vertex"


def test_a_pose_networks_card_names_what_its_training_did_to_the_crops():
    from expnet.training.model_card import _crop_changes
    assert _crop_changes({"sunglasses": 0.2, "occlude": 0.0}) == (
        ", dark glasses drawn with the pose (`--sunglasses`) on 20% of the crops")
    assert _crop_changes({"fill_black": 0.7, "occlude": 0.3}).count("of the crops") == 2
    assert _crop_changes({}) == ""

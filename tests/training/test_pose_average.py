"""Pose averaged over several readings (``expnet export --pose-average``, ``--pose-mirror``): the
map back from a mirror image's targets and from another network's, the graph's mean, and the
model's card and description."""

import json

import numpy as np
import pytest

from expnet.cli import main
from expnet.face.pose import euler_to_rotation, mirror_pose
from expnet.inference.targets import TargetCoder


@pytest.mark.parametrize("encoding", ["euler", "6d"])
def test_the_mirror_map_reads_a_crops_pose_from_its_mirror_images(model, encoding):
    rng = np.random.default_rng(4)
    n, size = 20, 64
    rotation = euler_to_rotation(*np.radians(rng.uniform([-40, -85, -30], [40, 85, 30], (n, 3))).T)
    scale, translation = rng.uniform(0.001, 0.003, n), rng.uniform(20, 44, (n, 2))
    affine = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 1))  # the image is the crop
    raw = TargetCoder.from_model(model.landmarks, pose_encoding=encoding).raw_pose(
        rotation, scale, translation, affine, size)
    coder = TargetCoder.from_model(model.landmarks, raw.mean(0), raw.std(0) + 0.1, encoding)
    # the same face in the mirror image: rotation M R M, column x at size - 1 - x
    flipped, moved = mirror_pose(rotation, translation, size)
    mirrored = coder.encode_pose(flipped, scale, moved, affine, size)
    sign, offset = coder.mirror_map(size)
    assert np.allclose(sign * mirrored + offset, coder.encode_pose(rotation, scale, translation, affine, size))
    assert not np.allclose(mirrored, coder.encode_pose(rotation, scale, translation, affine, size))


def test_a_mirrored_model_outputs_the_mean_of_the_two_readings(onnx_model, tmp_path):
    import onnxruntime as ort

    from expnet.inference.predictor import ExpNet, describe_network
    mirrored = tmp_path / "mirrored.onnx"
    assert main(["export", str(onnx_model), "--pose-mirror", "-o", str(mirrored)]) == 0
    plain, both = ExpNet(onnx_model, detector="none"), ExpNet(mirrored, detector="none")
    crops = np.random.default_rng(0).uniform(0, 255, (7, 64, 64)).astype(np.float32)
    e, p, s = plain.run_crops(crops)
    _, p_flip, _ = plain.run_crops(crops[:, :, ::-1])
    sign, offset = plain.coder.mirror_map(plain.input_size)
    e2, p2, s2 = both.run_crops(crops)
    assert np.allclose(p2, (p + sign * p_flip + offset) / 2, atol=1e-4)
    assert np.allclose(e2, e, atol=1e-5) and np.allclose(s2, s, atol=1e-5)  # expression and shape untouched
    assert not np.allclose(p2, p, atol=1e-3)
    # a batch of one and an odd size run through the copied network as through the original
    assert np.allclose(both.run_crops(crops[:1])[1], p2[:1], atol=1e-4)
    assert both.metadata["pose_mirror"] is True and describe_network(mirrored)["pose_readings"] == 2
    assert describe_network(onnx_model)["pose_mirror"] is False and describe_network(onnx_model)["pose_readings"] == 1
    assert [o.name for o in ort.InferenceSession(str(mirrored)).get_outputs()] == ["expression", "pose", "shape"]


def test_mirroring_twice_or_rewriting_without_it_is_refused(onnx_model, tmp_path, capsys):
    mirrored = tmp_path / "mirrored.onnx"
    assert main(["export", str(onnx_model), "--pose-mirror", "-o", str(mirrored)]) == 0
    assert main(["export", str(mirrored), "--pose-mirror", "-o", str(tmp_path / "twice.onnx")]) == 2
    assert "already averages its pose over several readings" in capsys.readouterr().err
    assert main(["export", str(onnx_model), "-o", str(tmp_path / "same.onnx")]) == 2
    assert "only be written again with --pose-from, --pose-average or --pose-mirror" in capsys.readouterr().err
    assert not (tmp_path / "twice.onnx").exists() and not (tmp_path / "same.onnx").exists()


def test_the_mirrored_models_card_carries_the_original_and_its_new_pose_table(trained, tmp_path):
    _, out, _, _ = trained
    pose = {"meta": {"command": "expnet evaluate pose F"},
            "scores": [{"method": "expnet", "boxes": "gt", "images": 16, "found": 16,
                        "mae": {"yaw": 3.0, "pitch": 5.0, "roll": 2.0, "mean": 3.33},
                        "mae_by_yaw": {"0-30": {"mean": 2.5}, "60-90": {"mean": 9.5}}}]}
    (tmp_path / "p.json").write_text(json.dumps(pose))
    first, second = tmp_path / "a" / "expnet.onnx", tmp_path / "b" / "expnet.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(first), "--card"]) == 0
    assert main(["export", str(first), "--pose-mirror", "-o", str(second), "--card",
                 "--pose-evaluation", str(tmp_path / "p.json")]) == 0
    card, original = (second.parent / "MODEL_CARD.md").read_text(), (first.parent / "MODEL_CARD.md").read_text()
    assert "Pose is the mean of 2 readings" in card and "mirror image" in card and "mirror image" not in original
    assert f"Written from `{first}`" in card and card.count("## Head pose") == 1
    assert "| expnet | gt | 16/16 | 3.0 | 5.0 | 2.0 | 3.3 | 2.5 | 9.5 |" in card
    assert original.split("## Recipe")[1].split("##")[0] in card  # the recipe carried over as it was
    assert (second.parent / "training_log.csv").read_text() == (first.parent / "training_log.csv").read_text()
    # a checkpoint exported with the option gets the same note in its own card
    third = tmp_path / "c" / "expnet.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(third), "--card", "--pose-mirror"]) == 0
    assert "on the crop and on its mirror image" in (third.parent / "MODEL_CARD.md").read_text()


@pytest.fixture(scope="module")
def second_seed(trained, tmp_path_factory):
    """Another one-epoch training of the tiny network (seed 1), exported with its card."""
    from expnet.training.trainer import TrainConfig, Trainer
    _, _, cfg, _ = trained
    root = tmp_path_factory.mktemp("seed1")
    Trainer(TrainConfig(**{**cfg, "out": str(root / "run"), "epochs": 1, "seed": 1}), progress=False).run()
    model = root / "model" / "expnet.onnx"
    assert main(["export", str(root / "run" / "best.pt"), "-o", str(model), "--card"]) == 0
    return model


def test_readings_of_another_network_map_to_the_first_ones_targets(model):
    from expnet.training.pose_average import _to_base
    rng = np.random.default_rng(5)
    a = TargetCoder.from_model(model.landmarks, rng.normal(0, 1, 9), rng.uniform(0.5, 2, 9), "6d")
    b = TargetCoder.from_model(model.landmarks, rng.normal(0, 1, 9), rng.uniform(0.5, 2, 9), "6d")
    w = rng.normal(0, 1, (4, 9))
    scale, shift = _to_base(b, a)
    assert np.allclose((scale * w + shift) * a.pose_std + a.pose_mean, w * b.pose_std + b.pose_mean)  # same raw pose


def test_an_averaged_model_outputs_the_mean_of_its_networks_readings(trained, second_seed, tmp_path):
    from expnet.inference.predictor import ExpNet, describe_network
    _, out, _, _ = trained
    first = tmp_path / "first" / "expnet.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(first), "--card"]) == 0
    averaged = tmp_path / "averaged" / "expnet.onnx"
    assert main(["export", str(first), "--pose-average", str(second_seed), "--pose-mirror", "--card",
                 "-o", str(averaged)]) == 0
    a, b, both = (ExpNet(m, detector="none") for m in (first, second_seed, averaged))
    crops = np.random.default_rng(2).uniform(0, 255, (5, 64, 64)).astype(np.float32)
    readings = []
    for net in (a, b):
        sign, offset = net.coder.mirror_map(net.input_size)
        _, p, _ = net.run_crops(crops)
        _, p_flip, _ = net.run_crops(crops[:, :, ::-1])
        readings += [p, sign * p_flip + offset]  # both tiny networks share the training's statistics
    assert np.allclose(a.coder.pose_std, b.coder.pose_std) and not np.allclose(readings[0], readings[2], atol=1e-3)
    e, p, s = both.run_crops(crops)
    assert np.allclose(p, np.mean(readings, axis=0), atol=1e-4)
    assert np.allclose(e, a.run_crops(crops)[0], atol=1e-5)
    info = describe_network(averaged)
    assert info["pose_readings"] == 4 and len(info["networks"]) == 2 and info["networks"][1]["outputs"] == ["pose"]
    card = (averaged.parent / "MODEL_CARD.md").read_text()
    assert "Pose is the mean of 4 readings" in card and f"## Pose network 2 (from `{second_seed}`)" in card
    assert "`pose_training_log_2.csv`" in card and (averaged.parent / "pose_training_log_2.csv").exists()
    assert main(["export", str(averaged), "--pose-average", str(first), "-o", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", str(first), "--pose-average", str(averaged), "-o", str(tmp_path / "x.onnx")]) == 2


def test_a_network_with_another_crop_is_refused(trained, tmp_path, capsys):
    from expnet.training.trainer import TrainConfig, Trainer
    _, out, cfg, _ = trained
    Trainer(TrainConfig(**{**cfg, "out": str(tmp_path / "run"), "epochs": 1, "input_size": 32}), progress=False).run()
    small, first = tmp_path / "small.onnx", tmp_path / "first.onnx"
    assert main(["export", str(tmp_path / "run" / "best.pt"), "-o", str(small)]) == 0
    assert main(["export", str(out / "best.pt"), "-o", str(first)]) == 0
    assert main(["export", str(first), "--pose-average", str(small), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "another input size" in capsys.readouterr().err


def test_an_exported_model_is_averaged_without_torch_and_without_onnx_says_what_to_install(onnx_model, tmp_path):
    import subprocess
    import sys
    run = ("import sys; sys.modules[{blocked!r}] = None; from expnet.cli import main; "
           "sys.exit(main(['export', {model!r}, '--pose-mirror', '-o', {out!r}]))")
    out = tmp_path / "mirrored.onnx"
    done = subprocess.run([sys.executable, "-c", run.format(blocked="torch", model=str(onnx_model), out=str(out))],
                          capture_output=True, text=True)
    assert done.returncode == 0 and out.exists(), done.stderr
    done = subprocess.run([sys.executable, "-c", run.format(blocked="onnx", model=str(onnx_model),
                                                            out=str(tmp_path / "no.onnx"))],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "pip install onnx" in done.stderr and not (tmp_path / "no.onnx").exists()

"""expnet train on labels of a registry sample face with a tiny network: logs, checkpoints, resume,
stages, schedules, configuration checks and safe checkpoint loading."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from expnet.cli import main  # noqa: E402


def test_training_writes_log_curves_and_checkpoints(trained):
    root, out, cfg, first = trained
    assert first["epochs"] == 1 and first["train_samples"] == 4 and first["val_samples"] == 2
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) == 1 and float(rows[0]["val_loss"]) > 0
    assert (out / "curves.png").stat().st_size > 1000
    assert (out / "best.pt").exists() and (out / "last.pt").exists()


def test_training_resumes(trained):
    from expnet.training.trainer import TrainConfig, Trainer
    root, out, cfg, first = trained
    resumed_dir = root / "resumed"
    shutil.copytree(out, resumed_dir)
    cfg = {**cfg, "out": str(resumed_dir)}
    with pytest.raises(ValueError, match="another configuration"):
        Trainer(TrainConfig(epochs=2, **{**cfg, "lr": 0.5}), progress=False).run()
    # same configuration, more epochs: picks up after epoch 1
    result = Trainer(TrainConfig(epochs=2, **cfg), progress=False).run()
    assert result["epochs"] == 2
    assert len(list(csv.DictReader(open(resumed_dir / "log.csv")))) == 2


def test_second_stage_starts_from_a_checkpoint(trained):
    from expnet.training.trainer import TrainConfig, Trainer
    root, out, cfg, first = trained
    stage = {**cfg, "out": str(root / "stage2"), "lr": 1e-4, "init": str(out / "best.pt")}
    result = Trainer(TrainConfig(epochs=1, **stage), progress=False).run()
    rows = list(csv.DictReader(open(root / "stage2" / "log.csv")))
    assert result["epochs"] == 1 and float(rows[0]["lr"]) == 1e-4
    with pytest.raises(ValueError, match="another network configuration"):
        Trainer(TrainConfig(epochs=1, **{**stage, "out": str(root / "s3"), "net": {"hidden": 8}}),
                progress=False).run()


def test_cosine_schedule_decays_to_zero_and_fixes_its_length(trained):
    from expnet.training.trainer import TrainConfig, Trainer
    root, _, cfg, _ = trained
    cos = {**cfg, "out": str(root / "cosine"), "schedule": "cosine", "lr": 1e-3}
    result = Trainer(TrainConfig(epochs=3, **cos), progress=False).run()
    lrs = [float(r["lr"]) for r in csv.DictReader(open(root / "cosine" / "log.csv"))]
    # one batch per epoch: after epoch k of 3 the factor is (1 + cos(pi k / 3)) / 2
    assert result["epochs"] == 3 and np.allclose(lrs, [7.5e-4, 2.5e-4, 0.0], atol=1e-9)
    with pytest.raises(ValueError, match="another configuration"):  # a longer cosine is another recipe
        Trainer(TrainConfig(epochs=4, **cos), progress=False).run()


@pytest.mark.parametrize("bad, match", [({"optimizer": "adam"}, "optimizer must be one of"),
                                        ({"schedule": "step"}, "schedule must be one of"),
                                        ({"batch_size": 0}, "batch_size must be at least 1"),
                                        ({"net": {"widht": [8]}}, "unknown network settings"),
                                        ({"device": "tpu"}, "device must be"),
                                        ({"loss_weights": (1.0, 1.0)}, "three numbers"),
                                        ({"loss_weights": (1.0, -1.0, 0.25)}, "none negative")])
def test_config_is_checked_on_construction(bad, match):
    from expnet.training.trainer import TrainConfig
    with pytest.raises(ValueError, match=match):
        TrainConfig(labels=["missing.jsonl"], **bad)  # fails before any file is read


def test_loss_weights_from_the_command_line(monkeypatch, tmp_path):
    from expnet.cli import main
    from expnet.training import trainer
    seen = []

    class Stop(Exception):
        pass

    def capture(config, progress=True):
        seen.append(config.loss_weights)
        raise Stop
    monkeypatch.setattr(trainer, "Trainer", capture)
    with pytest.raises(Stop):
        main(["train", "--labels", "missing.jsonl", "--out", str(tmp_path), "--loss-weights", "3,1,0.25"])
    assert seen == [(3.0, 1.0, 0.25)]
    assert main(["train", "--labels", "missing.jsonl", "--out", str(tmp_path), "--loss-weights", "3,x"]) == 2


def test_cuda_without_a_cuda_device_is_a_clear_error(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    from expnet.training.trainer import TrainConfig, Trainer
    with pytest.raises(ValueError, match="no CUDA device"):
        Trainer(TrainConfig(labels=["missing.jsonl"], out=str(tmp_path / "run"), device="cuda"))


class _Payload:
    """A pickled object whose loading would run code (here: create a file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_checkpoint_carrying_a_callable_is_refused(trained, tmp_path):
    import torch

    from expnet.training.checkpoint import CheckpointError, load_checkpoint
    _, out, _, _ = trained
    state = torch.load(out / "best.pt", weights_only=False)
    marker = tmp_path / "ran"
    state["payload"] = _Payload(str(marker))
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match="weights only"):
        load_checkpoint(bad)
    assert not marker.exists()
    assert main(["export", str(bad), "-o", str(tmp_path / "bad.onnx")]) == 2
    assert not marker.exists() and not (tmp_path / "bad.onnx").exists()
    assert load_checkpoint(out / "best.pt")["epoch"] >= 1  # a genuine checkpoint still loads


def test_model_card_names_the_data_device_and_evaluations(trained, tmp_path):
    import json
    root, out, cfg, _ = trained
    emotion = {"meta": {"command": "expnet evaluate emotion X"},
               "results": {"ckplus48-peak": {"expnet": {"1.0": {"accuracy": 0.823}, "0.2": {"accuracy": 0.633}}}}}
    pose = {"meta": {"command": "expnet evaluate pose F"},
            "scores": [{"method": "expnet", "boxes": "gt", "images": 16, "found": 16,
                        "mae": {"yaw": 3.0, "pitch": 5.0, "roll": 2.0, "mean": 3.33},
                        "mae_by_yaw": {"0-30": {"mean": 2.5}, "60-90": {"mean": 9.5}}}]}
    (tmp_path / "e.json").write_text(json.dumps(emotion))
    (tmp_path / "p.json").write_text(json.dumps(pose))
    model = tmp_path / "m" / "model.onnx"
    model.parent.mkdir()
    assert main(["export", str(out / "best.pt"), "-o", str(model), "--card", "--evaluation", str(tmp_path / "e.json"),
                 "--pose-evaluation", str(tmp_path / "p.json")]) == 0
    card = (model.parent / "MODEL_CARD.md").read_text()
    labels = cfg["labels"][0]
    assert f"`{labels}` (6 fitted rows)" in card and "device `cpu`" in card
    assert "| ckplus48-peak | expnet | 82.3 | 63.3 |" in card
    assert "| expnet | gt | 16/16 | 3.0 | 5.0 | 2.0 | 3.3 | 2.5 | 9.5 |" in card
    assert (model.parent / "training_log.csv").exists()

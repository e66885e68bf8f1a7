"""``expnet train``: the paper's recipe on labels from ``expnet label``, with checkpoints and resume.

Default recipe (the paper's): L2 loss, SGD with momentum 0.9, weight decay 5e-4, batch 144,
learning rate 1e-3 divided by 10 whenever the validation loss stops improving, dataset mean image
subtracted. Added for robustness where landmarks fail: degraded-input augmentation from the
full-resolution crop (see :mod:`expnet.training_data`), box jitter, mirrored samples.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from expnet.facemodel import FaceModel
from expnet.fitting import LandmarkFitter
from expnet.network import ExpNetCNN, NetConfig, count_macs
from expnet.splits import lfw_validation_identities
from expnet.targets import TargetCoder
from expnet.training_data import Augment, SampleSet, build_samples, centre_affines, make_batch


@dataclass
class TrainConfig:
    labels: list[str]
    out: str = "outputs/train"
    input_size: int = 112
    epochs: int = 30
    batch_size: int = 144
    optimizer: str = "sgd"          # "sgd" (the paper's) or "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "plateau"       # "plateau" (the paper's: /10 when validation stalls) or "cosine"
    plateau_patience: int = 1
    min_lr: float = 1e-6
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 0.25)  # expression, pose, shape
    seed: int = 0
    threads: int = 0                # 0: torch's default
    augment: bool = True
    net: dict = field(default_factory=dict)  # overrides of NetConfig
    val_identities: str | None = None  # file of held-out identities; default: the lfw split
    cache: str = "outputs/cache"       # training crops (derived from the datasets: never committed)
    max_minutes: float = 0.0           # stop after the epoch that passes this wall time (0: no limit)
    init: str | None = None            # start from this checkpoint's weights (e.g. a lower-lr stage)


def _split(samples: SampleSet, held: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Identity-disjoint: validation identities (and their mirrored copies) are never trained on."""
    is_val = np.isin(samples.identity, sorted(held))
    return np.flatnonzero(~is_val & ~samples.flipped), np.flatnonzero(is_val & ~samples.flipped)


class Trainer:
    def __init__(self, config: TrainConfig, progress: bool = True):
        self.config = config
        self.progress = progress
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.model = FaceModel.load()

    # -- data -----------------------------------------------------------------------------------
    def samples(self) -> SampleSet:
        c = self.config
        key = {"labels": [[str(Path(p).resolve()), os.path.getmtime(p)] for p in c.labels],
               "input_size": c.input_size}
        digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:12]
        Path(c.cache).mkdir(parents=True, exist_ok=True)
        cache = Path(c.cache) / f"samples-{c.input_size}-{digest}.npz"
        meta = cache.with_suffix(".json")
        if cache.exists() and meta.exists() and json.loads(meta.read_text()) == key:
            return SampleSet.load(cache)
        fitter = LandmarkFitter(self.model.landmarks)
        samples = build_samples(c.labels, c.input_size, fitter, self.progress)
        samples.save(cache)
        meta.write_text(json.dumps(key))
        return samples

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> dict:
        c = self.config
        torch.manual_seed(c.seed)
        samples = self.samples()
        held = (set(Path(c.val_identities).read_text().split()) if c.val_identities
                else lfw_validation_identities())
        train_idx, val_idx = _split(samples, held)
        if len(train_idx) == 0 or len(val_idx) == 0:
            raise ValueError(f"empty split: {len(train_idx)} training and {len(val_idx)} validation samples")
        net_cfg = NetConfig.from_dict({**NetConfig(input_size=c.input_size, n_expression=self.model.n_expression,
                                                    n_shape=self.model.n_shape).to_dict(), **c.net})
        net = ExpNetCNN(net_cfg)
        coder0 = TargetCoder.from_model(self.model.landmarks)
        centre, _, _, _ = make_batch(samples, train_idx[:4000], c.input_size, coder0, None, None)
        net.mean_image.copy_(torch.from_numpy(centre.mean(0, keepdims=True)))
        raw = coder0.raw_pose(samples.rotation[train_idx], samples.scale[train_idx],
                              samples.translation[train_idx], centre_affines(samples, train_idx, c.input_size),
                              c.input_size)
        if not np.isfinite(raw).all():
            raise ValueError("non-finite pose labels in the training set; relabel with this version")
        coder = TargetCoder.from_model(self.model.landmarks, raw.mean(0), raw.std(0) + 1e-6)

        if c.init:  # a further stage: the earlier stage's weights, mean image and target coding
            init = torch.load(c.init, map_location="cpu", weights_only=False)
            if NetConfig.from_dict(init["net_config"]) != net_cfg:
                raise ValueError(f"{c.init} has another network configuration than this run")
            net.load_state_dict(init["model"])
            coder = TargetCoder.from_dict(init["coder"])
        # NHWC runs the depthwise convolutions about twice as fast on CPU (measured in training).
        net = net.to(memory_format=torch.channels_last)
        params = [p for p in net.parameters()]
        if c.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        elif c.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        else:
            raise ValueError(f"optimizer must be sgd or adamw, got {c.optimizer!r}")
        if c.schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=c.plateau_patience,
                                                               min_lr=c.min_lr)
        elif c.schedule == "cosine":  # stepped per batch, from lr to 0 over all the epochs
            total_steps = max(len(train_idx) // c.batch_size, 1) * c.epochs  # full batches only, as below
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda step: 0.5 * (1 + np.cos(np.pi * min(step, total_steps) / total_steps)))
        else:
            raise ValueError(f"schedule must be plateau or cosine, got {c.schedule!r}")
        start_epoch, best, history = 0, float("inf"), []
        last = self.out / "last.pt"
        if last.exists():
            state = torch.load(last, weights_only=False)
            saved = {**asdict(TrainConfig(labels=[])), **state["train_config"]}  # fields added since
            if _identity(saved) != _identity(asdict(c)):
                raise ValueError(f"{last} was made with another configuration; use a new --out to start afresh")
            net.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start_epoch, best, history = state["epoch"], state["best"], state["history"]
            coder = TargetCoder.from_dict(state["coder"])
        rng = np.random.default_rng(c.seed + start_epoch)
        augment = Augment() if c.augment else None
        w_exp, w_pose, w_shape = c.loss_weights
        log_path = self.out / "log.csv"

        run_start = time.perf_counter()
        for epoch in range(start_epoch, c.epochs):
            if c.schedule == "plateau" and opt.param_groups[0]["lr"] < c.min_lr * 1.01 and epoch > start_epoch:
                break
            if c.max_minutes and (time.perf_counter() - run_start) / 60 > c.max_minutes:
                break
            t0 = time.perf_counter()
            net.train()
            order = rng.permutation(train_idx)
            if c.augment:  # horizontal flip: the mirrored twin, whose labels were refitted
                flip = rng.random(len(order)) < 0.5
                order[flip] = samples.mirror_of(order[flip])
            batches = [order[i:i + c.batch_size] for i in range(0, len(order) - c.batch_size + 1, c.batch_size)]
            seeds = rng.integers(0, 2**31, len(batches))
            total, count = 0.0, 0
            bar = tqdm(total=len(batches) * c.batch_size, desc=f"epoch {epoch + 1}/{c.epochs}", unit="img",
                       disable=not self.progress)
            with ThreadPoolExecutor(1) as pool:  # prepares the next batch while this one trains
                def prepare(k):
                    return make_batch(samples, batches[k], c.input_size, coder,
                                      np.random.default_rng(seeds[k]), augment)
                pending = pool.submit(prepare, 0) if batches else None
                for k in range(len(batches)):
                    x, e, p, s = pending.result()
                    if k + 1 < len(batches):
                        pending = pool.submit(prepare, k + 1)
                    pe, pp, ps = net(torch.from_numpy(x).to(memory_format=torch.channels_last))
                    loss = (w_exp * ((pe - torch.from_numpy(e)) ** 2).mean()
                            + w_pose * ((pp - torch.from_numpy(p)) ** 2).mean()
                            + w_shape * ((ps - torch.from_numpy(s)) ** 2).mean())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if c.schedule == "cosine":
                        sched.step()
                    total += float(loss.detach()) * len(x)
                    count += len(x)
                    bar.update(len(x))
                    bar.set_postfix(loss=f"{total / count:.4f}")
            bar.close()
            val = evaluate_split(net, samples, val_idx, coder, c.input_size)
            val_loss = w_exp * val["expression_mse"] + w_pose * val["pose_mse"] + w_shape * val["shape_mse"]
            if c.schedule == "plateau":
                sched.step(val_loss)
            row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": total / max(count, 1),
                   "val_loss": val_loss, **{f"val_{k}": v for k, v in val.items() if not isinstance(v, list)},
                   "val_expression_mse_per_component": " ".join(f"{v:.4f}" for v in val["expression_mse_per_component"]),
                   "seconds": time.perf_counter() - t0}
            history.append(row)
            _append_csv(log_path, row)
            state = {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "epoch": epoch + 1, "best": min(best, val_loss), "history": history,
                     "train_config": asdict(c), "net_config": net_cfg.to_dict(), "coder": coder.to_dict()}
            if val_loss < best:
                best = val_loss
                _atomic_save(state, self.out / "best.pt")
            _atomic_save(state, last)
            plot_curves(history, self.out / "curves.png")
        return {"epochs": len(history), "best_val_loss": best, "macs": count_macs(net),
                "params": sum(p.numel() for p in net.parameters()),
                "train_samples": int(len(train_idx)), "val_samples": int(len(val_idx)),
                "seconds": float(sum(r["seconds"] for r in history))}


def _identity(config: dict) -> dict:
    """The settings a resumed run must share (it may run longer, elsewhere, on other threads)."""
    skip = ("out", "epochs", "threads", "cache", "max_minutes")
    if config.get("schedule") == "cosine":  # the cosine's length is part of the recipe
        skip = tuple(k for k in skip if k != "epochs")
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items() if k not in skip}


@torch.no_grad()
def evaluate_split(net: ExpNetCNN, samples: SampleSet, index: np.ndarray, coder: TargetCoder,
                   size: int, batch: int = 256) -> dict:
    """Mean squared error (whitened units) of each head on centred, undegraded crops."""
    net.eval()
    se_e, se_p, se_s, n = 0.0, 0.0, 0.0, 0
    for i in range(0, len(index), batch):
        x, e, p, s = make_batch(samples, index[i:i + batch], size, coder, None, None)
        pe, pp, ps = (t.numpy() for t in net(torch.from_numpy(x).to(memory_format=torch.channels_last)))
        se_e = se_e + ((pe - e) ** 2).sum(0)
        se_p = se_p + ((pp - p) ** 2).sum(0)
        se_s = se_s + ((ps - s) ** 2).sum(0)
        n += len(x)
    return {"expression_mse": float(se_e.mean() / n), "pose_mse": float(se_p.mean() / n),
            "shape_mse": float(se_s.mean() / n),
            "expression_mse_per_component": (se_e / n).round(5).tolist()}


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _atomic_save(state: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(epochs, [r["train_loss"] for r in history], "o-", label="train (augmented)")
    ax[0].plot(epochs, [r["val_loss"] for r in history], "o-", label="validation")
    ax[0].set_xlabel("epoch"), ax[0].set_ylabel("loss (whitened L2)"), ax[0].legend(), ax[0].grid(alpha=.3)
    ax[1].plot(epochs, [r["val_expression_mse"] for r in history], "o-", label="expression")
    ax[1].plot(epochs, [r["val_pose_mse"] for r in history], "o-", label="pose")
    ax[1].plot(epochs, [r["val_shape_mse"] for r in history], "o-", label="shape")
    ax[1].set_xlabel("epoch"), ax[1].set_ylabel("validation MSE (whitened)"), ax[1].legend(), ax[1].grid(alpha=.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)

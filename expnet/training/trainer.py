"""``expnet train``: the paper's recipe on labels from ``expnet label``, with checkpoints and resume.

Default recipe (the paper's): L2 loss, SGD with momentum 0.9, weight decay 5e-4, batch 144,
learning rate 1e-3 divided by 10 whenever the validation loss stops improving, dataset mean image
subtracted. Added for robustness where landmarks fail: degraded-input augmentation from the
full-resolution crop (see :mod:`expnet.training.data`), box jitter, mirrored samples.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from expnet.detection.crop import ENLARGE
from expnet.face.extra_basis import extend, load_extra
from expnet.face.model import FaceModel
from expnet.face.pose import rotation_angle
from expnet.inference.targets import TargetCoder
from expnet.io.atomic import atomic_path, write_text
from expnet.io.figures import pyplot, save_figure
from expnet.splits import lfw_validation_identities
from expnet.teacher.fitting import LandmarkFitter
from expnet.training.checkpoint import load_checkpoint
from expnet.training.config import TrainConfig, encoding_of
from expnet.training.data import Augment, SampleSet, build_samples, centre_affines, make_batch
from expnet.training.losses import PoseLoss
from expnet.training.network import ExpNetCNN, NetConfig, count_macs
from expnet.training.sunglasses import GlassesFrame


def _split(samples: SampleSet, held: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Identity-disjoint: validation identities (and their mirrored copies) are never trained on."""
    is_val = np.isin(samples.identity, sorted(held))
    return np.flatnonzero(~is_val & ~samples.flipped), np.flatnonzero(is_val & ~samples.flipped)


@dataclass
class _Run:
    """What one training run works with, assembled before the first epoch."""

    net: ExpNetCNN
    net_config: NetConfig
    coder: TargetCoder
    pose_loss: PoseLoss
    optimizer: torch.optim.Optimizer
    scheduler: object
    samples: SampleSet
    train_idx: np.ndarray
    val_idx: np.ndarray
    start_epoch: int = 0
    best: float = float("inf")
    history: list = field(default_factory=list)


class Trainer:
    """Trains the network on label files: ``Trainer(TrainConfig(labels=[...])).run()``.

    A run resumes from ``<out>/last.pt`` when it exists (with the same recipe), writes
    ``best.pt``, ``last.pt``, ``log.csv`` and ``curves.png`` after every epoch, and returns a
    summary dict.
    """

    def __init__(self, config: TrainConfig, progress: bool = True):
        self.config = config
        self.progress = progress
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {config.device}: torch sees no CUDA device here (torch.cuda.is_available() "
                             "is False); train with --device cpu, the same recipe")
        self.device = torch.device(config.device)
        self.model = FaceModel.load()
        # With extra components the labels' expression_extra are regressed after the ten.
        self.extra = load_extra(config.extra) if config.extra else None
        self.fit_model = self.model.landmarks if self.extra is None else extend(self.model.landmarks, self.extra)

    # -- data -----------------------------------------------------------------------------------
    def samples(self) -> SampleSet:
        """Training crops and labels of the label files, cached by their paths and times."""
        c = self.config
        key = {"format": 2, "labels": [[str(Path(p).resolve()), os.path.getmtime(p)] for p in c.labels],
               "input_size": c.input_size, **({"extra": self.extra.version} if self.extra else {}),
               **({"enlarge": c.enlarge} if c.enlarge != ENLARGE else {})}
        digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:12]
        cache = Path(c.cache) / f"samples-{c.input_size}-{digest}.npz"
        meta = cache.with_suffix(".json")
        if cache.exists() and meta.exists() and json.loads(meta.read_text()) == key:
            return SampleSet.load(cache)
        fitter = LandmarkFitter(self.fit_model)
        samples = build_samples(c.labels, c.input_size, fitter, self.progress, self.extra, c.enlarge)
        samples.save(cache)
        write_text(meta, json.dumps(key))
        return samples

    def _held_out(self) -> set[str]:
        c = self.config
        return set(Path(c.val_identities).read_text().split()) if c.val_identities else lfw_validation_identities()

    # -- set-up ---------------------------------------------------------------------------------
    def _network(self, samples: SampleSet, train_idx: np.ndarray) -> tuple[ExpNetCNN, NetConfig, TargetCoder,
                                                                          PoseLoss]:
        """A fresh network with the training set's mean image, the target coding whose pose
        statistics come from the training labels, and the pose loss."""
        c = self.config
        encoding = encoding_of(c.pose_loss)
        coder0 = TargetCoder.from_model(self.fit_model, pose_encoding=encoding)
        defaults = NetConfig(input_size=c.input_size, n_expression=self.fit_model.n_expression,
                             n_shape=self.model.n_shape, n_pose=coder0.n_pose).to_dict()
        net_cfg = NetConfig.from_dict({**defaults, **c.net})
        net = ExpNetCNN(net_cfg)
        # a spread-out sample of the training set (it may be ordered by source)
        some = train_idx[np.linspace(0, len(train_idx) - 1, min(len(train_idx), 4000)).astype(int)]
        centre, _, _, _ = make_batch(samples, some, c.input_size, coder0, None, None)
        net.mean_image.copy_(torch.from_numpy(centre.mean(0, keepdims=True)))
        raw = coder0.raw_pose(samples.rotation[train_idx], samples.scale[train_idx],
                              samples.translation[train_idx], centre_affines(samples, train_idx, c.input_size),
                              c.input_size)
        if not np.isfinite(raw).all():
            raise ValueError("non-finite pose labels in the training set; relabel with this version")
        coder = TargetCoder.from_model(self.fit_model, raw.mean(0), raw.std(0) + 1e-6, encoding)
        if c.init:  # a further stage: the earlier stage's weights, mean image and target coding
            init = load_checkpoint(c.init)
            if NetConfig.from_dict(init["net_config"]) != net_cfg:
                raise ValueError(f"{c.init} has another network configuration than this run")
            net.load_state_dict(init["model"])
            coder = TargetCoder.from_dict(init["coder"])
        pose_loss = PoseLoss(c.pose_loss, coder, self.fit_model)
        pose_loss.spread = pose_loss.spread_of((raw - coder.pose_mean) / coder.pose_std)
        # NHWC runs the depthwise convolutions about twice as fast on CPU (measured in training).
        return (net.to(self.device, memory_format=torch.channels_last), net_cfg, coder,
                pose_loss.to(self.device))

    def _optimizer(self, net: ExpNetCNN, n_train: int):
        c = self.config
        params = list(net.parameters())
        if c.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        if c.schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=c.plateau_patience,
                                                               min_lr=c.min_lr)
        else:  # cosine, stepped per batch, from lr to 0 over all the epochs
            total_steps = max(n_train // c.batch_size, 1) * c.epochs  # full batches only, as trained
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))
        return opt, sched

    def _setup(self) -> _Run:
        samples = self.samples()
        train_idx, val_idx = _split(samples, self._held_out())
        if len(train_idx) == 0 or len(val_idx) == 0:
            raise ValueError(f"empty split: {len(train_idx)} training and {len(val_idx)} validation samples")
        net, net_cfg, coder, pose_loss = self._network(samples, train_idx)
        opt, sched = self._optimizer(net, self._epoch_size(len(train_idx)))
        run = _Run(net, net_cfg, coder, pose_loss, opt, sched, samples, train_idx, val_idx)
        self._resume(run)
        return run

    def _resume(self, run: _Run) -> None:
        """Continue from ``last.pt`` when it was made by the same recipe."""
        last = self.out / "last.pt"
        if not last.exists():
            return
        state = load_checkpoint(last)
        saved = {**asdict(TrainConfig(labels=[])), **state["train_config"]}  # fields added since
        if _identity(saved) != _identity(asdict(self.config)):
            raise ValueError(f"{last} was made with another configuration; use a new --out to start afresh")
        run.net.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        run.start_epoch, run.best, run.history = state["epoch"], state["best"], state["history"]
        run.coder = TargetCoder.from_dict(state["coder"])
        spread = state.get("pose_spread", run.pose_loss.spread)
        run.pose_loss = PoseLoss(self.config.pose_loss, run.coder, self.fit_model, spread).to(self.device)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> dict:
        """Train until ``epochs``, the learning-rate floor (plateau) or ``max_minutes``; returns
        the number of epochs, best validation loss, network size, sample counts and seconds."""
        c = self.config
        torch.manual_seed(c.seed)
        run = self._setup()
        rng = np.random.default_rng(c.seed + run.start_epoch)
        run_start = time.perf_counter()
        for epoch in range(run.start_epoch, c.epochs):
            lr_floor = c.schedule == "plateau" and run.optimizer.param_groups[0]["lr"] < c.min_lr * 1.01
            if (lr_floor and epoch > run.start_epoch) or (
                    c.max_minutes and (time.perf_counter() - run_start) / 60 > c.max_minutes):
                break
            t0 = time.perf_counter()
            train_loss = self._train_epoch(run, epoch, rng)
            self._end_epoch(run, epoch, train_loss, time.perf_counter() - t0)
        return {"epochs": len(run.history), "best_val_loss": run.best, "macs": count_macs(run.net),
                "params": sum(p.numel() for p in run.net.parameters()),
                "train_samples": int(len(run.train_idx)), "val_samples": int(len(run.val_idx)),
                "seconds": float(sum(r["seconds"] for r in run.history))}

    def _epoch_size(self, n_train: int) -> int:
        return int(self.config.epoch_samples) or n_train

    def _epoch_order(self, run: _Run, rng: np.random.Generator) -> np.ndarray:
        """The epoch's samples: the whole training set once, or ``epoch_samples`` drawn from each
        label file in proportion to ``label_weights`` (without replacement while a file lasts)."""
        c, idx = self.config, run.train_idx
        if c.label_weights is None and not c.epoch_samples:
            return rng.permutation(idx)
        groups = run.samples.group[idx]
        n_files = len(c.labels)
        weights = np.asarray(c.label_weights if c.label_weights is not None
                             else np.bincount(groups, minlength=n_files), dtype=np.float64)
        present = np.array([np.any(groups == k) for k in range(n_files)])
        weights = np.where(present, weights, 0.0)  # a file with no training rows (validation only)
        counts = np.round(self._epoch_size(len(idx)) * weights / weights.sum()).astype(int)
        parts = [rng.choice(idx[groups == k], m, replace=m > np.sum(groups == k))
                 for k, m in enumerate(counts) if m > 0]
        return rng.permutation(np.concatenate(parts))

    def _epoch_batches(self, run: _Run, rng: np.random.Generator) -> list[np.ndarray]:
        order = self._epoch_order(run, rng)
        if self.config.augment:  # horizontal flip: the mirrored twin, whose labels were refitted
            flip = (rng.random(len(order)) < 0.5) & ~run.samples.profiled[order]
            order[flip] = run.samples.mirror_of(order[flip])
        b = self.config.batch_size
        return [order[i:i + b] for i in range(0, len(order) - b + 1, b)]

    def _train_epoch(self, run: _Run, epoch: int, rng: np.random.Generator) -> float:
        """One pass over the training set; returns the mean training loss."""
        c = self.config
        run.net.train()
        batches = self._epoch_batches(run, rng)
        seeds = rng.integers(0, 2**31, len(batches))
        glasses = GlassesFrame.from_landmarks(self.model.landmarks.vertices()) if c.sunglasses > 0 else None
        augment = Augment(p_fill=c.fill_black, p_occlude=c.occlude, p_glasses=c.sunglasses,
                          glasses=glasses) if c.augment else None

        def prepare(k: int):
            return make_batch(run.samples, batches[k], c.input_size, run.coder,
                              np.random.default_rng(seeds[k]), augment)

        total, count = 0.0, 0
        bar = tqdm(total=len(batches) * c.batch_size, desc=f"epoch {epoch + 1}/{c.epochs}", unit="img",
                   disable=not self.progress)
        with ThreadPoolExecutor(1) as pool:  # prepares the next batch while this one trains
            pending = pool.submit(prepare, 0) if batches else None
            for k in range(len(batches)):
                x, e, p, s = pending.result()
                if k + 1 < len(batches):
                    pending = pool.submit(prepare, k + 1)
                loss = self._step(run, x, e, p, s)
                total += loss * len(x)
                count += len(x)
                bar.update(len(x))
                bar.set_postfix(loss=f"{total / count:.4f}")
        bar.close()
        return total / max(count, 1)

    def _step(self, run: _Run, x, e, p, s) -> float:
        w_exp, w_pose, w_shape = self.config.loss_weights
        dev = self.device
        pe, pp, ps = run.net(torch.from_numpy(x).to(dev, memory_format=torch.channels_last))
        loss = (w_exp * ((pe - torch.from_numpy(e).to(dev)) ** 2).mean()
                + w_pose * run.pose_loss(pp, torch.from_numpy(p).to(dev))
                + w_shape * ((ps - torch.from_numpy(s).to(dev)) ** 2).mean())
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        if self.config.schedule == "cosine":
            run.scheduler.step()
        return float(loss.detach())

    def _end_epoch(self, run: _Run, epoch: int, train_loss: float, seconds: float) -> None:
        """Validate, step the plateau rule, log, checkpoint and plot."""
        c = self.config
        w_exp, w_pose, w_shape = c.loss_weights
        val = evaluate_split(run.net, run.samples, run.val_idx, run.coder, c.input_size, device=self.device,
                             pose_loss=run.pose_loss)
        val_loss = w_exp * val["expression_mse"] + w_pose * val["pose_loss"] + w_shape * val["shape_mse"]
        if c.schedule == "plateau":
            run.scheduler.step(val_loss)
        per_component = " ".join(f"{v:.4f}" for v in val["expression_mse_per_component"])
        row = {"epoch": epoch + 1, "lr": run.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
               "val_loss": val_loss, **{f"val_{k}": v for k, v in val.items() if not isinstance(v, list)},
               "val_expression_mse_per_component": per_component, "seconds": seconds}
        run.history.append(row)
        _append_csv(self.out / "log.csv", row)
        weights = {k: v.detach().cpu() for k, v in run.net.state_dict().items()}  # loads anywhere
        state = {"model": weights, "optimizer": run.optimizer.state_dict(),
                 "scheduler": run.scheduler.state_dict(), "epoch": epoch + 1, "best": min(run.best, val_loss),
                 "history": run.history, "train_config": asdict(c), "net_config": run.net_config.to_dict(),
                 "coder": run.coder.to_dict(), "pose_spread": run.pose_loss.spread}
        if val_loss < run.best:
            run.best = val_loss
            _atomic_save(state, self.out / "best.pt")
        _atomic_save(state, self.out / "last.pt")
        plot_curves(run.history, self.out / "curves.png")


def _identity(config: dict) -> dict:
    """The settings a resumed run must share (it may run longer, elsewhere, on other threads)."""
    skip = ("out", "epochs", "threads", "cache", "max_minutes", "device")
    if config.get("schedule") == "cosine":  # the cosine's length is part of the recipe
        skip = tuple(k for k in skip if k != "epochs")
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items() if k not in skip}


@torch.no_grad()
def evaluate_split(net: ExpNetCNN, samples: SampleSet, index: np.ndarray, coder: TargetCoder,
                   size: int, batch: int = 256, device: str | torch.device = "cpu",
                   pose_loss: PoseLoss | None = None) -> dict:
    """Mean squared error (whitened units) of each head on centred, undegraded crops, the pose
    loss' own value and the mean rotation error in degrees (geodesic)."""
    net.eval()
    se_e, se_p, se_s, n, pose_sum, degrees = 0.0, 0.0, 0.0, 0, 0.0, []
    for i in range(0, len(index), batch):
        x, e, p, s = make_batch(samples, index[i:i + batch], size, coder, None, None)
        x_t = torch.from_numpy(x).to(device, memory_format=torch.channels_last)
        out = net(x_t)
        if pose_loss is not None:
            pose_sum += float(pose_loss(out[1], torch.from_numpy(p).to(device))) * len(x)
        pe, pp, ps = (t.cpu().numpy() for t in out)
        se_e = se_e + ((pe - e) ** 2).sum(0)
        se_p = se_p + ((pp - p) ** 2).sum(0)
        se_s = se_s + ((ps - s) ** 2).sum(0)
        n += len(x)
        affine = np.zeros((len(x), 2, 3))
        affine[:, 0, 0] = affine[:, 1, 1] = 1.0  # the rotation does not depend on the crop
        degrees.append(rotation_angle(coder.decode_pose(pp, affine, size)[0], coder.decode_pose(p, affine, size)[0]))
    pose_mse = float(se_p.mean() / n)
    return {"expression_mse": float(se_e.mean() / n), "pose_mse": pose_mse,
            "pose_loss": pose_sum / n if pose_loss is not None else pose_mse,
            "pose_degrees": float(np.concatenate(degrees).mean()), "shape_mse": float(se_s.mean() / n),
            "expression_mse_per_component": (se_e / n).round(5).tolist()}


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _atomic_save(state: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def plot_curves(history: list[dict], path: Path) -> None:
    plt = pyplot()
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
    save_figure(fig, path, dpi=100)

"""``MODEL_CARD.md`` for an exported model: data, recipe, size, validation error and evaluation,
every figure read from the checkpoint, the network and the evaluation results."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from expnet.assets.basis import basis_name
from expnet.detection.boxes import BOX_CONVENTION
from expnet.detection.crop import ENLARGE
from expnet.inference.cropper import CROP_SCALES
from expnet.io.labels import MAX_RESIDUAL, is_fitted, iter_rows
from expnet.training.checkpoint import load_checkpoint
from expnet.training.network import ExpNetCNN, NetConfig, count_macs


def readings_note(meta: dict, others: list | None = None) -> str:
    """The card's sentence on a model whose pose is averaged over several readings ("" if not)."""
    readings = meta.get("pose_readings")
    if not readings:
        return ""
    networks = len({r["network"] for r in readings})
    names = ", ".join(f"`{o}`" for o in others or [])
    return (f"Pose is the mean of {len(readings)} readings, averaged in the graph: "
            + (f"{networks} pose networks (this model's and those of {names}: `expnet export --pose-average`)"
               if networks > 1 else "the pose network's")
            + (", each on the crop and on its mirror image (`--pose-mirror`)" if meta.get("pose_mirror") else "")
            + "; each reading counts once more per crop in the model's work.")


def write_model_card(checkpoint: str | os.PathLike, onnx_path: str | os.PathLike, run_dir: str | os.PathLike,
                     evaluation: dict | None = None, pose_evaluation: dict | None = None,
                     pose_from: str | os.PathLike | None = None, pose_average: list | None = None) -> Path:
    """Write MODEL_CARD.md beside the ONNX file and copy the training log and curves next to it.

    Parameters
    ----------
    checkpoint : path
        The checkpoint that was exported (its history, configs and the network's size).
    onnx_path : path
        The exported model; the card goes into its folder.
    run_dir : path
        The training run's folder (``log.csv``, ``curves.png``, ``last.pt``).
    evaluation : dict, optional
        ``results.json`` of ``expnet evaluate --report``, summarised in a table.
    pose_evaluation : dict, optional
        ``results.json`` of ``expnet evaluate pose --report``, summarised in a table.
    pose_from : path, optional
        The pose network's checkpoint of a two-network model (its recipe gets a section, its log
        and curves are copied as ``pose_training_log.csv`` and ``pose_training_curves.png``).
    pose_average : list of paths, optional
        The models whose pose networks the model's pose is averaged with (their card sections and
        logs are carried over).

    Returns
    -------
    Path of the card.
    """

    state = load_checkpoint(checkpoint)
    onnx_path, run_dir = Path(onnx_path), Path(run_dir)
    folder = onnx_path.parent
    for name, target in (("log.csv", "training_log.csv"), ("curves.png", "training_curves.png")):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, folder / target)
    best = min(state["history"], key=lambda r: r["val_loss"])
    last = run_dir / "last.pt"  # the whole run's history (the best checkpoint may be older)
    hist = load_checkpoint(last)["history"] if last.exists() else state["history"]
    cfg = state["train_config"]
    net_cfg = NetConfig.from_dict(state["net_config"])
    net = ExpNetCNN(net_cfg)
    params = sum(p.numel() for p in net.parameters())
    per_comp = best["val_expression_mse_per_component"].split()
    schedule = (f"cosine to 0 over {cfg['epochs']} epochs, stepped per batch"
                if cfg.get("schedule") == "cosine" else "divided by 10 when the validation loss stops improving")
    from expnet.inference.predictor import read_metadata
    _, meta = read_metadata(onnx_path)  # the graph's crop (a two-network model may take a wider one)
    lines = [
        "# expnet model card", "",
        f"File: `{onnx_path.name}` ({onnx_path.stat().st_size / 1e6:.2f} MB). Input: grey face crop "
        f"{meta['net_config']['input_size']} px ({BOX_CONVENTION}-convention box, squared, enlarged "
        f"{meta['crop']['enlarge']:g}x), "
        f"values 0-255. Outputs: whitened expression ({net_cfg.n_expression}), pose ({meta['net_config']['n_pose']}, "
        f"crop-relative), shape ({net_cfg.n_shape}); basis {basis_name(net_cfg.n_shape, net_cfg.n_expression)}; "
        "`expnet.ExpNet` decodes them.", "",
        f"Network: depthwise-separable residual CNN, {params / 1e6:.2f} M parameters, "
        f"{count_macs(net) / 1e6:.1f} M multiply-adds per crop (`expnet.ExpNet` averages {len(CROP_SCALES)} crop "
        f"sizes per face; stem {net.config.stem}, stage widths "
        f"{'-'.join(map(str, net.config.widths))}, blocks per stage {'-'.join(map(str, net.config.depths))}).", "",
        "## Data and labels", "",
        "Trained only on labels made by `expnet label` (dlib 68 landmarks + the bounded, prior-penalised "
        "fit with per-identity shape pooling) and on views that `expnet profile` made from such labels "
        "(face profiling: the labelled face turned to a new pose and rendered, its label exact), never on "
        "emotion labels: " + ", ".join(f"`{p}`{_rows(p)}" for p in cfg["labels"])
        + f" (rows with a fit residual up to {MAX_RESIDUAL} inter-ocular distances), each image also mirrored with "
        "refitted labels (profiled views are not mirrored). lfw-expressions identities listed in "
        "`expnet/splits/` are held out for validation and evaluation.", "",
        "## Recipe", "",
        f"`expnet train` with optimizer {cfg['optimizer']}, learning rate {cfg['lr']} ({schedule}), "
        f"weight decay {cfg['weight_decay']}, batch {cfg['batch_size']}, "
        f"L2 loss on whitened targets (weights expression/pose/shape {cfg['loss_weights']}; pose loss "
        f"`{cfg.get('pose_loss', 'euler')}`), mean image subtracted, degraded-input augmentation "
        f"{'on' if cfg['augment'] else 'off'}, seed {cfg['seed']}"
        + (f", label-file shares {list(cfg['label_weights'])}" if cfg.get("label_weights") else "")
        + (f", {cfg['epoch_samples']:,} samples an epoch" if cfg.get("epoch_samples") else "") + ".",
        f"Epochs run: {len(hist)}; wall time {sum(r['seconds'] for r in hist) / 60:.1f} min on device "
        f"`{cfg.get('device', 'cpu')}` (this project's 2-core machine has no GPU). Shipped: the best epoch, "
        f"{best['epoch']} (validation loss {best['val_loss']:.4f}).", "",
        "Validation mean squared error per expression coefficient (whitened units, centred crops; "
        "predicting the training mean scores the label variance):", "",
        "| coefficient | " + " | ".join(str(i) for i in range(len(per_comp))) + " |",
        "|---|" + "---|" * len(per_comp),
        "| MSE | " + " | ".join(per_comp) + " |", "",
        f"Validation MSE: expression {best['val_expression_mse']:.4f}, pose {best['val_pose_mse']:.4f}, "
        f"shape {best['val_shape_mse']:.4f}.", "",
        "Training log: `training_log.csv`; curves: `training_curves.png`.", ""]
    if meta.get("pose_readings"):
        lines[2] += " " + readings_note(meta, pose_average)
    if pose_from:
        lines[2] = lines[2].replace("`expnet.ExpNet` decodes them.", "`expnet.ExpNet` decodes them. Two networks "
                                    "in one graph: expression and shape from the first, pose from the second.")
        lines += pose_network_section(Path(pose_from), folder)
    lines += [line for k, other in enumerate(pose_average or [], 2) for line in _other_pose_network(other, k, folder)]
    if evaluation:
        lines += ["## Evaluation", "", evaluation_table(evaluation), ""]
    if pose_evaluation:
        lines += ["## Head pose", "", pose_table(pose_evaluation), ""]
    card = folder / "MODEL_CARD.md"
    card.write_text("\n".join(lines) + "\n")
    return card


def write_derived_card(source: str | os.PathLike, onnx_path: str | os.PathLike, evaluation: dict | None = None,
                       pose_evaluation: dict | None = None, pose_average: list | None = None,
                       pose_from: str | os.PathLike | None = None) -> Path:
    """The card of a model written again from ``source`` (``expnet export MODEL.onnx --pose-from
    ... --pose-average ... --pose-mirror``): ``source``'s card and training logs carried over, its
    file line updated, its pose network's section replaced by that of the checkpoint ``pose_from``,
    a note on the pose readings and the sections of the ``pose_average`` models' pose networks
    added, its evaluation tables replaced by those of ``evaluation`` and ``pose_evaluation`` where
    given (a new pose network drops the old tables: they were not its)."""
    from expnet.inference.predictor import read_metadata
    source, onnx_path = Path(source), Path(onnx_path)
    original = source.parent / "MODEL_CARD.md"
    if not original.exists():
        raise FileNotFoundError(f"{source} has no MODEL_CARD.md beside it to carry over")
    folder = onnx_path.parent
    if folder.resolve() != source.parent.resolve():
        carried = ("training_log.csv", "training_curves.png") + (
            () if pose_from else ("pose_training_log.csv", "pose_training_curves.png"))
        for name in carried:
            if (source.parent / name).exists():
                shutil.copy(source.parent / name, folder / name)
    head, *sections = original.read_text().split("\n## ")
    size = onnx_path.stat().st_size / 1e6
    head = re.sub(r"File: `[^`]*` \([0-9.]+ MB\)", f"File: `{onnx_path.name}` ({size:.2f} MB)", head, count=1)
    note = readings_note(read_metadata(onnx_path)[1], pose_average)
    if pose_from and "Two networks in one graph" not in head:
        head = head.replace("`expnet.ExpNet` decodes them.", "`expnet.ExpNet` decodes them. Two networks in one "
                            "graph: expression and shape from the first, pose from the second.", 1)
    replaced_pose = f", its pose network replaced by `{pose_from}`" if pose_from else ""
    written = f"Written from `{source}` by `expnet export`{replaced_pose}."
    head = head.rstrip("\n") + "\n\n" + " ".join(filter(None, [note, written])) + "\n"
    replaced = {"Evaluation": evaluation and evaluation_table(evaluation),
                "Head pose": pose_evaluation and pose_table(pose_evaluation)}
    dropped = {"Pose network", "Evaluation", "Head pose"} if pose_from else set()
    kept = [s.rstrip("\n") for s in sections
            if not replaced.get(title := s.split("\n", 1)[0].strip()) and title not in dropped]
    if pose_from:
        kept.append("\n".join(pose_network_section(Path(pose_from), folder)[:-1]).removeprefix("## "))
    kept += ["\n".join(_other_pose_network(other, k, folder)[:-1]).removeprefix("## ")
             for k, other in enumerate(pose_average or [], 2)]
    kept += [f"{title}\n\n{table}" for title, table in replaced.items() if table]
    card = folder / "MODEL_CARD.md"
    card.write_text("\n## ".join([head.rstrip("\n") + "\n"] + [s + "\n" for s in kept]))
    return card


def _other_pose_network(model: str | os.PathLike, k: int, folder: Path) -> list[str]:
    """Card lines on the pose network of another model averaged in (its card's section on it, its
    log and curves copied as ``pose_training_log_K.csv`` and ``pose_training_curves_K.png``)."""
    model = Path(model)
    card = model.parent / "MODEL_CARD.md"
    if not card.exists():
        raise FileNotFoundError(f"{model} has no MODEL_CARD.md beside it to describe its pose network")
    sections = {s.split("\n", 1)[0].strip(): s for s in card.read_text().split("\n## ")[1:]}
    # a two-network model's card has a section on its pose network, a one-network model's the recipe
    prefix = "pose_" if "Pose network" in sections else ""
    section = sections.get("Pose network") or sections.get("Recipe")
    if section is None:
        raise ValueError(f"{card} describes no pose network (no Pose network or Recipe section)")
    for name in ("training_log.csv", "training_curves.png"):
        if (model.parent / (prefix + name)).exists():
            stem, suffix = name.split(".")
            target = f"pose_{stem}_{k}.{suffix}"
            shutil.copy(model.parent / (prefix + name), folder / target)
            section = section.replace(f"`{prefix}{name}`", f"`{target}`")
    body = section.split("\n", 1)[1].strip("\n")
    return [f"## Pose network {k} (from `{model}`)", "", body, ""]


def pose_network_section(checkpoint: Path, folder: Path) -> list[str]:
    """The card's section on a two-network model's pose network (its log and curves copied)."""
    state = load_checkpoint(checkpoint)
    run_dir = checkpoint.parent
    for name, target in (("log.csv", "pose_training_log.csv"), ("curves.png", "pose_training_curves.png")):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, folder / target)
    last = run_dir / "last.pt"
    hist = load_checkpoint(last)["history"] if last.exists() else state["history"]
    best = min(state["history"], key=lambda r: r["val_loss"])
    cfg, net_cfg = state["train_config"], NetConfig.from_dict(state["net_config"])
    net = ExpNetCNN(net_cfg)
    enlarge = float(cfg.get("enlarge", ENLARGE))
    return ["## Pose network", "",
            f"Input: the model's crop (the box enlarged {enlarge:g}x) average-pooled to {net_cfg.input_size} px; "
            f"the expression network takes its centre (enlarged {ENLARGE:g}x). Network: "
            f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters, {count_macs(net) / 1e6:.1f} M "
            f"multiply-adds per crop (stem {net_cfg.stem}, stage widths {'-'.join(map(str, net_cfg.widths))}). "
            f"Pose output: {state['coder'].get('pose_encoding', 'euler')} rotation encoding, log size and "
            "translation in the crop.", "",
            "Trained by `expnet train` on " + ", ".join(f"`{p}`{_rows(p)}" for p in cfg["labels"])
            + (f" with shares {list(cfg['label_weights'])}" if cfg.get("label_weights") else "")
            + (f", {cfg['epoch_samples']:,} samples an epoch" if cfg.get("epoch_samples") else "")
            + _crop_changes(cfg)
            + f"; pose loss `{cfg.get('pose_loss', 'euler')}`, loss weights {cfg['loss_weights']}, optimizer "
            f"{cfg['optimizer']}, learning rate {cfg['lr']} ({cfg.get('schedule', 'plateau')}), batch "
            f"{cfg['batch_size']}, seed {cfg['seed']}. Epochs run: {len(hist)}; wall time "
            f"{sum(r['seconds'] for r in hist) / 60:.1f} min on `{cfg.get('device', 'cpu')}`. Shipped: epoch "
            f"{best['epoch']}" + (f", validation rotation error {best['val_pose_degrees']:.2f} degrees (geodesic, "
                                  "real and profiled held-out faces)" if "val_pose_degrees" in best else "") + ".",
            "", "Training log: `pose_training_log.csv`; curves: `pose_training_curves.png`.", ""]


def _crop_changes(cfg: dict) -> str:
    """``, ...`` naming the training's changes to the crops beyond the usual degradations (its
    --fill-black, --occlude and --sunglasses shares), or ``""``."""
    changes = {"fill_black": "black canvas filled from other crops (`--fill-black`)",
               "occlude": "a flat grey band (`--occlude`)",
               "sunglasses": "dark glasses drawn with the pose (`--sunglasses`)"}
    return "".join(f", {what} on {cfg[key]:.0%} of the crops" for key, what in changes.items() if cfg.get(key))


def _rows(path: str) -> str:
    """`` (N rows, M of them profiled views)`` for a label file that is still there, else ``""``."""
    try:
        ok = [r for r in iter_rows(path) if is_fitted(r)]
    except (OSError, ValueError):
        return ""
    profiled = sum(1 for r in ok if r.get("profiled_from"))
    return f" ({len(ok):,} fitted rows" + (f", {profiled:,} of them profiled views)" if profiled else ")")


def pose_table(results: dict) -> str:
    """Markdown MAE table from an ``expnet evaluate pose --report`` results.json."""
    lines = [f"Mean absolute error (degrees), from `{results['meta'].get('command', 'expnet evaluate pose')}`.", "",
             "| method | boxes | found | yaw | pitch | roll | mean | " + " | ".join(
                 f"abs(yaw) {k}" for k in results["scores"][0]["mae_by_yaw"]) + " | rotation (geodesic) |",
             "|---|---|---|---|---|---|---|" + "---|" * (len(results["scores"][0]["mae_by_yaw"]) + 1)]
    for s in results["scores"]:
        m = s["mae"]
        bins = " | ".join(f"{v['mean']:.1f}" for v in s["mae_by_yaw"].values())
        rotation = s.get("rotation", {}).get("mean")  # reports made before the geodesic error carry none
        lines.append(f"| {s['method']} | {s['boxes']} | {s['found']}/{s['images']} | {m['yaw']:.1f} | {m['pitch']:.1f} "
                     f"| {m['roll']:.1f} | {m['mean']:.1f} | {bins} | "
                     + ("" if rotation is None else f"{rotation:.1f}") + " |")
    return "\n".join(lines)


def evaluation_table(results: dict, scales=("1.0", "0.2")) -> str:
    """Markdown accuracy table from an ``expnet evaluate --report`` results.json."""
    lines = [f"5-NN emotion accuracy (%), from `{results['meta'].get('command', 'expnet evaluate')}`; "
             "full report with confusion matrices: `reports/emotion/report.md`.", "",
             "| dataset | method | " + " | ".join(f"scale {s}" for s in scales) + " |",
             "|---|---|" + "---|" * len(scales)]
    for dataset, by_method in results["results"].items():
        for method, by_scale in by_method.items():
            cells = [f"{100 * by_scale[s]['accuracy']:.1f}" if s in by_scale else "" for s in scales]
            lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

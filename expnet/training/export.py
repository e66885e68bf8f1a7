"""``expnet export``: a training checkpoint -> a self-describing ONNX model.

The graph takes raw grey crops ``pixels`` (B, 1, S, S) in 0-255 and returns whitened
``expression``, ``pose`` and ``shape``; everything needed to decode them (network config, target
statistics, basis name, crop convention) is stored as JSON in the model's metadata under
``expnet``. With a second checkpoint for pose (``pose_from``), the graph holds both networks
(:class:`expnet.training.network.SplitNetwork`) and the metadata's ``networks`` says which output
comes from which; every consumer runs it as it runs one network. An exported model's pose network
can also be replaced by a new pose checkpoint (:func:`replace_pose`), its expression network kept
as it is: a new pose recipe is joined to a shipped expression network whose checkpoint is gone.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from expnet.assets.basis import basis_name
from expnet.detection.boxes import BOX_CONVENTION
from expnet.detection.crop import ENLARGE
from expnet.inference.predictor import METADATA_KEY, model_networks
from expnet.io.atomic import atomic_path
from expnet.training.checkpoint import load_checkpoint


def export_model(source: str | os.PathLike, path: str | os.PathLike, pose_from: str | os.PathLike | None = None,
                 pose_average: list[str | os.PathLike] | None = None, pose_mirror: bool = False, card: bool = False,
                 evaluation: dict | None = None, pose_evaluation: dict | None = None) -> list[Path]:
    """``expnet export``: a checkpoint (or an exported model, to average its pose over more
    readings) -> an ONNX model, with its card, training logs and curves beside it when ``card``.

    Parameters
    ----------
    source : path
        A checkpoint of ``expnet train``, or an ``.onnx`` of ``expnet export`` to write again with
        ``pose_from``, ``pose_average`` or ``pose_mirror`` (its card and logs are carried over with
        ``card``).
    path : path
        The ONNX file to write.
    pose_from : path, optional
        As in :func:`export_onnx`; for an ``.onnx`` source, as in :func:`replace_pose`.
    pose_average : list of paths, optional
        Models (``.onnx``) whose pose networks also read each crop; the model outputs the mean
        pose (:mod:`expnet.training.pose_average`).
    pose_mirror : bool
        Every pose network also reads each crop's mirror image.
    card : bool
        Also write ``MODEL_CARD.md`` (summarising ``evaluation`` and ``pose_evaluation``, the
        ``results.json`` of ``expnet evaluate`` and ``expnet evaluate pose``).

    Returns
    -------
    The files written: the model, then its card.
    """
    # imported where needed: an exported model is written again with onnx alone, no torch
    from expnet.training.pose_average import average_pose
    averaged = bool(pose_average) or pose_mirror
    if Path(source).suffix == ".onnx":
        if not (pose_from or averaged):
            raise ValueError("an exported model (.onnx) can only be written again with --pose-from, --pose-average "
                             "or --pose-mirror")
        model = replace_pose(source, pose_from, path) if pose_from else Path(source)
        if averaged:
            model = average_pose(model, path, pose_average, pose_mirror)
        if not card:
            return [model]
        from expnet.training.model_card import write_derived_card
        return [model, write_derived_card(source, model, evaluation, pose_evaluation, pose_average, pose_from)]
    model = export_onnx(source, path, pose_from=pose_from)
    if averaged:
        average_pose(model, model, pose_average, pose_mirror)
    if not card:
        return [model]
    from expnet.training.model_card import write_model_card
    written = write_model_card(source, model, Path(source).parent, evaluation, pose_evaluation, pose_from,
                               pose_average)
    return [model, written]


def export_onnx(checkpoint: str | os.PathLike, path: str | os.PathLike, extra: dict | None = None,
                pose_from: str | os.PathLike | None = None) -> Path:
    """Export a checkpoint (or an expression checkpoint with a pose checkpoint) to ONNX.

    Parameters
    ----------
    checkpoint : path
        A checkpoint of ``expnet train``: every output, or expression and shape with ``pose_from``.
    path : path
        The ONNX file to write (atomically).
    extra : dict, optional
        More metadata.
    pose_from : path, optional
        A checkpoint whose pose output replaces the first one's (a pose network).
    """
    from expnet.training.network import SplitNetwork

    state = load_checkpoint(checkpoint)
    net = _load_net(state)
    pose_state = load_checkpoint(pose_from) if pose_from else None
    graph = (SplitNetwork(net, _load_net(pose_state), _enlarge(state), _enlarge(pose_state)).eval() if pose_state
             else net)
    path = Path(path)
    with atomic_path(path) as tmp:
        _trace(graph, graph.input_size if pose_state else net.config.input_size, tmp)
        _add_metadata(tmp, net.config, state, extra, pose_state, checkpoint, pose_from)
    return path


def replace_pose(model: str | os.PathLike, pose_from: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write a copy of the exported ``model`` whose pose comes from the checkpoint ``pose_from``.

    The model's expression and shape (its first network, weights untouched) are kept; the nodes
    only its pose depended on (a pose network, or the pose head of a one-network model) are
    dropped, and the new pose network joins the graph as :func:`export_onnx` would have placed it
    beside the expression network's checkpoint.

    Parameters
    ----------
    model : path
        A model of ``expnet export`` whose pose is read by one network (not averaged).
    pose_from : path
        A pose network's checkpoint of ``expnet train``; its crop must be the model's.
    path : path
        The ONNX file to write (atomically; it may be ``model`` itself).
    """
    import tempfile

    import onnx

    from expnet.training.network import ExpNetCNN, NetConfig, SplitNetwork
    from expnet.training.onnx_graph import INPUT, POSE, add_renamed, keep_only, model_metadata, save_model

    base = onnx.load(str(model))
    meta = model_metadata(base, model)
    if meta.get("pose_readings"):
        raise ValueError(f"{model} averages its pose over several readings: replace the pose network of the "
                         "model it was made from, then average again")
    first = model_networks(meta)[0]
    pose_state = load_checkpoint(pose_from)
    # the pose path exactly as export_onnx builds it; the expression network here is a stand-in of the
    # same configuration (only its input size and crop matter), its nodes are not kept
    expression_enlarge = float(first.get("enlarge", meta["crop"]["enlarge"]))
    split = SplitNetwork(ExpNetCNN(NetConfig.from_dict(first["net_config"])), _load_net(pose_state),
                         expression_enlarge, _enlarge(pose_state)).eval()
    size, enlarge = split.input_size, max(expression_enlarge, _enlarge(pose_state))
    if size != meta["net_config"]["input_size"] or abs(enlarge - meta["crop"]["enlarge"]) > 1e-9:
        raise ValueError(f"{pose_from} reads a crop enlarged {_enlarge(pose_state):g}x, which makes a {size} px "
                         f"input; {model} takes {meta['net_config']['input_size']} px enlarged "
                         f"{meta['crop']['enlarge']:g}x: its pose network can only be replaced by one of the same crop")
    with tempfile.TemporaryDirectory() as tmp:
        new = onnx.load(str(_trace(split, size, Path(tmp) / "pose.onnx")))
    graph = base.graph
    keep_only(graph, ("expression", "shape"), drop=POSE)
    add_renamed(graph, new.graph, POSE, lambda name: name if name in (INPUT, POSE) else "pose_network/" + name)
    for k, output in enumerate(graph.output):  # the pose output's width follows the new network's encoding
        if output.name == POSE:
            graph.output[k].CopyFrom(next(o for o in new.graph.output if o.name == POSE))
    for key in ("pose_mean", "pose_std", "pose_encoding"):  # pose decodes with the new network's statistics
        meta["coder"][key] = pose_state["coder"].get(key, "euler")
    meta["net_config"]["n_pose"] = pose_state["net_config"]["n_pose"]
    meta["networks"] = [{**first, "outputs": ["expression", "shape"]},
                        _network_entry(pose_state, pose_from, [POSE])]
    return save_model(base, meta, path)


def _trace(graph, size: int, path: Path) -> Path:
    """Trace a network (or a SplitNetwork) to ONNX: grey crops ``pixels`` (B, 1, size, size) in,
    ``expression``, ``pose`` and ``shape`` out, the batch dynamic."""
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(graph, (torch.zeros(2, 1, size, size),), str(path), input_names=["pixels"],
                          output_names=["expression", "pose", "shape"],
                          dynamic_axes={n: {0: "batch"} for n in ("pixels", "expression", "pose", "shape")},
                          opset_version=17, dynamo=False)
    return path


def _enlarge(state: dict) -> float:
    """The crop enlargement a checkpoint was trained with."""
    return float(state["train_config"].get("enlarge", ENLARGE))


def _load_net(state: dict):
    from expnet.training.network import ExpNetCNN, NetConfig
    net = ExpNetCNN(NetConfig.from_dict(state["net_config"]))
    net.load_state_dict(state["model"])
    return net.eval()


def _add_metadata(path: Path, cfg, state: dict, extra: dict | None, pose_state: dict | None = None,
                  checkpoint=None, pose_from=None) -> None:
    """Store what decoding needs (and the recipe) as JSON under ``expnet`` in the ONNX metadata."""
    import onnx
    model = onnx.load(str(path))
    extra_spec = state["train_config"].get("extra")
    n_extra = 0
    if extra_spec:
        from expnet.face.extra_basis import load_extra
        components = load_extra(extra_spec)
        n_extra = components.k
        # the components themselves (a few kB): renders and meshes of the model's predictions need them
        extra = {**(extra or {}), "extra": {"k": components.k, "version": components.version,
                                            "basis": components.basis.astype(np.float32).tolist(),
                                            "std": components.std.tolist(), "faces": components.faces}}
    coder = dict(state["coder"])
    net_config = cfg.to_dict()
    outputs = ["expression", "pose", "shape"]
    networks = [_network_entry(state, checkpoint, outputs)]
    enlarge = _enlarge(state)
    if pose_state is not None:  # pose decodes with the pose network's own statistics and encoding
        for key in ("pose_mean", "pose_std", "pose_encoding"):
            coder[key] = pose_state["coder"].get(key, "euler")
        net_config["n_pose"] = pose_state["net_config"]["n_pose"]
        # the graph takes the wider crop of the two (the expression network cuts its centre)
        enlarge = max(enlarge, _enlarge(pose_state))
        net_config["input_size"] = int(round(cfg.input_size * enlarge / _enlarge(state)))
        networks = [_network_entry(state, checkpoint, ["expression", "shape"]),
                    _network_entry(pose_state, pose_from, ["pose"])]
    meta = {"format": 1, "net_config": net_config, "coder": coder,
            "basis": basis_name(cfg.n_shape, cfg.n_expression - n_extra)
            + (f" + {n_extra} extra expression components" if n_extra else ""),
            "crop": {"enlarge": enlarge, "box_convention": BOX_CONVENTION, "input": "grey 0-255"},
            "epochs": state["epoch"], "train_config": state["train_config"], "networks": networks, **(extra or {})}
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    onnx.save(model, str(path))


def _network_entry(state: dict, checkpoint, outputs: list[str]) -> dict:
    """What one network of a model is: its outputs, configuration, recipe and size."""
    from expnet.training.network import ExpNetCNN, NetConfig, count_macs
    net = ExpNetCNN(NetConfig.from_dict(state["net_config"]))
    return {"outputs": outputs, "checkpoint": Path(checkpoint).name if checkpoint else None, "enlarge": _enlarge(state),
            "net_config": state["net_config"], "epochs": state["epoch"],
            "pose_encoding": state["coder"].get("pose_encoding", "euler"),
            "train_config": state["train_config"], "macs": count_macs(net),
            "params": sum(p.numel() for p in net.parameters())}

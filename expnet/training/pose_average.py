"""An exported model's pose averaged over several readings, in the graph (``expnet export
--pose-average OTHER.onnx ...`` and ``--pose-mirror``).

The readings: the model's own pose network on the crop; the pose networks of other models (seeds
of the same recipe: their errors are partly independent, so their mean is closer to the truth, as
for any ensemble); and, with ``mirror``, each of those on the crop's left-right mirror image,
mapped back with :meth:`expnet.inference.targets.TargetCoder.mirror_map`. Every reading is taken to
the first model's whitened targets and they are averaged there: the mean of nearby 6-D (or Euler)
encodings, which decoding turns back into a rotation. The expression network is left alone.

The result is an ordinary ``expnet export`` model (the same input and outputs), so every command
and any other ONNX runtime gets the averaged pose; its metadata lists the readings
(``pose_readings``) and the added networks (``networks``). A mirror reading shares its network's
weights; another model's pose network brings its own (1.6 MB for the shipped recipe's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.inference.predictor import model_networks
from expnet.inference.targets import TargetCoder
from expnet.training.onnx_graph import INPUT, POSE, add_renamed, ancestry, copy_nodes, model_metadata, save_model


@dataclass(frozen=True)
class Reading:
    """One pose reading of the averaged graph: the tensor it lands in and its map to the first
    model's whitened targets (``scale * reading + shift``)."""

    tensor: str
    network: int     # index into the metadata's networks
    mirror: bool
    scale: np.ndarray
    shift: np.ndarray


def average_pose(model: str | os.PathLike, path: str | os.PathLike, others: list[str | os.PathLike] | None = None,
                 mirror: bool = False) -> Path:
    """Write a copy of the ONNX ``model`` whose pose is the mean of several readings.

    Parameters
    ----------
    model : path
        A model of ``expnet export`` (one network or two); its expression and shape are kept.
    path : path
        The ONNX file to write (atomically; it may be ``model`` itself).
    others : list of paths, optional
        Models whose pose networks also read each crop (same input size, crop and pose encoding).
    mirror : bool
        Every pose network also reads the crop's mirror image.

    Returns
    -------
    Path of the written model.
    """
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("averaging a model's pose needs the onnx package: pip install onnx "
                          "(or expnet[train])") from exc

    others = list(others or [])
    if not others and not mirror:
        raise ValueError("nothing to average: give other models' pose networks or mirror=True")
    base = onnx.load(str(model))
    meta = model_metadata(base, model)
    if meta.get("pose_readings"):
        raise ValueError(f"{model} already averages its pose over several readings")
    graph = base.graph
    size = int(meta["net_config"]["input_size"])
    coder = TargetCoder.from_dict(meta["coder"])
    networks = model_networks(meta)
    pose_network = next(i for i, n in enumerate(networks) if POSE in n["outputs"])
    for node in graph.node:  # the model's own reading now lands in pose/0
        node.output[:] = ["pose/0" if o == POSE else o for o in node.output]
    readings = [Reading("pose/0", pose_network, False, *_to_base(coder, coder))]
    coders = [coder]  # each reading's target statistics
    for k, other in enumerate(others, 1):
        other_model = onnx.load(str(other))
        other_meta = model_metadata(other_model, other)
        _check_compatible(meta, other_meta, model, other)
        add_renamed(graph, other_model.graph, POSE, lambda name, k=k: name if name == INPUT else f"pose{k}/{name}")
        other_coder = TargetCoder.from_dict(other_meta["coder"])
        network = next(n for n in model_networks(other_meta) if POSE in n["outputs"])
        networks.append({**network, "outputs": [POSE], "source": Path(other).parent.name or str(other)})
        readings.append(Reading(f"pose{k}/{POSE}", len(networks) - 1, False, *_to_base(other_coder, coder)))
        coders.append(other_coder)
    if mirror:
        readings += [_add_mirror(graph, r, c, coder, size) for r, c in zip(list(readings), coders)]
    _add_mean(graph, readings)
    meta["networks"] = networks
    meta["pose_readings"] = [{"network": r.network, "mirror": r.mirror} for r in readings]
    meta["pose_mirror"] = mirror
    return save_model(base, meta, path)




def _check_compatible(meta: dict, other: dict, model, other_path) -> None:
    """Another model's pose network must read the same crop and encode pose the same way."""
    for what, get in (("input size", lambda m: m["net_config"]["input_size"]),
                      ("crop", lambda m: m["crop"].get("enlarge")),
                      ("pose encoding", lambda m: m["coder"].get("pose_encoding", "euler"))):
        if get(meta) != get(other):
            raise ValueError(f"{other_path} has another {what} than {model} ({get(other)} vs {get(meta)}): "
                             "its pose cannot be averaged with it")
    if other.get("pose_readings"):
        raise ValueError(f"{other_path} already averages several readings: give the models it was made from")


def _to_base(coder: TargetCoder, base: TargetCoder, mirror_map=None) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` taking whitened targets of ``coder`` (first through its mirror map
    ``(sign, offset)``, if given) to whitened targets of ``base``."""
    sign, offset = mirror_map if mirror_map is not None else (np.ones(coder.n_pose), np.zeros(coder.n_pose))
    ratio = coder.pose_std / base.pose_std
    return sign * ratio, (offset * coder.pose_std + coder.pose_mean - base.pose_mean) / base.pose_std








def _add_mirror(graph, reading: Reading, coder: TargetCoder, base: TargetCoder, size: int) -> Reading:
    """The reading's network once more, on the mirror image (its weights shared), mapped back."""
    from onnx import helper, numpy_helper
    flipped = "mirror/" + INPUT
    if flipped not in {o for n in graph.node for o in n.output}:
        constants = {"mirror/flip_start": [-1], "mirror/flip_end": [np.iinfo(np.int64).min],
                     "mirror/flip_axis": [3], "mirror/flip_step": [-1]}
        graph.initializer.extend(numpy_helper.from_array(np.array(v, np.int64), k) for k, v in constants.items())
        graph.node.append(helper.make_node("Slice", [INPUT, *constants], [flipped], name="mirror/flip"))
    nodes = ancestry(graph, reading.tensor)
    copied = {o for n in nodes for o in n.output} | {n.name for n in nodes} | {INPUT}  # weights stay shared

    def rename(name: str) -> str:
        return "mirror/" + name if name in copied else name
    graph.node.extend(copy_nodes(nodes, rename))
    scale, shift = _to_base(coder, base, coder.mirror_map(size))
    return Reading(rename(reading.tensor), reading.network, True, scale, shift)


def _add_mean(graph, readings: list[Reading]) -> None:
    """pose = mean over the readings of ``scale * reading + shift``."""
    from onnx import helper, numpy_helper
    n = len(readings)
    terms = []
    for k, r in enumerate(readings):
        weight = f"average/scale{k}"
        graph.initializer.append(numpy_helper.from_array((r.scale / n).astype(np.float32), weight))
        graph.node.append(helper.make_node("Mul", [r.tensor, weight], [f"average/term{k}"], name=f"average/term{k}"))
        terms.append(f"average/term{k}")
    shift = sum(r.shift for r in readings) / n
    graph.initializer.append(numpy_helper.from_array(shift.astype(np.float32), "average/shift"))
    graph.node.append(helper.make_node("Sum", terms, ["average/sum"], name="average/sum"))
    graph.node.append(helper.make_node("Add", ["average/sum", "average/shift"], [POSE], name="average/mean"))

"""The few edits of an exported model's ONNX graph that rewriting a model needs (averaging its
pose over more readings, replacing its pose network): reading its metadata, finding what a tensor
depends on, copying nodes under new names. Plain ``onnx``, no torch."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from expnet.inference.predictor import METADATA_KEY
from expnet.io.atomic import atomic_path

INPUT, POSE = "pixels", "pose"


def model_metadata(onnx_model, name) -> dict:
    """The ``expnet`` metadata of a loaded model of ``expnet export`` (ValueError if it is not one)."""
    for entry in onnx_model.metadata_props:
        if entry.key == METADATA_KEY:
            meta = json.loads(entry.value)
            graph = onnx_model.graph
            if [i.name for i in graph.input] != [INPUT] or POSE not in [o.name for o in graph.output]:
                break
            return meta
    raise ValueError(f"{name} is not a model of expnet export (its metadata, input {INPUT!r}, output {POSE!r})")


def save_model(onnx_model, meta: dict, path: str | os.PathLike) -> Path:
    """Write a rewritten model with its new ``expnet`` metadata, checked, atomically."""
    import onnx
    for entry in onnx_model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = json.dumps(meta)
    onnx.checker.check_model(onnx_model)
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save(onnx_model, str(tmp))
    return path


def ancestry(graph, output: str) -> list:
    """The nodes ``output`` depends on, in the graph's (topological) order."""
    nodes = list(graph.node)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    needed: set[int] = set()
    stack = [output]
    while stack:
        k = producer.get(stack.pop())
        if k is None or k in needed:
            continue
        needed.add(k)
        stack.extend(i for i in nodes[k].input if i)
    return [nodes[k] for k in sorted(needed)]


def copy_nodes(nodes: list, rename: Callable[[str], str]) -> list:
    """Copies of ``nodes`` with every input, output and node name passed through ``rename``."""
    from onnx import helper
    copies = []
    for n in nodes:
        copy = helper.make_node(n.op_type, [rename(i) if i else i for i in n.input], [rename(o) for o in n.output],
                                name=rename(n.name or n.output[0]), domain=n.domain)
        copy.attribute.extend(n.attribute)
        copies.append(copy)
    return copies


def add_renamed(graph, other, output: str, rename: Callable[[str], str]) -> None:
    """Add to ``graph`` the nodes of ``other`` that ``output`` depends on, and their weights, every
    name passed through ``rename``."""
    nodes = ancestry(other, output)
    used = {i for n in nodes for i in n.input}
    for init in other.initializer:
        if init.name in used:
            init.name = rename(init.name)
            graph.initializer.append(init)
    graph.node.extend(copy_nodes(nodes, rename))


def keep_only(graph, outputs: tuple[str, ...], drop: str) -> None:
    """Remove from ``graph`` every node and weight that none of ``outputs`` depends on; a kept node
    that also produces ``drop`` (one network's heads may come out of one node) leaves it unused
    under another name, so that a new producer of ``drop`` can be added."""
    import onnx

    # nodes are known by their outputs (SSA: each is produced once), not by their Python wrappers;
    # the kept ones are copied, as clearing the field frees the originals
    kept = {tuple(n.output) for out in outputs for n in ancestry(graph, out)}
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in graph.node if tuple(n.output) in kept]
    for node in nodes:
        node.output[:] = ["unused/" + o if o == drop else o for o in node.output]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    weights = [w for w in graph.initializer if w.name in used]
    del graph.initializer[:]
    graph.initializer.extend(weights)
    produced = {o for n in graph.node for o in n.output}
    values = [v for v in graph.value_info if v.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(values)

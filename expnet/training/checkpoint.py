"""Reading training checkpoints without running code from them.

A checkpoint holds tensors, numbers, strings and plain containers only. ``torch.load`` with
``weights_only=True`` refuses anything else (a pickled callable in a checkpoint someone hands a
user would otherwise run on load), so a tampered file fails with a clear error instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely."""


def load_checkpoint(path: str | os.PathLike) -> dict:
    """The state dict of an ``expnet train`` checkpoint, loaded with weights only.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        The file is not a checkpoint, or it holds objects other than tensors and plain data.
    """
    import pickle

    import torch
    path = Path(path)
    # numpy scalars (a learning rate computed with numpy) are plain data too: allowed by name.
    allowed = [np.dtype, type(np.dtype(np.float64)), type(np.dtype(np.float32)), type(np.dtype(np.int64)),
               np.float64().__reduce__()[0]]
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path} holds objects other than weights and plain data, refused "
                              f"(checkpoints load with weights only): {str(exc).splitlines()[0]}") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint: {exc}") from None
    if not isinstance(state, dict) or "model" not in state or "net_config" not in state:
        raise CheckpointError(f"{path} is not an expnet training checkpoint")
    return state

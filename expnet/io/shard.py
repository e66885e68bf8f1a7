"""``--shard I/N``: one of N disjoint parts of a job, for batch schedulers (Slurm arrays, Kubernetes
jobs) instead of a cluster engine.

An input belongs to shard ``crc32(key) mod N``: the same input always lands in the same shard,
whatever else the folder holds and on whatever machine the shard runs, so shards never overlap
and together cover every input. The key is the input's path as given (``expnet label`` uses the
identity where one is known, so that an identity's images are fitted together).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def __post_init__(self):
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"a shard is I/N with 0 <= I < N; got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` -> Shard (I counts from 0: ``0/4`` ... ``3/4``)."""
        try:
            index, count = (int(v) for v in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard takes I/N, e.g. 0/4; got {text!r}") from None
        return cls(index, count)

    def owns(self, key: str) -> bool:
        return zlib.crc32(str(key).encode()) % self.count == self.index

    def select(self, items: Iterable[T], key: Callable[[T], str] = str) -> list[T]:
        """The items of this shard, in their order."""
        return [item for item in items if self.owns(key(item))]

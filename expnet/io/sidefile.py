"""Resumable side files: a header line with the job's settings, then one JSON line per finished
item, appended and flushed as items finish. A rerun with the same settings reads the finished
items back and does only the rest; a rerun with other settings is refused (mixing the two would
give rows made two ways). ``expnet label`` and ``expnet profile`` keep their progress this way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


def _plain(settings: dict) -> dict:
    """The settings as they read back from JSON (tuples become lists)."""
    return json.loads(json.dumps(settings))


def read_side_file(path: str | os.PathLike, settings: dict) -> Iterator[dict]:
    """The items of an earlier run with the same ``settings``; nothing when there is no file.

    Raises
    ------
    ValueError
        The file was made with other settings.
    """
    path = Path(path)
    if not path.exists():
        return
    with open(path) as fh:
        try:
            saved = json.loads(fh.readline()).get("settings")
        except (json.JSONDecodeError, AttributeError):
            saved = None
        if saved != _plain(settings):
            raise ValueError(f"{path} holds results made with other settings ({saved}, now {_plain(settings)}); "
                             "delete it to start afresh, or run with the same settings to resume")
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption: that item is done again


def open_side_file(path: str | os.PathLike, settings: dict) -> TextIO:
    """The side file opened for appending: created with its settings header, or, when an
    interruption left half a line at its end, with that line ended first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(json.dumps({"settings": settings}) + "\n")
    out = open(path, "a+")
    out.seek(0, os.SEEK_END)
    if out.tell():
        out.seek(out.tell() - 1)
        if out.read(1) != "\n":
            out.write("\n")
    return out

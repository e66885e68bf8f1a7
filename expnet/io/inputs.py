"""What a command works on: files, folders (searched recursively) and ``.txt`` lists, resolved
to image and video paths in one place, so that every command finds the same inputs."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

STREAM = re.compile(r"^(rtsp|rtmp|http|https|udp|tcp)://", re.IGNORECASE)  # live network sources
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_stream(source) -> bool:
    """A stream URL (``rtsp://``, ``http://``, ...): read as frames arrive."""
    return isinstance(source, str) and bool(STREAM.match(source))


def missing_reason(path: str | os.PathLike) -> str:
    """Why ``path`` cannot be opened: a link loop, a link to nothing, or not there."""
    return str(_missing(Path(path)))


def _missing(path: Path) -> FileNotFoundError:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FileNotFoundError(f"{path} is a symbolic link loop")
        if path.is_symlink():
            return FileNotFoundError(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist")
    return FileNotFoundError(f"{path} does not exist")


def discover(source: str | os.PathLike, videos: bool = True) -> list[Path]:
    """The inputs named by ``source``: a folder's images (and videos), recursively and sorted; the
    lines of a ``.txt`` list (relative to the list); or the file itself (any suffix: a file that
    is not an image becomes an error row, not a silent skip). A broken or looping link with an
    image or video name inside a folder is listed too: it gets its row with the reason.

    Raises
    ------
    FileNotFoundError
        ``source`` does not exist (a broken link and a link loop are named as such).
    """
    source = Path(source)
    suffixes = IMAGE_SUFFIXES | (VIDEO_SUFFIXES if videos else set())
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in suffixes and (p.is_file() or _dangling(p)))
    if source.suffix.lower() == ".txt" and source.is_file():
        base = source.parent
        lines = [ln.strip() for ln in source.read_text().splitlines()]
        return [(base / ln) if not Path(ln).is_absolute() else Path(ln) for ln in lines if ln]
    if source.exists():
        return [source]
    raise _missing(source)


def _dangling(path: Path) -> bool:
    """A symbolic link that leads nowhere (to nothing, or round in a loop)."""
    try:
        return path.is_symlink() and not path.exists()
    except OSError:  # a loop
        return True


def collect(sources: list, videos: bool = True) -> list:
    """Every input of a command, in order: each source through :func:`discover`, stream URLs (and
    camera indices) kept as they are when ``videos``.

    Raises
    ------
    ValueError
        Nothing to work on.
    """
    out: list = []
    for src in sources:
        live = isinstance(src, int) or (isinstance(src, str) and videos and is_stream(src))
        out += [src] if live else discover(src, videos=videos)
    if not out:
        raise ValueError("no input images: give files, folders or videos, or --sample")
    return out


def list_images(source: str | os.PathLike) -> list[Path]:
    """Images under a folder (recursive, sorted), or the lines of a ``.txt`` list, or one file."""
    return discover(source, videos=False)

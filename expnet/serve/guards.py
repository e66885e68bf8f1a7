"""What keeps a local server safe: which Host and Origin a request may carry, how large an upload
may be, and what kind of file an upload really is (its first bytes, not its name).

DNS rebinding: a web page elsewhere can point a name it controls at 127.0.0.1 and then drive a
server on the user's machine from the user's own browser; the request then carries that name in
its Host header. Requests are accepted only with the bound address, a loopback name or (when bound
to every address) an IP literal as Host, and a cross-site Origin is refused on every request
(WebSocket included).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
WILDCARDS = {"0.0.0.0", "::", ""}

# magic numbers of the image and video containers the app takes
IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
               (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"P5", "PGM"), (b"P6", "PPM"))
VIDEO_MAGIC = ((b"\x1a\x45\xdf\xa3", "Matroska/WebM"),)


def host_name(header: str | None) -> str:
    """The name or address of a Host header, without its port (``[::1]:8000`` -> ``::1``)."""
    if not header:
        return ""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str | None, bound: str) -> bool:
    """A Host header naming the bound address or loopback; with a wildcard bind, any IP literal
    too (a rebinding attack needs a domain name)."""
    name = host_name(header)
    if not name:
        return False
    if name in LOOPBACK_NAMES or name == bound.lower():
        return True
    return bound in WILDCARDS and _is_ip(name)


def origin_allowed(origin: str | None, bound: str) -> bool:
    """No Origin (not a browser's cross-site request), or one whose host is allowed as Host."""
    if origin is None:
        return True
    if origin in ("", "null"):  # sandboxed frames and local files: never trusted
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and host_allowed(parts.netloc, bound)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(``image`` or ``video``, format) from a file's first bytes, or None when it is neither."""
    for magic, name in IMAGE_MAGIC:
        if head.startswith(magic):
            return "image", name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "WebP"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "AVI"
    if head[4:8] == b"ftyp":
        return "video", "MP4/QuickTime"
    for magic, name in VIDEO_MAGIC:
        if head.startswith(magic):
            return "video", name
    return None


def describe_bytes(head: bytes) -> str:
    """A short description of what an unrecognised file's first bytes look like."""
    if not head:
        return "it is empty"
    text = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:256]) / min(len(head), 256)
    return "its first bytes are text" if text > 0.95 else "its first bytes match no image or video format"

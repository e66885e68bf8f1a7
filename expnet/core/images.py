"""Reading images safely: every failure is an :class:`ImageError` with a clear reason.

Guards against empty, truncated and non-image files and against decompression bombs (the header
is checked before any pixel is decoded).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
MAX_PIXELS = 64_000_000      # a 8000x8000 photo; bigger is refused before decoding
MAX_FILE_BYTES = 256 << 20


class ImageError(ValueError):
    """An input that is not a readable image; the message says why."""


def load_image(path: str | os.PathLike, mode: str = "RGB", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode ``path`` to a uint8 array: ``mode='RGB'`` (H, W, 3) or ``mode='L'`` (H, W)."""
    path = Path(path)
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise ImageError(f"{path} is not a file")
    if size == 0:
        raise ImageError(f"{path} is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{path} is {size >> 20} MiB, above the {MAX_FILE_BYTES >> 20} MiB limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageError(f"{path} is {w}x{h} pixels, above the limit of {max_pixels} "
                                     "(possible decompression bomb)")
                if w == 0 or h == 0:
                    raise ImageError(f"{path} has no pixels")
                img.draft(mode, (w, h))  # lets JPEG decode straight to grey
                pixels = np.asarray(img.convert(mode))
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path} is not a recognised image file") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path} is too large to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} is corrupt or truncated: {exc}") from exc
    return pixels


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grey image from grey or RGB input."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4) and image.dtype == np.uint8:
        import cv2  # ITU-R 601 luma, as PIL's "L"; a tenth of the time of the float product
        return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = image[..., :3].astype(np.float32)
        return np.clip(rgb @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 view or copy of a grey or RGB image (grey repeated into three channels)."""
    image = np.asarray(image, dtype=np.uint8)
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


def list_images(source: str | os.PathLike) -> list[Path]:
    """Images under a folder (recursive, sorted), or the lines of a ``.txt`` file list, or one file."""
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if source.suffix.lower() == ".txt":
        base = source.parent
        lines = [ln.strip() for ln in source.read_text().splitlines()]
        return [(base / ln) if not Path(ln).is_absolute() else Path(ln) for ln in lines if ln]
    if source.exists():
        return [source]
    raise FileNotFoundError(f"{source} does not exist")


def downscale(gray: np.ndarray, scale: float) -> np.ndarray:
    """``gray`` resized to ``scale`` of its size (area filter, at least 1 px a side); scales >= 1
    return it unchanged."""
    import cv2
    if scale >= 1.0:
        return gray
    h, w = gray.shape
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)

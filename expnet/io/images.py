"""Reading images safely: every failure is an :class:`ImageError` with a clear reason.

Guards against empty, truncated and non-image files and against decompression bombs (the header
is checked before any pixel is decoded). Images come upright (the EXIF orientation of phone
photos is applied) and as 8-bit (16-bit and floating-point images are scaled, not clipped).

Arrays given by callers are RGB (or grey) unless they say otherwise: :func:`as_rgb` converts
from ``"BGR"`` (OpenCV's order), ``"RGBA"``, ``"BGRA"`` or ``"GRAY"``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from expnet.io.inputs import missing_reason

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
        if path.is_symlink():
            raise ImageError(missing_reason(path)) from exc
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
                upright = ImageOps.exif_transpose(img) or img  # phone photos: the orientation tag
                pixels = _to_8bit(upright, mode)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path} is not a recognised image file") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path} is too large to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} is corrupt or truncated: {exc}") from exc
    return pixels


def _to_8bit(img: Image.Image, mode: str) -> np.ndarray:
    """``img`` as uint8 ``mode`` pixels; 16-bit and 32-bit integer images are scaled from their
    bit depth (16-bit white is 65535), float images from [0, 1] (PIL's own conversion clips
    them to 255 and a 16-bit photo turns white)."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if img.mode == "F" and values.size and np.nanmax(values) <= 1.0:
            values = values * 255.0
        else:
            values = values / 257.0
        grey = np.clip(np.nan_to_num(values) + 0.5, 0, 255).astype(np.uint8)
        return grey if mode == "L" else np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(img.convert(mode))


COLOR_ORDERS = ("RGB", "BGR", "RGBA", "BGRA", "GRAY")


def as_rgb(image: np.ndarray, color: str = "RGB") -> np.ndarray:
    """A caller's array as uint8 RGB (H, W, 3) or grey (H, W): the one entry point for arrays.

    Parameters
    ----------
    image : ndarray
        (H, W) grey, or (H, W, 3|4) colour, uint8 (other integer or float arrays in [0, 1] or
        [0, 255] are converted).
    color : str
        The channel order of ``image``: ``"RGB"`` (PIL, matplotlib, imageio), ``"BGR"`` (OpenCV's
        ``cv2.imread`` and video frames), ``"RGBA"``, ``"BGRA"`` or ``"GRAY"``.

    Raises
    ------
    ValueError
        An empty array, an unknown order, or a shape that does not fit the order.
    """
    if color not in COLOR_ORDERS:
        raise ValueError(f"color must be one of {COLOR_ORDERS}, got {color!r}")
    image = np.asarray(image)
    if image.size == 0 or image.ndim not in (2, 3) or min(image.shape[:2]) == 0:
        raise ValueError(f"expected a non-empty (H, W) or (H, W, C) image, got shape {image.shape}")
    if image.dtype != np.uint8:
        values = image.astype(np.float64)
        if image.dtype.kind == "f" and values.size and np.nanmax(values) <= 1.0:
            values = values * 255.0
        elif image.dtype.kind in "iu" and image.dtype.itemsize > 1:
            values = values / 257.0
        image = np.clip(np.nan_to_num(values) + 0.5, 0, 255).astype(np.uint8)
    if image.ndim == 2 or color == "GRAY":
        if image.ndim != 2:
            raise ValueError(f"color='GRAY' needs an (H, W) array, got shape {image.shape}")
        return image
    channels = image.shape[2]
    if channels == 1:
        return image[..., 0]
    if channels != (4 if color.endswith("A") else 3):
        raise ValueError(f"color={color!r} does not fit an array with {channels} channels")
    rgb = image[..., :3]
    return np.ascontiguousarray(rgb[..., ::-1] if color.startswith("BGR") else rgb)


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grey image from grey or RGB input."""
    image = np.asarray(image)
    if image.size == 0:
        raise ValueError(f"empty image (shape {image.shape})")
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


def downscale(gray: np.ndarray, scale: float) -> np.ndarray:
    """``gray`` resized to ``scale`` of its size (area filter, at least 1 px a side); scales >= 1
    return it unchanged."""
    import cv2
    if scale >= 1.0:
        return gray
    h, w = gray.shape
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)

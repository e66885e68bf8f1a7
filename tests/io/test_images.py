import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from expnet.io.images import ImageError, load_image, to_gray
from expnet.io.inputs import list_images


def _png_header_only(path, width, height):
    """A PNG whose header claims a huge size, with a tiny payload: a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))


def test_reads_rgb_and_grey(tmp_path):
    arr = (np.arange(60 * 40 * 3) % 256).astype(np.uint8).reshape(60, 40, 3)
    Image.fromarray(arr).save(tmp_path / "a.png")
    assert np.array_equal(load_image(tmp_path / "a.png"), arr)
    assert load_image(tmp_path / "a.png", "L").shape == (60, 40)
    assert to_gray(arr).shape == (60, 40)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not an image at all", "not a recognised image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not a recognised image|corrupt"),
])
def test_bad_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(tmp_path / "cut.jpg")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    _png_header_only(tmp_path / "bomb.png", 60000, 60000)
    with pytest.raises(ImageError, match="decompression bomb|too large"):
        load_image(tmp_path / "bomb.png")


def test_missing_and_directory(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path)


def test_list_images(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.PNG", "sub/c.jpeg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == ["a.PNG", "b.jpg", "sub/c.jpeg"]
    (tmp_path / "list.txt").write_text("b.jpg\n\nsub/c.jpeg\n")
    assert [p.name for p in list_images(tmp_path / "list.txt")] == ["b.jpg", "c.jpeg"]
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")

"""Fuzz: a seeded batch of damaged inputs mixed with good ones, through predict, label and render.
No crash, one row (or one reported failure) per input, and every good input still gets its result."""

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from expnet.assets.samples import sample_path
from expnet.cli import main
from expnet.io.images import load_image


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and has no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def damaged_inputs(folder, n: int, seed: int = 0) -> list:
    """``n`` damaged files of many kinds, seeded: truncations, bit flips, wrong extensions, empty and
    huge-header files, broken video containers, odd pixel formats."""
    rng = np.random.default_rng(seed)
    face = load_image(sample_path("takeo.ppm"))
    encoded = {}
    for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("BMP", "bmp"), ("WEBP", "webp")):
        buf = io.BytesIO()
        Image.fromarray(face).save(buf, fmt)
        encoded[ext] = buf.getvalue()
    avi = _video_bytes(folder)
    kinds = ["truncate", "flip", "wrong_ext", "empty", "huge", "video", "text", "odd_mode"]
    paths = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        ext = rng.choice(sorted(encoded))
        data = encoded[ext]
        if kind == "truncate":
            blob, name = data[: int(rng.integers(1, len(data) - 1))], f"trunc{i}.{ext}"
        elif kind == "flip":
            arr = bytearray(data)
            for pos in rng.integers(0, len(arr), int(rng.integers(1, 40))):
                arr[pos] ^= 1 << int(rng.integers(0, 8))
            blob, name = bytes(arr), f"flip{i}.{ext}"
        elif kind == "wrong_ext":
            other = rng.choice([e for e in sorted(encoded) if e != ext])
            blob, name = data, f"wrong{i}.{other}"
        elif kind == "empty":
            blob, name = b"", f"empty{i}.{ext}"
        elif kind == "huge":
            blob, name = _png_header(int(rng.integers(20000, 60000)), int(rng.integers(20000, 60000))), f"huge{i}.png"
        elif kind == "video":
            cut = avi[: int(rng.integers(16, len(avi)))] if i % 2 else bytes(rng.integers(0, 256, 3000, np.uint8))
            blob, name = cut, f"broken{i}." + ("avi" if i % 2 else "mp4")
        elif kind == "text":
            blob, name = f"not an image {i}\n".encode() * int(rng.integers(1, 50)), f"text{i}.jpg"
        else:  # odd pixel formats that are valid files: 1-bit, palette, 16-bit, CMYK, tiny, alpha
            mode = ["1", "P", "I;16", "CMYK", "LA", "RGBA"][i % 6]
            img = Image.fromarray(face).convert("L" if mode in ("I;16", "1", "LA") else "RGB")
            img = img.convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
            if i % 5 == 0:
                img = img.resize((int(rng.integers(1, 4)), int(rng.integers(1, 4))))
            buf = io.BytesIO()
            img.save(buf, "TIFF" if mode == "CMYK" else "PNG")
            blob, name = buf.getvalue(), f"mode{i}." + ("tif" if mode == "CMYK" else "png")
        path = folder / name
        path.write_bytes(blob)
        paths.append(path)
    return paths


def _video_bytes(folder) -> bytes:
    import cv2
    face = cv2.resize(load_image(sample_path("takeo.ppm")), (96, 144))
    path = folder / "_good.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 144))
    for _ in range(6):
        writer.write(face[..., ::-1])
    writer.release()
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    bad = damaged_inputs(folder, 208, seed=7)
    good = []
    for k in range(3):
        path = folder / f"good{k}.ppm"
        path.write_bytes(sample_path("takeo.ppm").read_bytes())
        good.append(path)
    return folder, bad, good


def test_predict_survives_the_batch(onnx_model, batch, tmp_path):
    folder, bad, good = batch
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(str(p) for p in bad[:100] + good + bad[100:]))
    out = tmp_path / "out.jsonl"
    status = main(["predict", str(listing), "--model", str(onnx_model), "--detector", "none", "-o", str(out),
                   "--quiet"])
    assert status == 1  # some inputs failed, the job finished
    rows = [json.loads(line) for line in open(out)]
    inputs = [r for r in rows if "#" not in r["image"] and "track" not in r]  # frames and track means aside
    assert {r["image"] for r in inputs} == {str(p) for p in bad + good}  # one row per input (videos: clip row)
    assert len(inputs) == len(bad) + len(good)  # none twice
    by_name = {r["image"]: r for r in rows}
    assert all(by_name[str(p)]["faces"] and by_name[str(p)]["error"] is None for p in good)


def test_label_survives_the_batch(batch, tmp_path):
    from expnet.detection.boxes import _face_models_dir
    try:
        _face_models_dir()
    except ImportError as exc:
        pytest.skip(str(exc))
    folder, bad, good = batch
    images = [p for p in bad + good if p.suffix not in (".avi", ".mp4")]
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(str(p) for p in images))
    out = tmp_path / "labels.jsonl"
    main(["label", str(listing), "-o", str(out), "--workers", "2", "--detector", "none", "--quiet"])
    rows = [json.loads(line) for line in open(out)]
    assert sorted(r["image"] for r in rows) == sorted(str(p) for p in images)
    by_name = {r["image"]: r for r in rows}
    assert all(by_name[str(p)]["status"] == "ok" for p in good)


def test_render_survives_the_batch(onnx_model, batch, tmp_path, capsys):
    folder, bad, good = batch
    listing = tmp_path / "inputs.txt"
    picked = bad[:60] + good[:1]
    listing.write_text("\n".join(str(p) for p in picked))
    out = tmp_path / "renders"
    status = main(["render", str(listing), "--out", str(out), "--model", str(onnx_model), "--detector", "none",
                   "--quiet"])
    assert status == 1
    assert f"{len(picked)} inputs" in capsys.readouterr().err
    assert (out / "good0_face0_overlay.png").exists()

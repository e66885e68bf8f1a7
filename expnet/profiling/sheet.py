"""The contact sheet of a profiling run: sample views in rows by yaw, each cut to the face."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from expnet.detection.crop import crop, square_box
from expnet.io.atomic import atomic_path
from expnet.io.images import ImageError, load_image
from expnet.io.labels import is_fitted, iter_rows

YAW_BINS = (-90, -60, -30, 0, 30, 60, 90)


def contact_sheet(rows: list[dict], path: str | os.PathLike, per_bin: int = 8, tile: int = 96,
                  seed: int = 0) -> Path:
    """Write a PNG of up to ``per_bin`` views from each yaw bin (``YAW_BINS``), one bin a row
    (labelled with its range), each view cut to the square face box and ``tile`` px wide."""
    rng = np.random.default_rng(seed)
    ok = [r for r in rows if is_fitted(r)]
    yaw = np.array([r["view"]["yaw"] for r in ok]) if ok else np.zeros(0)
    label_w = 110
    lines = []
    for lo, hi in zip(YAW_BINS[:-1], YAW_BINS[1:]):
        members = np.flatnonzero((yaw >= lo) & (yaw < hi) if hi < 90 else (yaw >= lo) & (yaw <= hi))
        pick = rng.choice(members, min(per_bin, len(members)), replace=False) if len(members) else []
        line = np.full((tile, label_w + per_bin * tile, 3), 255, np.uint8)
        cv2.putText(line, f"yaw {lo:+d}..{hi:+d}", (4, tile // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        for j, i in enumerate(sorted(pick, key=lambda i: yaw[i])):
            try:
                img = load_image(ok[i]["image"], "RGB")
            except ImageError:
                continue
            face, _ = crop(img, square_box(np.asarray(ok[i]["box"])), tile, enlarge=None)
            line[:, label_w + j * tile: label_w + (j + 1) * tile] = face
        lines.append(line)
    sheet = np.concatenate(lines) if lines else np.full((tile, label_w, 3), 255, np.uint8)
    path = Path(path)
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


def contact_sheet_of(folder: str | os.PathLike) -> Path:
    """The contact sheet of an ``expnet profile`` output folder (``contact-sheet.png`` in it)."""
    folder = Path(folder)
    return contact_sheet(list(iter_rows(folder / "labels.jsonl")), folder / "contact-sheet.png")

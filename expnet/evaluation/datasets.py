"""Emotion-labelled face datasets in their standard on-disk layouts, for ``expnet evaluate``.

Each loader returns an :class:`EmotionSet`: the images, their emotion, the group left out
together in leave-one-group-out (clip, subject or image) and the clip whose frames are pooled.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expnet.io.inputs import IMAGE_SUFFIXES
from expnet.io.labels import is_fitted, iter_rows

CK_CODES = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy",
            6: "sadness", 7: "surprise"}
_CK_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")


class DatasetError(ValueError):
    """A dataset folder that is missing or not in the expected layout."""


@dataclass
class EmotionSet:
    name: str
    paths: np.ndarray    # (N,) str
    labels: np.ndarray   # (N,) str
    groups: np.ndarray   # (N,) str: left out together
    clips: np.ndarray    # (N,) str: frames averaged together (== paths when not pooled)
    cropped: bool        # the images are face crops (no detector needed)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _need_dir(root: Path, what: str) -> None:
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder ({what})")


def load_emotion_folders(root: str | Path, name: str = "folder", cropped: bool = True) -> EmotionSet:
    """Generic ``root/<emotion>/*.jpg`` (FER-2013's layout too); one group per image."""
    root = Path(root)
    _need_dir(root, "expected one sub-folder per emotion")
    paths, labels = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for img in _images(sub):
            paths.append(str(img))
            labels.append(sub.name)
    if not paths:
        raise DatasetError(f"{root} has no <emotion>/<image> files")
    p = np.array(paths)
    return EmotionSet(name, p, np.array(labels), p.copy(), p.copy(), cropped)


def load_ckplus48(root: str | Path, mode: str = "peak") -> EmotionSet:
    """CK+ 48 px crops, ``<emotion>/Sxxx_yyy_zzzzzzzz.png``.

    ``mode='peak'``: one image per clip, its highest frame (the paper's CK+ protocol).
    ``mode='clip'``: every frame, pooled per clip. Groups are clips (leave-one-clip-out).
    """
    root = Path(root)
    _need_dir(root, "expected CK+ crops in <emotion>/Sxxx_yyy_zzzzzzzz.png")
    clips: dict[tuple[str, str], list[tuple[int, Path, str]]] = defaultdict(list)
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for img in _images(sub):
            m = _CK_NAME.match(img.stem)
            if not m:
                raise DatasetError(f"{img} does not follow Sxxx_yyy_zzzzzzzz naming")
            clips[(m.group(1), m.group(2))].append((int(m.group(3)), img, sub.name))
    if not clips:
        raise DatasetError(f"{root} holds no CK+ images")
    paths, labels, groups = [], [], []
    for (subject, clip), frames in sorted(clips.items()):
        frames.sort()
        chosen = frames[-1:] if mode == "peak" else frames
        for _, img, emotion in chosen:
            paths.append(str(img))
            labels.append(emotion)
            groups.append(f"{subject}_{clip}")
    if mode not in ("peak", "clip"):
        raise ValueError(f"mode must be 'peak' or 'clip', got {mode!r}")
    g = np.array(groups)
    return EmotionSet(f"ckplus48-{mode}", np.array(paths), np.array(labels), g,
                      g.copy() if mode == "clip" else np.array(paths), True)


def load_ckplus_official(root: str | Path, mode: str = "peak") -> EmotionSet:
    """The official CK+ release: ``cohn-kanade-images/Sxxx/yyy/*.png`` and
    ``Emotion/Sxxx/yyy/*_emotion.txt``. Full frames (a detector is needed)."""
    root = Path(root)
    images, emotion = root / "cohn-kanade-images", root / "Emotion"
    _need_dir(images, "the CK+ release's cohn-kanade-images folder")
    _need_dir(emotion, "the CK+ release's Emotion folder")
    paths, labels, groups = [], [], []
    for label_file in sorted(emotion.glob("S*/*/*_emotion.txt")):
        code = int(float(label_file.read_text().split()[0]))
        subject, clip = label_file.parent.parent.name, label_file.parent.name
        frames = _images(images / subject / clip)
        if not frames:
            continue
        chosen = frames[-1:] if mode == "peak" else frames[-3:]
        for img in chosen:
            paths.append(str(img))
            labels.append(CK_CODES[code])
            groups.append(f"{subject}_{clip}")
    if not paths:
        raise DatasetError(f"{root} has no labelled CK+ clips")
    g = np.array(groups)
    return EmotionSet(f"ckplus-{mode}", np.array(paths), np.array(labels), g,
                      g.copy() if mode == "clip" else np.array(paths), False)


def load_lfw_expressions(root: str | Path, identities: set[str] | None = None) -> EmotionSet:
    """lfw-expressions (``images/`` + ``labels.csv``): by default only the validation identities
    that the shipped model never trained on; one group per identity."""
    root = Path(root)
    labels_csv = root / "labels.csv"
    if not labels_csv.is_file():
        raise DatasetError(f"{labels_csv} not found (expected images/ and labels.csv)")
    if identities is None:
        from expnet.splits import lfw_validation_identities
        identities = lfw_validation_identities()
    paths, labels, groups = [], [], []
    with open(labels_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("emotion") and row.get("identity") in identities:
                paths.append(str(root / "images" / row["image"]))
                labels.append(row["emotion"])
                groups.append(row["identity"])
    if not paths:
        raise DatasetError(f"{labels_csv} has no labelled images of the validation identities")
    p = np.array(paths)
    return EmotionSet("lfw-expressions-val", p, np.array(labels), np.array(groups), p.copy(), True)


def load_profiled(root: str | Path) -> list[EmotionSet]:
    """A folder made by ``expnet profile --yaws ... --crop PX`` from emotion-labelled images (the
    expression-under-pose experiment): one set per yaw, named ``<folder>-yaw<deg>``.

    Emotions and identities (the groups) are those of each view's source image, read from the
    ``labels.csv`` beside the source's ``images/`` folder (lfw-expressions' layout).
    """
    root = Path(root)
    labels_file = root / "labels.jsonl"
    if not labels_file.is_file():
        raise DatasetError(f"{labels_file} not found (make the folder with expnet profile --yaws ... --crop PX)")
    sources: dict[Path, dict[str, tuple[str, str]]] = {}
    by_yaw: dict[float, list[tuple[str, str, str]]] = defaultdict(list)
    for r in iter_rows(labels_file):
        if not is_fitted(r):
            continue
        src = Path(r["profiled_from"])
        csv_path = src.parent.parent / "labels.csv"
        if csv_path not in sources:
            if not csv_path.is_file():
                raise DatasetError(f"{csv_path} not found: the views' sources carry no emotion labels")
            with open(csv_path, newline="") as fh:
                sources[csv_path] = {row["image"]: (row.get("emotion") or "", row.get("identity") or "")
                                     for row in csv.DictReader(fh)}
        emotion, identity = sources[csv_path].get(src.name, ("", ""))
        if emotion:
            by_yaw[round(float(r["view"]["yaw"]), 1)].append((r["image"], emotion, identity or src.name))
    if not by_yaw:
        raise DatasetError(f"{labels_file} has no views of emotion-labelled images")
    out = []
    for yaw, items in sorted(by_yaw.items()):
        paths, labels, groups = (np.array(c) for c in zip(*items))
        out.append(EmotionSet(f"{root.name}-yaw{yaw:g}", paths, labels, groups, paths.copy(), True))
    return out


LOADERS = {
    "ckplus48": lambda root: load_ckplus48(root, "peak"),
    "ckplus48-clip": lambda root: load_ckplus48(root, "clip"),
    "ckplus": lambda root: load_ckplus_official(root, "peak"),
    "fer2013": lambda root: load_emotion_folders(root, "fer2013-validation"),
    "lfw-expressions": load_lfw_expressions,
    "folder": lambda root: load_emotion_folders(root, Path(root).name),
}


def load_datasets(name: str, root: str | Path) -> list[EmotionSet]:
    """The sets a dataset name gives: one, or for ``profiled`` one per yaw."""
    return load_profiled(root) if name == "profiled" else [load_dataset(name, root)]


def load_dataset(name: str, root: str | Path) -> EmotionSet:
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(LOADERS)}")
    return LOADERS[name](root)

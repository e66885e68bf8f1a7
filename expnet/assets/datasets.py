"""Where the research datasets live: the one owner of the shared data folder's layout.

The datasets are not part of expnet (they are research-only and never redistributed); commands,
benchmarks and tests read them from a folder given on the command line or from ``$EXPNET_DATA``
(default ``../shared/data``), laid out as below.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "EXPNET_DATA"
DEFAULT_DATA = "../shared/data"

CKPLUS48 = "ckplus48"                            # <emotion>/Sxxx_yyy_zzzzzzzz.png
FER2013_TRAIN = "fer2013/train"                  # <emotion>/*.jpg
FER2013_VALIDATION = "fer2013/validation"        # <emotion>/*.jpg
LFW_EXPRESSIONS = "lfw-expressions"              # images/*.jpg + labels.csv (image, emotion, identity)
LFW_IMAGES = "lfw-expressions/images"
UTKFACE_IMAGES = "utkface/images"
AFLW2000_SAMPLES = "aflw2000-samples"            # *.jpg + *.mat (Pose_Para, pt3d_68)

# The paper's emotion benchmarks on this layout: (loader name of expnet.evaluation, folder).
EMOTION_BENCHMARKS = (("ckplus48", CKPLUS48), ("fer2013", FER2013_VALIDATION), ("lfw-expressions", LFW_EXPRESSIONS))


def data_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$EXPNET_DATA``, else ``../shared/data``."""
    return Path(root if root is not None else os.environ.get(DATA_ENV, DEFAULT_DATA))


def emotion_benchmarks(root: str | os.PathLike) -> list[tuple[str, Path]]:
    """(loader name, folder) of each emotion benchmark under ``root``."""
    return [(name, Path(root) / sub) for name, sub in EMOTION_BENCHMARKS]

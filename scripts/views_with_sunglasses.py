"""A folder of profiled views with dark glasses on every face: a held-out test of turned heads
behind sunglasses (AFLW2000-3D's 16 samples hold one such face).

Each view of ``expnet profile`` carries its true pose, so the glasses of ``expnet train
--sunglasses`` (``expnet.training.sunglasses``) are drawn on it the same way, on the grey image,
and the row is written again with the new image path; the labels are unchanged. The output is a
``--pose-views`` folder for ``expnet evaluate compare``. A network trained with ``--sunglasses``
has seen this renderer: these views say how much glasses cost a network, and whether the training
taught it to read past *these* glasses; real sunglasses are the AFLW2000-3D face's to judge.

    python scripts/views_with_sunglasses.py outputs/profiled/lfw-val-3v outputs/profiled/lfw-val-3v-glasses
"""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from expnet.face.model import FaceModel
from expnet.io.labels import is_fitted, iter_rows, write_rows
from expnet.training.sunglasses import GlassesFrame, draw_sunglasses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("views", type=Path, help="a folder of expnet profile (labels.jsonl, images/)")
    ap.add_argument("out", type=Path, help="the folder to write")
    ap.add_argument("--seed", type=int, default=0, help="glasses' size, height and shade")
    args = ap.parse_args()
    frame = GlassesFrame.from_landmarks(FaceModel.load().landmarks.vertices())
    rng = np.random.default_rng(args.seed)
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for row in iter_rows(args.views / "labels.jsonl"):
        if not is_fitted(row) or not Path(row["image"]).exists():
            continue
        grey = cv2.imread(row["image"], cv2.IMREAD_GRAYSCALE)
        pose = row["pose"]
        drawn = draw_sunglasses(grey, np.asarray(pose["rotation"]), pose["scale"], np.asarray(pose["translation"]),
                                np.eye(2, 3), frame, rng)
        target = args.out / "images" / (Path(row["image"]).stem + ".png")  # lossless: the glasses' edges kept
        cv2.imwrite(str(target), drawn)
        rows.append({**row, "image": str(target)})
    write_rows(rows, args.out / "labels.jsonl")
    print(json.dumps({"views": len(rows), "out": str(args.out)}))


if __name__ == "__main__":
    main()

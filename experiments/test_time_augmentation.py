"""Does test-time augmentation help the shipped network? 5-NN accuracy (the evaluation protocol,
same boxes) of the plain prediction against averages over a horizontal flip (mirrored back into
the basis with a linear map derived from the face model) and over small box shifts and scales.

    python experiments/test_time_augmentation.py                      # the shipped network
    python experiments/test_time_augmentation.py --model OTHER.onnx   # another trained network

The tables go into reports/experiments/test-time-augmentation.md. Reads CK+48, FER-2013
validation and lfw-expressions (validation identities) from EXPNET_DATA (default ../shared/data).
An experiment: with two networks it chose the three-size average that `expnet.ExpNet` now runs
(``CROP_SCALES``); each variant is built here from single crops.
"""

import argparse
import os
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from expnet.assets.datasets import emotion_benchmarks
from expnet.detection.boxes import FaceBox, WholeImageDetector
from expnet.evaluation.datasets import load_dataset
from expnet.evaluation.knn import knn_leave_group_out, pool
from expnet.evaluation.methods import face_box_at_scale
from expnet.face.model import FaceModel
from expnet.inference.predictor import ExpNet

# (dx, dy, size) of the box, in box widths
SHIFTS = [(0, 0, 1), (0, 0, 0.94), (0, 0, 1.06), (0.03, 0, 1), (-0.03, 0, 1), (0, 0.03, 1), (0, -0.03, 1)]


def mirror_map(model: FaceModel) -> tuple[np.ndarray, np.ndarray]:
    """Whitened expression of a mirrored face ~= M @ w + c: the basis mirrored (x -> -x, each
    vertex to its mirror vertex) and projected back onto the basis by least squares."""
    mean = model.mean.astype(np.float64)
    mirrored = mean.copy()
    mirrored[:, 0] = 2 * np.median(mean[:, 0]) - mirrored[:, 0]
    partner = cKDTree(mean).query(mirrored)[1]
    basis = model.expression_basis.astype(np.float64)
    flipped = basis[partner].copy()
    flipped[:, 0] *= -1
    k = basis.shape[2]
    m = np.linalg.lstsq(basis.reshape(-1, k), flipped.reshape(-1, k), rcond=None)[0]
    s, mu = model.expression_std, model.expression_mean
    return np.diag(1 / s) @ m @ np.diag(s), (m @ mu - mu) / s


def accuracy(data, features) -> float:
    x, y, g, _ = pool(features, data.labels, data.groups, data.clips)
    pred, _ = knn_leave_group_out(x, y, g)
    return 100 * float((pred == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="ONNX model (default: the shipped one)")
    args = parser.parse_args()
    root = Path(os.environ.get("EXPNET_DATA", "../shared/data"))
    net = ExpNet(args.model, detector="dlib-hog", crop_scales=(1.0,))  # the variants are built here
    m, c = mirror_map(FaceModel.load())
    sets = emotion_benchmarks(root)
    print("| data | scale | plain | flip | 3 sizes | flip + 3 sizes | 7 boxes | flip + 7 boxes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, path in sets:
        data = load_dataset(name, path)
        for scale in (1.0, 0.2):
            crops = []
            for p in data.paths:
                g, b = face_box_at_scale(str(p), scale, data.cropped, False, net.detector)
                gf = np.ascontiguousarray(g[:, ::-1])
                w_img = g.shape[1]
                # the mirrored image's box: the crop convention again, or the box mirrored
                bf = (WholeImageDetector().detect(gf)[0] if data.cropped else
                      FaceBox(w_img - 1 - b.x1, b.y0, w_img - 1 - b.x0, b.y1, b.score, b.detector))
                width = b.x1 - b.x0
                for img, bb in ((g, b), (gf, bf)):
                    for dx, dy, size in SHIFTS:
                        cx, cy = (bb.x0 + bb.x1) / 2 + dx * width, (bb.y0 + bb.y1) / 2 + dy * width
                        half = width * size / 2
                        box = FaceBox(cx - half, cy - half, cx + half, cy + half, 1.0, bb.detector)
                        crops.append(net.crop_faces(img, [box])[0])
            out = net.run_crops(np.concatenate(crops))[0].astype(np.float64)
            out = out.reshape(len(data.paths), 2, len(SHIFTS), -1)
            out[:, 1] = out[:, 1] @ m.T + c
            variants = [out[:, 0, 0], out[:, :, 0].mean(1), out[:, 0, :3].mean(1), out[:, :, :3].mean((1, 2)),
                        out[:, 0].mean(1), out.mean((1, 2))]
            print(f"| {data.name} | {scale:g} | " + " | ".join(f"{accuracy(data, f):.1f}" for f in variants) + " |",
                  flush=True)


if __name__ == "__main__":
    main()

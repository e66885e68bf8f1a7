"""Generated scenes for detector benchmarks and tests: group photos with faces of known sizes
and positions, and faceless images. Faces come from the registry sample photos (so tests run
anywhere) or from any face crops a caller passes in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from expnet.io.images import load_image

CONTEXT = 1.6  # pasted region around a face, in face-box sides


@dataclass
class FaceSource:
    """An RGB photo and the face box in it (x0, y0, x1, y1; from its 68 landmarks)."""

    image: np.ndarray
    box: np.ndarray


@dataclass
class Scene:
    image: np.ndarray   # (H, W, 3) uint8 RGB
    boxes: np.ndarray   # (F, 4) true face boxes (landmark extents), x0, y0, x1, y1

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]


def sample_faces() -> list[FaceSource]:
    """The three registry sample photos with 68-point ground truth, and their mirror images."""
    from expnet.assets.samples import SAMPLES, read_pts, sample_path
    out = []
    for name in SAMPLES:
        path = sample_path(name)
        rgb = load_image(path, "RGB")
        pts = read_pts(path.with_suffix(".pts"))
        box = np.r_[pts.min(0), pts.max(0)]
        out.append(FaceSource(rgb, box))
        w = rgb.shape[1]
        out.append(FaceSource(np.ascontiguousarray(rgb[:, ::-1]), np.array([w - 1 - box[2], box[1], w - 1 - box[0],
                                                                           box[3]])))
    return out


def face_crop(src: FaceSource, context: float = CONTEXT) -> np.ndarray:
    """The square around a source's face, ``context`` times its box side, clipped to the photo."""
    b = src.box
    side = context * max(b[2] - b[0], b[3] - b[1])
    x0, y0 = np.maximum((b[:2] + b[2:]) / 2 - side / 2, 0).astype(int)
    h, w = src.image.shape[:2]
    return src.image[y0:min(y0 + int(side), h), x0:min(x0 + int(side), w)]


def background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A varied, face-free RGB background: smooth noise, gradients, stripes or blocks, tinted,
    with grain."""
    import cv2
    kind = rng.integers(0, 4)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # smooth blotches
        small = rng.uniform(0, 255, (max(2, height // 60), max(2, width // 60))).astype(np.float32)
        img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # gradient
        a, b = rng.uniform(-1, 1, 2)
        img = 128 + 100 * (a * x / width + b * y / height)
    elif kind == 2:  # stripes
        period, angle = rng.uniform(8, 60), rng.uniform(0, np.pi)
        img = 128 + 70 * np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period)
    else:  # blocks
        cells = rng.uniform(30, 220, (max(1, height // 80) + 1, max(1, width // 80) + 1)).astype(np.float32)
        img = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)
    tint = rng.uniform(0.6, 1.2, 3)
    img = img[..., None] * tint + rng.normal(0, 6, img.shape + (3,))
    return np.clip(img, 0, 255).astype(np.uint8)


def _paste_face(canvas: np.ndarray, src: FaceSource, width: float, x: int, y: int) -> np.ndarray:
    """Paste ``src`` scaled so that its face is ``width`` px wide, with context (``CONTEXT`` times
    the face box, feathered edge) at top-left (x, y); returns the face box in the canvas."""
    import cv2
    fw = src.box[2] - src.box[0]
    f = width / fw
    centre = (src.box[:2] + src.box[2:]) / 2
    half = CONTEXT / 2 * max(fw, src.box[3] - src.box[1])
    x0, y0 = (centre - half).astype(int)
    side = int(2 * half)
    region = np.zeros((side, side, 3), np.float32)
    h, w = src.image.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = src.image[sy0:sy1, sx0:sx1]
    out_side = max(4, int(round(side * f)))
    region = cv2.resize(region, (out_side, out_side), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    yy, xx = np.mgrid[0:out_side, 0:out_side] / out_side - 0.5
    alpha = np.clip((0.5 - np.maximum(np.abs(xx), np.abs(yy))) * 12, 0, 1)[..., None]  # feathered square
    patch = canvas[y:y + out_side, x:x + out_side].astype(np.float32)
    canvas[y:y + out_side, x:x + out_side] = (alpha * region + (1 - alpha) * patch).astype(np.uint8)
    return np.r_[(src.box[:2] - [x0, y0]) * f + [x, y], (src.box[2:] - [x0, y0]) * f + [x, y]]


def group_scene(widths, size=(1280, 720), seed: int = 0, faces: list[FaceSource] | None = None) -> Scene:
    """A ``size`` (width, height) picture with one face of each width in ``widths`` (pixels, the
    landmark extent), placed without overlap on a generated background."""
    rng = np.random.default_rng(seed)
    faces = faces or sample_faces()
    width, height = size
    canvas = background(height, width, rng)
    taken: list[np.ndarray] = []
    boxes = []
    for k, fw in enumerate(sorted(widths, reverse=True)):
        src = faces[(k + seed) % len(faces)]
        side = int(np.ceil(CONTEXT * fw * max(1.0, (src.box[3] - src.box[1]) / (src.box[2] - src.box[0])))) + 2
        if side >= min(width, height):
            raise ValueError(f"a face {fw} px wide does not fit into {width}x{height}")
        step = max(4, side // 6)
        spots = [(x, y) for y in range(0, height - side, step) for x in range(0, width - side, step)]
        for i in rng.permutation(len(spots)):  # free spots in random order
            x, y = spots[i]
            cell = np.array([x, y, x + side, y + side])
            if all(cell[0] >= t[2] or cell[2] <= t[0] or cell[1] >= t[3] or cell[3] <= t[1] for t in taken):
                break
        else:
            raise ValueError(f"could not place {len(widths)} faces in {width}x{height}")
        taken.append(cell)
        boxes.append(_paste_face(canvas, src, fw, x, y))
    return Scene(canvas, np.array(boxes).reshape(-1, 4))


def faceless_images(n: int, seed: int = 0, size=(640, 480)) -> list[np.ndarray]:
    """``n`` generated RGB images with no face: backgrounds, and textures with blobs and edges."""
    import cv2
    rng = np.random.default_rng(seed)
    width, height = size
    out = []
    for i in range(n):
        img = background(height, width, rng)
        if i % 2:  # shapes: ellipses, lines and rectangles, the usual false-positive bait
            for _ in range(int(rng.integers(3, 12))):
                colour = tuple(int(c) for c in rng.integers(0, 255, 3))
                centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
                shape = rng.integers(0, 3)
                if shape == 0:
                    axes = (int(rng.integers(10, 120)), int(rng.integers(10, 120)))
                    cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
                elif shape == 1:
                    end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
                    cv2.line(img, centre, end, colour, int(rng.integers(1, 8)))
                else:
                    end = (centre[0] + int(rng.integers(10, 150)), centre[1] + int(rng.integers(10, 150)))
                    cv2.rectangle(img, centre, end, colour, -1)
            img = cv2.GaussianBlur(img, (3, 3), 0)
        out.append(img)
    return out


def faceless_crops(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` small faceless images, as a face-crop folder might hold them: grey squares of 48-255 px
    cut from :func:`faceless_images` and resized to 48, 64, 128 or 200 px, alternating with
    smooth colour blobs (8 x 8 noise enlarged to 200 px: the blurry blobs that BlazeFace's two
    looks can take for a face)."""
    import cv2
    rng = np.random.default_rng(seed)
    sources = faceless_images((n + 1) // 2, seed + 1)
    out = []
    for k in range(n):
        if k % 2:
            out.append(cv2.resize(rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8), (200, 200)))
            continue
        img = sources[k // 2]
        side = int(rng.integers(48, 256))
        x, y = int(rng.integers(0, img.shape[1] - side)), int(rng.integers(0, img.shape[0] - side))
        size = int(rng.choice([48, 64, 128, 200]))
        gray = cv2.cvtColor(img[y:y + side, x:x + side], cv2.COLOR_RGB2GRAY)
        out.append(cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA))
    return out


def matched(found: np.ndarray, truth: np.ndarray, min_iou: float = 0.3) -> np.ndarray:
    """For each true box, whether some found box overlaps it by ``min_iou`` (boxes in any
    convention: the overlap threshold is loose on purpose)."""
    from expnet.detection.mediapipe import box_iou
    if len(found) == 0:
        return np.zeros(len(truth), bool)
    return np.array([box_iou(t, np.asarray(found, dtype=np.float64)).max() >= min_iou for t in truth])

"""Synthetic inputs for benchmarks and tests: landmarks of random prior faces, and 640x480 frames
made from the registry sample photos."""

from __future__ import annotations

import numpy as np

from expnet.face.ibug68 import inter_ocular
from expnet.face.model import LinearModel
from expnet.face.pose import euler_to_rotation, project


def synthetic_faces(model: LinearModel, n: int, noise: float, seed: int = 0,
                    max_yaw: float = 60.0) -> dict[str, np.ndarray]:
    """Random faces from the prior, random pose, projected 68 landmarks plus Gaussian noise
    (``noise`` times the inter-ocular distance). Expression is drawn within +-2.5 std so that
    the truth lies inside the 3-std box."""
    rng = np.random.default_rng(seed)
    shape = rng.standard_normal((n, model.n_shape)) * model.shape_std + model.shape_mean
    expression = (np.clip(rng.standard_normal((n, model.n_expression)), -2.5, 2.5)
                  * model.expression_std + model.expression_mean)
    angles = np.stack([rng.uniform(-25, 25, n), rng.uniform(-max_yaw, max_yaw, n),
                       rng.uniform(-20, 20, n)], axis=1)
    rotation = euler_to_rotation(*np.radians(angles).T)
    scale = rng.uniform(0.0008, 0.004, n)
    translation = rng.uniform(100, 500, (n, 2))
    points = project(model.vertices(shape, expression), rotation, scale, translation)
    iod = inter_ocular(points)
    points = points + rng.standard_normal(points.shape) * noise * iod[:, None, None]
    return dict(shape=shape, expression=expression, angles=angles, landmarks=points)


def benchmark_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """640x480 grey single-face images made from the registry sample photos: the face is cut
    with context, scaled to about 200 px and placed at a random spot."""
    import cv2

    from expnet.assets.samples import SAMPLES, read_pts, sample_path
    from expnet.io.images import load_image

    rng = np.random.default_rng(seed)
    bases = []
    for name in SAMPLES:
        path = sample_path(name)
        gray = load_image(path, "L")
        pts = read_pts(path.with_suffix(".pts"))
        centre = (pts.min(0) + pts.max(0)) / 2
        side = 2.2 * (pts.max(0) - pts.min(0)).max()
        x0, y0 = (centre - side / 2).astype(int)
        region = np.zeros((int(side), int(side)), np.uint8)
        sub = gray[max(y0, 0):y0 + int(side), max(x0, 0):x0 + int(side)]
        region[max(-y0, 0):max(-y0, 0) + sub.shape[0], max(-x0, 0):max(-x0, 0) + sub.shape[1]] = sub
        bases.append(cv2.resize(region, (440, 440), interpolation=cv2.INTER_AREA))
    images = []
    for i in range(n):
        canvas = np.full((480, 640), int(rng.integers(40, 200)), np.uint8)
        x, y = int(rng.integers(0, 200)), int(rng.integers(0, 40))
        canvas[y:y + 440, x:x + 440] = bases[i % len(bases)]
        images.append(canvas)
    return images

"""The paper's qualitative figure (its Fig. 5-6): ExpNet beside its landmark teacher, at full size
and downscaled, rendered as frontal faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from expnet.inference.predictor import DEFAULT_DETECTOR, ExpNet
from expnet.io.figures import pyplot, save_figure
from expnet.io.images import ImageError, downscale, load_image
from expnet.render.visuals import FaceRenderer
from expnet.teacher.fitting import LandmarkFitter
from expnet.teacher.landmarks import DlibLandmarker


def paper_figure(images: list[str | Path], out: Path, model: str | None = None,
                 scales=(1.0, 0.2), detector: str = DEFAULT_DETECTOR) -> tuple[Path, int]:
    """The paper's qualitative figure: per image and scale, the input, then for ExpNet and for the
    landmark baseline (dlib 68 + fit) the subject's shape alone and shape + expression, frontal.
    The face box is found once at full scale and scaled with the image (same box for both).
    An input that cannot be read or has no face is skipped with a warning on stderr; a
    ValueError is raised only when none is left. Returns the figure's path and the number of
    inputs shown."""
    import sys

    plt = pyplot()

    renderer = FaceRenderer()
    net = ExpNet(model, detector=detector)
    landmarker = DlibLandmarker()
    fitter = LandmarkFitter(renderer.model.landmarks)
    rows = []
    for path in images:
        try:
            full = load_image(path, "L")
        except ImageError as exc:
            print(f"figure: skipped {exc}", file=sys.stderr)
            continue
        boxes = net.find_faces(full)
        if not boxes:
            print(f"figure: skipped {path}: no face found", file=sys.stderr)
            continue
        box = boxes[0]
        for scale in scales:
            img = downscale(full, scale)
            f = img.shape[1] / full.shape[1]
            b = [box.x0 * f, box.y0 * f, box.x1 * f, box.y1 * f]
            pred = net.predict(img, boxes=[b]).faces[0]
            fit = fitter.fit(landmarker.predict(img, np.array(b)))
            rows.append((Path(path).name, scale, img, [
                renderer.frontal(pred.shape, None), renderer.frontal(pred.shape, pred.expression),
                renderer.frontal(fit.shape[0], None), renderer.frontal(fit.shape[0], fit.expression[0])]))
    if not rows:
        raise ValueError("no input with a face for the figure")
    titles = ["input", "ExpNet: shape", "ExpNet: shape + expression", "landmarks + fit: shape",
              "landmarks + fit: shape + expression"]
    fig, axes = plt.subplots(len(rows), 5, figsize=(12.5, 2.6 * len(rows)), squeeze=False)
    for r, (name, scale, img, renders) in enumerate(rows):
        axes[r, 0].imshow(img, cmap="gray", interpolation="nearest")
        axes[r, 0].set_ylabel(f"{name}\nscale {scale:g} ({img.shape[1]}x{img.shape[0]})", fontsize=8)
        for c, rgb in enumerate(renders, 1):
            axes[r, c].imshow(rgb)
        for c in range(5):
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=9)
    fig.tight_layout()
    save_figure(fig, out, dpi=90)
    return out, len(rows) // len(scales)



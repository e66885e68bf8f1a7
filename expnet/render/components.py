"""A figure of expression components: each one at -2 and +2 prior standard deviations on the mean
face, seen from the front (the extra components of :mod:`expnet.face.extra_basis`, or any)."""

from __future__ import annotations

import os
from pathlib import Path

from expnet.face.extra_basis import ExtraComponents, extended_face_model
from expnet.face.model import FaceModel
from expnet.io.figures import pyplot, save_figure
from expnet.render.visuals import FaceRenderer

PER_ROW = 5


def components_figure(model: FaceModel, components: list[int], path: str | os.PathLike, size: int = 320,
                      n_std: float = 2.0, names: list[str] | None = None) -> Path:
    """Render each expression component of ``model`` in ``components`` at -``n_std`` and +``n_std``
    prior std (the others at their mean) and write the grid as a PNG."""
    renderer = FaceRenderer(model)
    names = names or [f"component {k}" for k in components]
    rows = -(-len(components) // PER_ROW)
    plt = pyplot()
    fig, axes = plt.subplots(rows, 2 * PER_ROW, figsize=(2 * PER_ROW * 1.6, rows * 2.0), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for n, (k, name) in enumerate(zip(components, names)):
        for side, sign in enumerate((-1, 1)):
            expression = model.expression_mean.copy()
            expression[k] += sign * n_std * model.expression_std[k]
            ax = axes[n // PER_ROW, 2 * (n % PER_ROW) + side]
            face = renderer.frontal(None, expression, size)
            ax.imshow(face[int(0.22 * size):int(0.88 * size), int(0.2 * size):int(0.8 * size)])  # the face, no ears
            ax.set_title(f"{name} {'-' if sign < 0 else '+'}{n_std:g}σ", fontsize=7)
    fig.tight_layout(pad=0.3)
    path = Path(path)
    return save_figure(fig, path, dpi=110)


def extra_components_figure(extra: ExtraComponents, path: str | os.PathLike) -> Path:
    """The figure of a set of extra expression components (``expnet components --figure``)."""
    model = FaceModel.load()
    ten = model.n_expression
    return components_figure(extended_face_model(model, extra), list(range(ten, ten + extra.k)), path,
                             names=[f"extra {k}" for k in range(extra.k)])

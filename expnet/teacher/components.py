"""Extra expression components, learned from what the 10-component fit leaves unexplained.

The 3DDFA basis has 10 expression components (the paper regressed 29). The part of the 68 landmarks
that a fit with those 10 cannot explain still holds expression. For each fitted face of the label
files: the landmark residual (observed minus projected), taken back into the model's frame (divided
by the fit's scale, un-rotated), on the 51 inner points (the jaw line is a silhouette, not fixed
vertices); made orthogonal to the 10 components on those points, so that the ten keep their
meaning; with each identity's mean residual subtracted where identities are known (what stays the
same across a person's images is their face, not an expression). The principal components of what
remains are the extra components, their variances the prior of the fit.

>>> extra = learn_components(rows, model.landmarks, k=10)
>>> fitter = LandmarkFitter(extend(model.landmarks, extra))   # fits 10 + 10 coefficients

Storing, extending a model with them and their dense extension: :mod:`expnet.face.extra_basis`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from expnet.face.extra_basis import ExtraComponents
from expnet.face.ibug68 import N_LANDMARKS
from expnet.face.model import LinearModel
from expnet.face.pose import rotation_to_euler
from expnet.io.labels import is_fitted, iter_rows

INNER = np.arange(17, N_LANDMARKS)   # brows, nose, eyes, mouth: not the jaw's silhouette
MAX_ANGLE = 30.0                     # faces turned further are left out: the frame is a flat approximation


def frontal_residuals(rows: list[dict], model: LinearModel) -> tuple[np.ndarray, list[str | None]]:
    """(F, 51, 2) residuals of the fitted rows in the model's frame (x right, y up; model units)
    and each row's identity; rows turned more than :data:`MAX_ANGLE` are left out."""
    from expnet.face.pose import project
    ok = [r for r in rows if is_fitted(r) and r.get("pose")]
    rotation = np.array([r["pose"]["rotation"] for r in ok])
    angles = np.degrees(rotation_to_euler(rotation))
    keep = (np.abs(angles[:, :2]) <= MAX_ANGLE).all(1)
    ok = [r for r, k in zip(ok, keep) if k]
    rotation = rotation[keep]
    scale = np.array([r["pose"]["scale"] for r in ok])
    translation = np.array([r["pose"]["translation"] for r in ok])
    points = model.vertices(np.array([r["shape"] for r in ok]),
                            np.array([r["expression"][:model.n_expression] for r in ok]))
    projected = project(points, rotation, scale, translation)
    residual = np.array([r["landmarks"] for r in ok]) - projected
    # image (x right, y down) -> camera frame (y up) -> model frame: un-rotate with z = 0
    camera = np.concatenate([residual * [1.0, -1.0], np.zeros(residual.shape[:2] + (1,))], axis=2)
    model_frame = np.einsum("bji,bkj->bki", rotation, camera) / scale[:, None, None]
    return model_frame[:, INNER, :2], [r.get("identity") for r in ok]


def rows_of(label_files: list, exclude: set[str] | None = None) -> list[dict]:
    """The rows of label files, without those of the ``exclude`` identities (e.g. evaluation's)."""
    exclude = exclude or set()
    return [r for f in label_files for r in iter_rows(f) if r.get("identity") is None or r["identity"] not in exclude]


def learn_components(rows: list[dict], model: LinearModel, k: int = 20) -> ExtraComponents:
    """Extra components from label rows of ``expnet label`` (see the module doc).

    Parameters
    ----------
    rows : list of dict
        Label rows (fitted with the 10-component model); ``identity`` is used where set.
    model : LinearModel
        The 68-landmark sub-model the rows were fitted with.
    k : int
        Components to keep.
    """
    residual, identities = frontal_residuals(rows, model)
    if len(residual) <= k:
        raise ValueError(f"{len(residual)} usable fitted faces; need more than k = {k}")
    x = residual.reshape(len(residual), -1)                               # (F, 102)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ident in enumerate(identities):
        if ident is not None:
            groups[ident].append(i)
    for members in groups.values():
        if len(members) > 1:
            x[members] -= x[members].mean(0)
    e = model.expression_basis[INNER, :2].reshape(-1, model.n_expression)   # (102, 10)
    q, _ = np.linalg.qr(e)
    x = x - (x @ q) @ q.T                                                  # orthogonal to the ten
    x = x - x.mean(0)
    _, sv, vt = np.linalg.svd(x, full_matrices=False)
    variance = sv[:k] ** 2 / (len(x) - 1)
    basis = np.zeros((N_LANDMARKS, 3, k))
    basis[INNER, :2] = vt[:k].T.reshape(len(INNER), 2, k)
    # a component's sign is arbitrary: fix it so that rebuilding gives the same arrays
    signs = np.sign(basis.reshape(-1, k)[np.abs(basis.reshape(-1, k)).argmax(0), np.arange(k)])
    return ExtraComponents(basis * signs, np.sqrt(variance), len(x))

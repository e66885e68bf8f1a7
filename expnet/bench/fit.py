"""``expnet bench fit`` and ``fit-prior``: the landmark fit on synthetic faces."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from expnet.bench.synthetic import synthetic_faces
from expnet.face.model import FaceModel, LinearModel
from expnet.teacher.fitting import FitConfig, LandmarkFitter


def _fit_errors(model: LinearModel, faces: dict, config: FitConfig) -> dict:
    fitter = LandmarkFitter(model, config)
    fitter.fit(faces["landmarks"])  # warm-up: the first call pays for page-faulting fresh arrays
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = fitter.fit(faces["landmarks"])
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    err = (result.expression - faces["expression"]) / model.expression_std
    return {
        "fits_per_second": round(len(result) / seconds, 1),
        "expression_rmse_std": round(float(np.sqrt((err ** 2).mean())), 4),
        "expression_corr": round(float(np.mean([np.corrcoef(result.expression[:, j], faces["expression"][:, j])[0, 1]
                                                 for j in range(model.n_expression)])), 4),
        "angle_median_abs_error_deg": dict(zip(["pitch", "yaw", "roll"], np.round(
            np.median(np.abs(result.angles - faces["angles"]), 0), 3).tolist())),
        "at_bound_fraction": round(float(result.at_bound.mean()), 4),
        "residual_median": round(float(np.median(result.residual)), 4),
    }


def bench_fit(faces: int = 1000, noise: float = 0.03, seed: int = 0) -> dict:
    """Fits per second and recovery errors on ``faces`` synthetic faces whose landmarks carry
    Gaussian noise of ``noise`` inter-ocular distances."""
    model = FaceModel.load().landmarks
    truth = synthetic_faces(model, faces, noise, seed)
    return {"faces": faces, "noise_iod": noise, "config": FitConfig().__dict__,
            **_fit_errors(model, truth, FitConfig())}


def bench_fit_prior(faces: int = 1000, noise: float = 0.03, seed: int = 0) -> dict:
    """The sweep that chose the fit's expression prior weight (errors for each weight)."""
    model = FaceModel.load().landmarks
    truth = synthetic_faces(model, faces, noise, seed)
    rows = {}
    for weight in (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1):
        config = replace(FitConfig(), expression_prior=weight, iterations=10)
        rows[str(weight)] = _fit_errors(model, truth, config)
    best = min(rows, key=lambda k: rows[k]["expression_rmse_std"])
    return {"faces": faces, "noise_iod": noise, "by_expression_prior": rows,
            "best_expression_prior": float(best)}

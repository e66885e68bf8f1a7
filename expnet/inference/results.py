"""Typed results of inference: one :class:`ImagePrediction` per input, one :class:`FacePrediction`
per face; ``to_dict`` gives the JSON Lines row."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from expnet.face.pose import Pose


@dataclass
class FacePrediction:
    box: np.ndarray                    # (4,) x0, y0, x1, y1 (detector convention: dlib-hog)
    score: float
    detector: str
    expression: np.ndarray             # (Ke,) raw coefficients, interchangeable with 3DDFA's param[52:62]
    expression_normalized: np.ndarray  # (Ke,) (raw - prior mean) / prior std
    pose: Pose
    shape: np.ndarray                  # (Ks,) raw coefficients
    track: int | None = None           # videos: the face's track id
    smoothed: dict | None = None       # videos with smoothing: filtered expression and angles
    expression_extra: np.ndarray | None = None             # (K,) models with extra components: raw
    expression_extra_normalized: np.ndarray | None = None  # (K,) and whitened by their prior

    def to_dict(self, digits: int = 5) -> dict:
        r = lambda a: np.round(np.asarray(a, dtype=np.float64), digits).tolist()  # noqa: E731
        pose = self.pose.to_dict()
        return {"box": r(self.box), "score": round(float(self.score), 4), "detector": self.detector,
                "expression": r(self.expression), "expression_normalized": r(self.expression_normalized),
                "pose": {"yaw": round(pose["yaw"], 3), "pitch": round(pose["pitch"], 3),
                         "roll": round(pose["roll"], 3), "rotation": r(self.pose.rotation),
                         "translation": r(self.pose.translation), "scale": float(f"{self.pose.scale:.6g}")},
                "shape": r(self.shape),
                **({"expression_extra": r(self.expression_extra),
                    "expression_extra_normalized": r(self.expression_extra_normalized)}
                   if self.expression_extra is not None else {}),
                **({"track": self.track} if self.track is not None else {}),
                **({"smoothed": self.smoothed} if self.smoothed is not None else {})}


@dataclass
class ImagePrediction:
    image: str
    width: int | None = None
    height: int | None = None
    faces: list[FacePrediction] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return {"image": self.image, "width": self.width, "height": self.height,
                "faces": [f.to_dict() for f in self.faces], "error": self.error}

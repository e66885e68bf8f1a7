"""expnet: landmark-free, deep 3D facial expression estimation (ExpNet, FG 2018).

The subpackages are the data paths:

- :mod:`expnet.core`: images, face boxes and crops, pose, the face model, its mesh (numpy only)
- :mod:`expnet.inference`: image -> detection -> crop -> network -> coefficients (``ExpNet``)
- :mod:`expnet.render`: coefficients -> mesh -> rendered overlays and frontal faces
- :mod:`expnet.teacher`: landmarks -> fit -> labels (``expnet label``; dlib's weights)
- :mod:`expnet.training`: labels -> training -> ONNX export and model card (torch)
- :mod:`expnet.evaluation`: datasets -> methods -> 5-NN -> report (``expnet evaluate``)
- :mod:`expnet.bench`: measured figures (``expnet bench``)

The landmark fitter is exported lazily, so that ``from expnet import ExpNet`` loads no part of
the teacher.
"""

from importlib import import_module

from expnet.core.facemodel import FaceModel, LinearModel
from expnet.core.pose import Pose
from expnet.inference.predictor import ExpNet
from expnet.inference.results import FacePrediction, ImagePrediction

__all__ = ["ExpNet", "FacePrediction", "ImagePrediction", "FaceModel", "LinearModel", "LandmarkFitter",
           "FitConfig", "FitResult", "Pose"]
__version__ = "0.2.0"

_LAZY = {"LandmarkFitter": "expnet.teacher.fitting", "FitConfig": "expnet.teacher.fitting",
         "FitResult": "expnet.teacher.fitting"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'expnet' has no attribute {name!r}")

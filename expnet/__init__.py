"""expnet: landmark-free, deep 3D facial expression estimation (ExpNet, FG 2018).

The subpackages are the data paths, from the bottom up:

- :mod:`expnet.io`: image loading, inputs, atomic outputs, side files, label files, pools
- :mod:`expnet.assets`: files from the package registries (basis, sample photos), cached
- :mod:`expnet.face`: the 3D face model, pose, mesh, iBUG-68
- :mod:`expnet.detection`: face boxes, detectors (BlazeFace, dlib, OpenCV) and crops
- :mod:`expnet.inference`: image -> detection -> crop -> network -> coefficients (``ExpNet``)
- :mod:`expnet.render`: coefficients -> mesh -> rendered overlays and frontal faces
- :mod:`expnet.teacher`: landmarks -> fit -> labels (``expnet label``; dlib's weights)
- :mod:`expnet.profiling`: labels -> turned views with exact labels (``expnet profile``)
- :mod:`expnet.training`: labels -> training -> ONNX export and model card (torch)
- :mod:`expnet.evaluation`: datasets -> methods -> 5-NN -> report (``expnet evaluate``)
- :mod:`expnet.cluster`: predict and label on Ray (``--engine ray``)
- :mod:`expnet.serve`: the local web app (``expnet serve``)
- :mod:`expnet.bench`: measured figures (``expnet bench``)
- :mod:`expnet.cli`: the ``expnet`` command (parsing and printing only)

The landmark fitter is exported lazily, so that ``from expnet import ExpNet`` loads no part of
the teacher.
"""

from importlib import import_module

from expnet.face.model import FaceModel, LinearModel
from expnet.face.pose import Pose
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

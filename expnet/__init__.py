"""expnet: landmark-free, deep 3D facial expression estimation (ExpNet, FG 2018).

image -> face detection -> crop -> network -> coefficients -> mesh / render   (inference: ExpNet)
landmarks -> fit -> labels -> train -> export                               (the training side)
"""

from expnet.facemodel import FaceModel, LinearModel
from expnet.fitting import FitConfig, FitResult, LandmarkFitter
from expnet.pose import Pose
from expnet.predictor import ExpNet, FacePrediction, ImagePrediction

__all__ = ["ExpNet", "FacePrediction", "ImagePrediction", "FaceModel", "LinearModel", "LandmarkFitter",
           "FitConfig", "FitResult", "Pose"]
__version__ = "0.1.0"

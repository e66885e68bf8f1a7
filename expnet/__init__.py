"""expnet: landmark-free, deep 3D facial expression estimation (ExpNet, FG 2018)."""

from expnet.facemodel import FaceModel, LinearModel
from expnet.fitting import FitConfig, FitResult, LandmarkFitter
from expnet.pose import Pose

__all__ = ["FaceModel", "LinearModel", "LandmarkFitter", "FitConfig", "FitResult", "Pose"]
__version__ = "0.1.0"

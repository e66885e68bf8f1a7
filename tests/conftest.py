import os
from pathlib import Path

import numpy as np
import pytest

from expnet.facemodel import FaceModel

DATA = Path(os.environ.get("EXPNET_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


@pytest.fixture(scope="session")
def model() -> FaceModel:
    return FaceModel.load()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared datasets not found at {DATA} (set EXPNET_DATA to their folder)")
    return DATA


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

import numpy as np
import pytest
from PIL import Image

from expnet.evaluation.datasets import (
    DatasetError,
    load_ckplus48,
    load_ckplus_official,
    load_dataset,
    load_emotion_folders,
)


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)


def test_ckplus48_peak_and_clip(tmp_path):
    for f in (17, 18, 19):
        _img(tmp_path / "anger" / f"S010_004_000000{f}.png")
    for f in (5, 6):
        _img(tmp_path / "happy" / f"S011_002_0000000{f}.png")
    peak = load_ckplus48(tmp_path, "peak")
    assert len(peak) == 2 and peak.paths[0].endswith("S010_004_00000019.png")
    assert list(peak.labels) == ["anger", "happy"] and list(peak.groups) == ["S010_004", "S011_002"]
    clip = load_ckplus48(tmp_path, "clip")
    assert len(clip) == 5 and len(set(clip.clips)) == 2


def test_official_ck_layout(tmp_path):
    for f in (1, 2, 3):
        _img(tmp_path / "cohn-kanade-images" / "S005" / "001" / f"S005_001_0000000{f}.png")
    lab = tmp_path / "Emotion" / "S005" / "001" / "S005_001_00000003_emotion.txt"
    lab.parent.mkdir(parents=True)
    lab.write_text("   3.0000000e+00\n")
    data = load_ckplus_official(tmp_path)
    assert list(data.labels) == ["disgust"] and data.paths[0].endswith("00000003.png") and not data.cropped


def test_folder_layout_and_errors(tmp_path):
    _img(tmp_path / "fer" / "happy" / "1.jpg")
    _img(tmp_path / "fer" / "sad" / "2.jpg")
    data = load_emotion_folders(tmp_path / "fer")
    assert data.classes == ["happy", "sad"]
    with pytest.raises(DatasetError, match="not a folder"):
        load_ckplus48(tmp_path / "missing")
    (tmp_path / "bad" / "anger").mkdir(parents=True)
    _img(tmp_path / "bad" / "anger" / "whatever.png")
    with pytest.raises(DatasetError, match="naming"):
        load_ckplus48(tmp_path / "bad")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("nope", tmp_path)
    with pytest.raises(DatasetError, match="labels.csv"):
        load_dataset("lfw-expressions", tmp_path)

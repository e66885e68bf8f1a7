"""Resumable side files: settings header, items read back, a cut-short last line mended."""

import json

import pytest

from expnet.io.sidefile import open_side_file, read_side_file


def test_items_come_back_and_a_half_line_is_ended(tmp_path):
    path = tmp_path / "sub" / "job.progress.jsonl"
    settings = {"detector": "auto", "yaws": (0.0, 30.0)}
    assert list(read_side_file(path, settings)) == []
    with open_side_file(path, settings) as out:
        out.write(json.dumps({"item": 1}) + "\n")
        out.write('{"item": 2, "cut sh')  # an interruption mid-write
    with open_side_file(path, settings) as out:  # tuples compare as their JSON lists
        out.write(json.dumps({"item": 3}) + "\n")
    assert list(read_side_file(path, settings)) == [{"item": 1}, {"item": 3}]
    assert path.read_text().count("\n") == 4  # header, item 1, the ended half line, item 3
    with pytest.raises(ValueError, match="other settings"):
        list(read_side_file(path, {"detector": "dlib-hog", "yaws": (0.0, 30.0)}))

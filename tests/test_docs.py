"""The README's and the docs' code blocks, executed, so that they cannot drift from the code.

Python blocks run as written in a folder holding what they name (``photo.jpg``: the sample photo,
``faces.parquet``, ...). Shell blocks: every ``expnet`` command is parsed by the real parser;
those that work on the sample photo, a generated clip or small folders made here also run, and
must succeed (exit 0, or 1 where an input has no face). Commands that need the research datasets,
a camera, a stream, a cluster, a server that keeps running or hours of training are parsed only;
``pip install`` lines must name extras the project defines, and scripts must exist.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

from expnet.assets.samples import sample_path
from expnet.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
# parsed, not run: datasets, cameras, streams, clusters, servers, long jobs (and what those would make)
PARSE_ONLY = re.compile(r"--camera|rtsp://|--engine ray|--ray-address|/shared/|\$SLURM|\.\./shared|AFLW2000/|"
                        r"^expnet (serve|train|fetch)|^expnet export runs/|outputs/labels|--extra shipped|"
                        r"^expnet evaluate emotion --data|--model mine\.onnx")


def blocks(lang: str):
    for path in FILES:
        for k, m in enumerate(BLOCK.finditer(path.read_text())):
            if m.group(1) == lang:
                yield pytest.param(path, m.group(2), id=f"{path.relative_to(ROOT)}#{k}")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder holding every file the examples name."""
    import cv2

    from expnet.io.images import load_image
    box = tmp_path_factory.mktemp("docs")
    shutil.copy(sample_path(), box / "photo.jpg")
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(sample_path(), box / name)
    (box / "photos").mkdir()
    shutil.copy(sample_path(), box / "photos" / "einstein.jpg")
    takeo = load_image(sample_path("takeo.ppm"))
    cv2.imwrite(str(box / "photos" / "takeo.jpg"), takeo[..., ::-1])
    (box / "crops").mkdir()
    cv2.imwrite(str(box / "crops" / "takeo.jpg"), takeo[60:260, 20:220, ::-1])
    (box / "boxes.csv").write_text("image,x0,y0,x1,y1\ntakeo.jpg,30,70,200,240\n")
    writer = cv2.VideoWriter(str(box / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    frame = cv2.resize(takeo, (160, 240))
    for i in range(12):
        canvas = np.full((240, 320, 3), 80, np.uint8)
        canvas[:, 60 + i:220 + i] = frame
        writer.write(canvas[..., ::-1])
    writer.release()
    (box / "faces").mkdir()
    for i, ident in enumerate(["anna", "anna", "bert", "bert"]):
        shutil.copy(box / "photos" / "takeo.jpg", box / "faces" / f"{ident}_{i:04d}.jpg")
    (box / "ids.csv").write_text("image,identity\n" + "".join(f"{p.name},{p.stem[:4]}\n"
                                                            for p in sorted((box / "faces").iterdir())))
    for emotion in ("happy", "sad"):
        (box / "my_faces" / emotion).mkdir(parents=True)
        for i in range(6):
            img = np.roll(takeo if emotion == "happy" else takeo[:, ::-1], 3 * i, axis=1)
            cv2.imwrite(str(box / "my_faces" / emotion / f"{emotion}{i}.jpg"), img[..., ::-1])
    images = sorted(str(p) for p in (box / "my_faces").rglob("*.jpg"))
    np.savez(box / "mine.npz", image=np.array(images), features=np.random.default_rng(0).normal(size=(12, 4)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "expnet", "predict", "photos/", "-o", "faces.parquet", "--quiet"],
                   cwd=box, env=env, check=True, capture_output=True, timeout=600)
    return box


def _commands(text: str) -> list[str]:
    """The command lines of a shell block (continuations joined, comments and blanks dropped)."""
    text = text.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(" ".join(w if w == "&&" else shlex.quote(w) for w in words))
    return out


@pytest.mark.parametrize("path, code", list(blocks("python")))
def test_python_blocks_run_as_written(path, code, sandbox):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=sandbox, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{path}:\n{code}\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("path, code", list(blocks("bash")))
def test_shell_blocks_parse_and_the_cheap_ones_run(path, code, sandbox):
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLURM_ARRAY_TASK_ID": "0"}
    for line in _commands(code):
        for part in (p.strip() for p in line.split("&&")):
            words = shlex.split(part)
            while len(words) > 1 and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value before the command
                words = words[1:]
            if words[0] == "expnet":
                _expnet(words, part, sandbox, env, path)
            elif words[:2] == ["pip", "install"]:
                named = re.findall(r"\[(\w+)\]", part)
                assert set(named) <= extras, f"{path}: {part} names an extra that pyproject.toml lacks"
            elif words[0].startswith("scripts/") or words[:2] == ["bash", "scripts/check_wheel.sh"]:
                script = ROOT / (words[1] if words[0] == "bash" else words[0])
                assert script.is_file(), f"{path}: {script} does not exist"


def _expnet(words: list[str], line: str, sandbox: Path, env: dict, path: Path) -> None:
    argv = [os.path.expandvars(w) for w in words[1:]]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"{path}: `{line}` does not parse (exit {exc.code})") from None
    if PARSE_ONLY.search(line) or argv[0] == "train":
        return
    if argv[0] in ("label", "profile", "components") and "torch" in line:
        return
    done = subprocess.run([sys.executable, "-m", "expnet", *argv], cwd=sandbox, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode in (0, 1), f"{path}: `{line}` exited {done.returncode}:\n{done.stderr[-3000:]}"
    if "model" in argv and "info" in argv:
        info = json.loads(done.stdout)
        assert info["triangles"] == 103680 and info["network"]["networks"]

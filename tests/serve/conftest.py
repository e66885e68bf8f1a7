import pytest

pytest.importorskip("fastapi")

from serve_clips import Server  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()

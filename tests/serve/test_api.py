"""expnet serve's API with the framework's test client (every status the app answers), and the
server itself in a subprocess: loopback only, still answering after bad requests, Ctrl-C."""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from serve_clips import Server, face_frames, write_clip  # noqa: E402

from expnet.assets.samples import sample_path  # noqa: E402
from expnet.serve.app import create_app  # noqa: E402
from expnet.serve.guards import host_allowed, origin_allowed, sniff  # noqa: E402
from expnet.serve.options import ServeOptions  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient
    app = create_app(ServeOptions(max_upload_mb=1.0, max_jobs=1, workers=2))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c, app


def _photo(path=None):
    path = path or sample_path("takeo.ppm")
    return {"file": (Path(path).name, Path(path).read_bytes(), "application/octet-stream")}


def test_the_page_is_html_with_a_file_input_and_its_own_scripts(client):
    c, _ = client
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'type="file"' in page.text and "<script" in page.text and "http" not in page.text.split("<body>")[0]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert c.get("/static/app.js").status_code == 200 and c.get("/static/../app.py").status_code == 404
    assert c.get("/docs").status_code == 200 and "/api/predict" in c.get("/openapi.json").text


def test_a_photo_gives_the_predict_row_and_what_to_draw(client):
    c, _ = client
    r = c.post("/api/predict", files=_photo())
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["image"] == "takeo.ppm" and row["error"] is None and len(row["faces"]) == 1
    face = row["faces"][0]
    assert len(face["expression"]) == 10 and {"yaw", "pitch", "roll", "rotation"} <= set(face["pose"])
    assert len(row["draw"][0]["landmarks"]) == 68
    topology = c.get("/api/topology").json()
    assert len(row["draw"][0]["wireframe"]) == topology["vertices"] and len(topology["triangles"]) > 500
    one = c.post("/api/predict", files=_photo(), data={"one_crop": "true", "detector": "none"}).json()
    assert len(one["faces"]) == 1  # the whole image as the face
    assert c.post("/api/predict", files=_photo(), data={"detector": "no-such"}).status_code == 400
    frontal = c.post("/api/frontal", json={"shape": face["shape"], "expression": face["expression"]})
    assert frontal.status_code == 200 and frontal.content[:4] == b"\x89PNG"
    mesh = c.post("/api/mesh", json={"shape": face["shape"], "expression": face["expression"]})
    assert mesh.status_code == 200 and sum(line.startswith("v ") for line in mesh.text.splitlines()) == 53215
    assert c.post("/api/frontal", json={"expression": [1, 2]}).status_code == 400


def test_bad_uploads_get_json_errors_and_the_server_goes_on(client, tmp_path):
    c, _ = client
    text = c.post("/api/predict", files={"file": ("photo.jpg", b"this is a text file\n" * 20, "image/jpeg")})
    assert text.status_code == 415 and "not an image" in text.json()["error"]
    empty = c.post("/api/predict", files={"file": ("x.png", b"", "image/png")})
    assert empty.status_code == 415 and "empty" in empty.json()["error"]
    truncated = c.post("/api/predict", files={"file": ("t.jpg", sample_path().read_bytes()[:2000], "image/jpeg")})
    assert truncated.status_code == 422 and "t.jpg" in truncated.json()["error"]
    big = c.post("/api/predict", files={"file": ("big.jpg", b"\xff\xd8\xff" + b"0" * (2 << 20), "image/jpeg")})
    assert big.status_code == 413 and "limit" in big.json()["error"]
    from PIL import Image
    bomb = tmp_path / "bomb.png"
    Image.new("L", (9000, 8000)).save(bomb)  # 72 megapixels, a few kB: decoded-size guard
    assert c.post("/api/predict", files=_photo(bomb)).status_code == 422
    assert c.post("/api/predict").status_code == 400  # no file field
    assert c.post("/api/predict", files=_photo()).status_code == 200  # still answering


def test_foreign_hosts_and_cross_site_origins_are_refused(client):
    c, _ = client
    evil = c.get("/", headers={"host": "evil.example"})
    assert evil.status_code == 421 and "DNS rebinding" in evil.json()["error"]
    assert c.get("/api/health", headers={"host": "localhost:8000"}).status_code == 200
    cross = c.post("/api/predict", files=_photo(), headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    assert c.post("/api/predict", files=_photo(), headers={"origin": "http://127.0.0.1:8000"}).status_code == 200
    from starlette.websockets import WebSocketDisconnect
    with pytest.raises(WebSocketDisconnect):
        with c.websocket_connect("/api/live", headers={"origin": "http://evil.example", "host": "127.0.0.1"}) as ws:
            ws.receive_json()


def test_guards_by_their_rules():
    assert host_allowed("127.0.0.1:8000", "127.0.0.1") and host_allowed("localhost", "127.0.0.1")
    assert host_allowed("[::1]:80", "127.0.0.1") and not host_allowed("evil.example:8000", "127.0.0.1")
    assert not host_allowed(None, "127.0.0.1") and not host_allowed("192.168.1.5", "127.0.0.1")
    assert host_allowed("192.168.1.5:8000", "0.0.0.0") and not host_allowed("rebind.evil.example", "0.0.0.0")
    assert origin_allowed(None, "127.0.0.1") and not origin_allowed("null", "127.0.0.1")
    assert not origin_allowed("file://", "127.0.0.1")
    assert sniff(b"\xff\xd8\xff\xe0") == ("image", "JPEG") and sniff(b"\x00\x00\x00\x18ftypmp42")[0] == "video"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST")[0] == "video" and sniff(b"hello") is None


def test_a_video_job_reports_progress_and_its_outputs(client, tmp_path):
    c, _ = client
    clip = write_clip(tmp_path / "clip.avi", n=12)
    assert c.post("/api/jobs", files=_photo()).status_code == 415  # a photo is not a video
    r = c.post("/api/jobs", files={"file": ("clip.avi", clip.read_bytes(), "video/x-msvideo")})
    assert r.status_code == 202, r.text
    job = r.json()
    busy = c.post("/api/jobs", files={"file": ("clip.avi", clip.read_bytes(), "video/x-msvideo")})
    assert busy.status_code in (202, 429)  # the queue holds one job: 429 while the first one runs
    deadline = time.time() + 240
    while job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
        job = c.get(f"/api/jobs/{job['id']}").json()
        assert job["frames_done"] <= max(job["frames_total"], job["frames_done"])
    assert job["status"] == "done", job
    assert job["frames_done"] == 12 and set(job["outputs"]) == {"jsonl", "csv", "parquet"}
    frames = c.get(f"/api/jobs/{job['id']}/frames").json()
    assert len(frames["frames"]) == 12 and frames["series"] and all(len(f["faces"]) == 1 for f in frames["frames"])
    rows = [json.loads(line) for line in c.get(job["outputs"]["jsonl"]).text.splitlines()]
    assert len([r for r in rows if not r.get("clip")]) == 12 and rows[-1]["clip"]
    assert c.get(job["outputs"]["csv"]).text.startswith("image,face,error")
    assert c.get(job["outputs"]["parquet"]).content[:4] == b"PAR1"
    assert c.get(f"/api/jobs/{job['id']}/../../etc/passwd").status_code == 404
    assert c.get("/api/jobs/nope").status_code == 404
    folder = c.app.state.expnet.jobs.jobs[job["id"]].folder
    assert not any(folder.glob("upload*"))  # the upload goes when the job ends
    assert c.delete(f"/api/jobs/{job['id']}").status_code == 200 and not folder.exists()
    broken = c.post("/api/jobs", files={"file": ("bad.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500, "video/mp4")})
    if broken.status_code == 202:
        bad = broken.json()
        while bad["status"] in ("queued", "running"):
            time.sleep(0.2)
            bad = c.get(f"/api/jobs/{bad['id']}").json()
        assert bad["status"] == "failed" and bad["error"]


def test_live_frames_over_the_websocket(client):
    import cv2
    c, _ = client
    with c.websocket_connect("/api/live", headers={"origin": "http://127.0.0.1:8000", "host": "127.0.0.1:8000"}) as ws:
        answers = []
        for frame in face_frames(6):
            ws.send_bytes(cv2.imencode(".jpg", frame[..., ::-1])[1].tobytes())
            answers.append(ws.receive_json())
        ws.send_bytes(b"not a jpeg")
        assert "error" in ws.receive_json()
    assert [a["frame"] for a in answers] == list(range(6))
    assert all(len(a["faces"]) == 1 for a in answers[1:]) and len(answers[-1]["faces"][0]["landmarks"]) == 68
    assert answers[-1]["faces"][0]["track"] == answers[1]["faces"][0]["track"]  # tracked


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    import ipaddress
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                raw = bytes.fromhex(addr)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(raw)))
    return found


def test_the_server_listens_on_loopback_only_and_stops_on_ctrl_c(server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system to read listening sockets from")
    assert _listening_addresses(server.port) == {"127.0.0.1"}
    assert server.url.startswith("http://localhost:")
    with urllib.request.urlopen(server.url + "/api/health", timeout=30) as r:
        assert json.loads(r.read())["status"] == "ok"
    req = urllib.request.Request(server.url + "/", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(req, timeout=30)
    assert bad.value.code == 421
    with urllib.request.urlopen(server.url + "/api/health", timeout=30) as r:  # still answering
        assert r.status == 200


def test_ctrl_c_stops_the_server_cleanly_and_removes_its_files(tmp_path):
    import os

    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("expnet-serve-*"))
    s = Server()
    assert s.stop() == 0
    after = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("expnet-serve-*"))
    assert after <= before  # its temporary folders are gone


def test_serving_on_every_address_warns_and_bad_settings_are_usage_errors():

    from expnet.cli import main
    assert main(["serve", "--port", "70000"]) == 2  # a bad port is a usage error, not a crash
    s = Server("--host", "0.0.0.0")
    s.stop()
    assert "anyone who can reach this machine" in s.proc.stderr.read()

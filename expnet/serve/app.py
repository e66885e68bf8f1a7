"""The web application of ``expnet serve`` (FastAPI, served by uvicorn).

Routes (the page uses only these; the OpenAPI page is at ``/docs``):

- ``GET /``: the page; ``GET /static/{name}``: its script and style sheet.
- ``POST /api/predict`` (multipart ``file``; form fields ``one_crop``, ``detector``): the row
  ``expnet predict`` writes for the image, plus ``draw`` (each face's projected wireframe and 68
  landmarks).
- ``GET /api/topology``: the wireframe's triangles (once per page).
- ``POST /api/frontal``, ``POST /api/mesh`` (JSON ``shape``, ``expression``): the frontal render
  (PNG) and the mesh (OBJ) of a face.
- ``POST /api/jobs`` (multipart ``file``: a video): 202 and the job; ``GET /api/jobs/{id}``: its
  progress; ``GET /api/jobs/{id}/frames``: the per-frame drawings and per-track series;
  ``GET /api/jobs/{id}/rows.jsonl|rows.csv|rows.parquet``: its rows; ``DELETE /api/jobs/{id}``.
- ``WS /api/live``: live frames (see :mod:`expnet.serve.live`).

Errors are JSON ``{"error": ...}``: 400 a bad request, 404 no such job, 413 an upload over the cap,
415 a file that is not what the route takes (sniffed from its bytes), 422 an image that cannot be
decoded, 429 a full job queue, 421 a foreign Host (DNS rebinding), 403 a cross-site Origin.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Annotated

try:  # the extra expnet[serve]
    import python_multipart  # noqa: F401  (FastAPI's form parsing)
    import uvicorn
    from fastapi import FastAPI, File, Form, Request, UploadFile, WebSocket, WebSocketDisconnect
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from starlette.exceptions import HTTPException
except ImportError:
    raise ImportError("expnet serve needs the web stack: pip install 'expnet[serve]'") from None

from expnet.inference.jobs import PredictOptions
from expnet.io.images import ImageError
from expnet.serve.drawing import FaceDrawings
from expnet.serve.guards import describe_bytes, host_allowed, origin_allowed, sniff
from expnet.serve.jobs import OUTPUTS, Predictors, QueueFull, VideoJobs
from expnet.serve.live import LiveSession
from expnet.serve.options import LOOPBACK, ServeOptions

STATIC = ("index.html", "app.js", "style.css")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY",
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'"}


class UploadTooLarge(Exception):
    """A body without Content-Length that grew past the cap while it streamed in."""


class Guard:
    """ASGI middleware: the Host and Origin checks and the upload cap, before any route runs."""

    def __init__(self, app, bound: str, max_bytes: int):
        self.app, self.bound, self.max_bytes = app, bound, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        problem = None
        if not host_allowed(headers.get("host"), self.bound):
            problem = (421, f"Host {headers.get('host')!r} is not this server's address: refused (DNS rebinding "
                            "protection); use http://localhost or the address it printed")
        elif not origin_allowed(headers.get("origin"), self.bound):
            problem = (403, f"cross-site request from {headers.get('origin')!r} refused")
        if problem and scope["type"] == "websocket":
            await receive()  # the connect event
            return await send({"type": "websocket.close", "code": 1008, "reason": problem[1][:120]})
        if problem:
            return await _json(send, problem[0], problem[1])
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT"):
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                return await _json(send, 413, f"upload of {int(length) >> 20} MiB is over the limit of "
                                              f"{self.max_bytes >> 20} MiB (expnet serve --max-upload-mb)")
            receive = self._capped(receive)
        if scope["type"] == "http":
            send = _with_headers(send)
        try:
            await self.app(scope, receive, send)
        except UploadTooLarge:
            await _json(send, 413, f"upload over the limit of {self.max_bytes >> 20} MiB "
                                   "(expnet serve --max-upload-mb)")

    def _capped(self, receive):
        seen = 0

        async def wrapped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise UploadTooLarge()
            return message
        return wrapped


def _with_headers(send):
    """``send`` that adds the security headers to every response."""
    extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def wrapped(message):
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            message = {**message, "headers": list(message.get("headers", [])) + [h for h in extra if h[0] not in names]}
        await send(message)
    return wrapped


async def _json(send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AppState:
    """What the routes share: options, predictor pools, drawings, the thread pool and the jobs."""

    def __init__(self, options: ServeOptions):
        self.options = options
        self.base = PredictOptions(model=options.model)
        self.executor = ThreadPoolExecutor(options.workers, thread_name_prefix="expnet-serve")
        self.pools: dict[tuple, Predictors] = {}
        self.drawings = FaceDrawings()
        self.jobs = VideoJobs(self.pool(self.base), self.drawings, self.executor, options.max_jobs)
        self.uploads = Path(tempfile.mkdtemp(prefix="expnet-serve-uploads-"))

    def pool(self, options: PredictOptions) -> Predictors:
        key = (options.detector, options.crop_scales)
        if key not in self.pools:
            self.pools[key] = Predictors(options)
        return self.pools[key]

    def close(self) -> None:
        self.jobs.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.uploads, ignore_errors=True)


def create_app(options: ServeOptions | None = None):
    """The FastAPI application (``uvicorn`` runs it; tests use its test client)."""
    options = options or ServeOptions()
    state = AppState(options)

    @asynccontextmanager
    async def lifespan(app):
        yield
        state.close()  # temporary files go when the server stops

    app = FastAPI(title="expnet", version=_version(), lifespan=lifespan,
                  description="Landmark-free 3D facial expression, pose and shape of photos, videos and a webcam.")
    app.state.expnet = state
    app.add_middleware(Guard, bound=options.host, max_bytes=options.max_upload_bytes)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        return error(400, f"bad request: {'.'.join(map(str, first.get('loc', [])))} {first.get('msg', '')}".strip())

    @app.exception_handler(Exception)
    async def crashed(request, exc):  # a crash in one request answers 500 and the server goes on
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    async def read_upload(upload: UploadFile, kind: str, folder: Path) -> tuple[Path, str]:
        """The upload saved under ``folder``, after its first bytes say it is an ``kind``."""
        head = await upload.read(64)
        found = sniff(head)
        name = Path(upload.filename or "upload").name
        if found is None or found[0] != kind:
            what = f"a {found[0]} ({found[1]})" if found else describe_bytes(head)
            raise HTTPException(415, f"{name} is not {'an image' if kind == 'image' else 'a video'}: {what}")
        await upload.seek(0)
        suffix = Path(name).suffix.lower()[:8] if Path(name).suffix else ".bin"
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir=folder)
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        return Path(tmp), name

    def predict_file(path: Path, name: str, options: PredictOptions) -> dict:
        with state.pool(options).get() as net:
            pred = net.predict(path)
        pred.image = name
        if pred.error and not pred.faces and pred.error != "no face found":
            raise ImageError(pred.error.replace(str(path), name))
        return {**pred.to_dict(), "draw": [state.drawings.face(f) for f in pred.faces]}

    @app.get("/", include_in_schema=False)
    async def page():
        return _static("index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return _static(name)

    @app.get("/api/health")
    async def health():
        return {"status": "ok", "version": _version(), "active_jobs": state.jobs.active()}

    @app.get("/api/topology")
    async def topology():
        return state.drawings.topology()

    @app.post("/api/predict")
    async def predict(file: Annotated[UploadFile, File()], one_crop: Annotated[bool, Form()] = False,
                      detector: Annotated[str, Form()] = ""):
        opts = replace(state.base, detector=detector or state.base.detector).with_one_crop(one_crop)
        _check_detector(opts.detector)
        path, name = await read_upload(file, "image", state.uploads)
        try:
            # a JSONResponse of plain values: FastAPI's generic encoder would take as long as the prediction
            return JSONResponse(await asyncio.get_running_loop().run_in_executor(state.executor, predict_file, path,
                                                                                 name, opts))
        except ImageError as exc:
            raise HTTPException(422, str(exc)) from None
        finally:
            path.unlink(missing_ok=True)

    async def from_coefficients(request: Request, make):
        body = await _coefficients(request)
        try:
            return await asyncio.get_running_loop().run_in_executor(state.executor, make, body["shape"],
                                                                    body["expression"])
        except ValueError as exc:
            raise HTTPException(400, f"bad request: {exc}") from None

    @app.post("/api/frontal")
    async def frontal(request: Request):
        return Response(await from_coefficients(request, state.drawings.frontal_png), media_type="image/png")

    @app.post("/api/mesh")
    async def mesh(request: Request):
        return Response(await from_coefficients(request, state.drawings.obj_text), media_type="text/plain",
                        headers={"content-disposition": "attachment; filename=face.obj"})

    @app.post("/api/jobs", status_code=202)
    async def new_job(file: Annotated[UploadFile, File()]):
        job_id, target = state.jobs.new_upload("")
        path, name = await read_upload(file, "video", target.parent)
        try:
            job = state.jobs.submit(job_id, path, name)
        except QueueFull as exc:
            raise HTTPException(429, str(exc)) from None
        return job.progress()

    def job_of(job_id: str):
        job = state.jobs.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    @app.get("/api/jobs/{job_id}")
    async def job_progress(job_id: str):
        return job_of(job_id).progress()

    @app.get("/api/jobs/{job_id}/frames")
    async def job_frames(job_id: str):
        job = job_of(job_id)
        return JSONResponse({"fps": job.fps, "width": job.width, "height": job.height, "frames": job.frames,
                             "series": job.series})

    @app.get("/api/jobs/{job_id}/{name}")
    async def job_output(job_id: str, name: str):
        job = job_of(job_id)
        if name not in OUTPUTS.values():
            raise HTTPException(404, f"no output {name!r}; outputs are {sorted(OUTPUTS.values())}")
        if job.status != "done":
            raise HTTPException(409, f"job {job_id} is {job.status}: its outputs come when it is done")
        return FileResponse(job.folder / name, filename=f"{Path(job.name).stem}-{name}")

    @app.delete("/api/jobs/{job_id}")
    async def delete_job(job_id: str):
        if not state.jobs.delete(job_id):
            raise HTTPException(404, f"no job {job_id!r}")
        return {"deleted": job_id}

    @app.websocket("/api/live")
    async def live(ws: WebSocket):
        await ws.accept()
        with state.pool(state.base).get() as net:  # this camera's tracker keeps one predictor
            await live_session(ws, LiveSession(net, state.drawings))

    async def live_session(ws: WebSocket, session: LiveSession) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        async def receive():
            try:
                while True:
                    message = await ws.receive()
                    if message["type"] == "websocket.disconnect":
                        break
                    if message.get("bytes"):
                        session.offer(message["bytes"])
            except WebSocketDisconnect:
                pass
            finally:
                done.set()
                session.arrived.set()

        reader = asyncio.create_task(receive())
        try:
            while not done.is_set():
                await session.arrived.wait()
                data = session.take()
                if data is None:
                    continue
                result = await loop.run_in_executor(state.executor, session.process, data)
                await ws.send_json(result)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()

    return app


async def _coefficients(request: Request) -> dict:
    try:
        body = await request.json()
        if not isinstance(body, dict) or "expression" not in body:
            raise ValueError("expected a JSON object with 'expression' (and 'shape')")
        return {"shape": body.get("shape"), "expression": body["expression"]}
    except ValueError as exc:
        raise HTTPException(400, f"bad request: {exc}") from None


def _check_detector(spec: str | None) -> None:
    from expnet.detection.chain import backend_names
    if spec is None:
        return
    try:
        backend_names(spec)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _static(name: str) -> Response:
    data = resources.files("expnet.serve").joinpath("static", name).read_bytes()
    return Response(data, media_type=CONTENT_TYPES[Path(name).suffix])


def _version() -> str:
    from expnet import __version__
    return __version__


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one), for uvicorn to serve on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle's algorithm off only on connections of such a socket
    # (with it on, a response's body waits for the client's delayed acknowledgement, 40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    return sock


def serve(options: ServeOptions) -> int:
    """Run the web app until Ctrl-C; prints its address first. Returns the exit status."""
    app = create_app(options)
    sock = bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = "localhost" if host == LOOPBACK else (f"[{host}]" if ":" in host else host)
    if options.host not in (LOOPBACK, "localhost", "::1"):
        print(f"warning: listening on {options.host}: anyone who can reach this machine on port {port} can use "
              "this server (its uploads and your camera frames stay on this machine)", file=sys.stderr)
    try:
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws_max_size=8 << 20)
        print(f"expnet serve: http://{shown}:{port}/  (Ctrl-C stops it)", flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down gracefully and passed Ctrl-C on (or it came at start-up)
        app.state.expnet.close()
    finally:
        sock.close()
    print("expnet serve: stopped", file=sys.stderr)
    return 0

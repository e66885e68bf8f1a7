"""``expnet serve``: the local web app. A FastAPI application served by uvicorn (the extra
``expnet[serve]``): the page (the project's own HTML, CSS and JavaScript, no CDN), a JSON API for
photos and video jobs, and a WebSocket for live webcam frames; loopback by default, with an upload
cap, content sniffing, a bounded job queue and a Host-header check. May import io, assets, face,
detection, inference and render."""

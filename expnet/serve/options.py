"""What ``expnet serve`` runs with (no web framework needed to read them: the command line takes
its defaults from here)."""

from __future__ import annotations

from dataclasses import dataclass

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServeOptions:
    """Settings of the local web app.

    Attributes
    ----------
    host : str
        Address to listen on; loopback by default (anything else is reachable from the network).
    port : int
        Port (0: any free port).
    max_upload_mb : float
        Largest upload accepted (a larger one gets 413).
    workers : int
        Threads that run photo predictions and video jobs.
    max_jobs : int
        Video jobs queued or running at once (one more gets 429).
    model : str, optional
        An ONNX model (default: the shipped one).
    """

    host: str = LOOPBACK
    port: int = 8000
    max_upload_mb: float = 200.0
    workers: int = 2
    max_jobs: int = 4
    model: str | None = None

    def __post_init__(self):
        if not 0 <= int(self.port) < 65536:
            raise ValueError(f"port must be within 0-65535, got {self.port!r}")
        if not self.max_upload_mb > 0 or int(self.workers) < 1 or int(self.max_jobs) < 1:
            raise ValueError("max_upload_mb must be positive, workers and max_jobs at least 1; got "
                             f"{self.max_upload_mb!r}, {self.workers!r}, {self.max_jobs!r}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * (1 << 20))

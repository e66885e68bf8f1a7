"""How a batch command ends: one summary line on stderr and an exit status that says whether
every input succeeded.

Exit statuses of every ``expnet`` command: 0 every input processed; 1 some inputs failed (each
has its row with the reason); 2 a usage or set-up error (nothing processed); 130 interrupted
(finished work is kept, and the same command resumes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def reason(error: str, name: str | None = None) -> str:
    """The kind of a failure: its message without the input's name and details after a colon."""
    if name:
        error = error.replace(str(name), "").strip()
    return " ".join(error.split(":")[0].split()) or "error"


@dataclass
class JobSummary:
    """Counts of one batch job."""

    command: str
    inputs: int = 0
    faces: int = 0
    frames: int = 0
    failures: Counter = field(default_factory=Counter)

    def add(self, name: str, faces: int = 0, error: str | None = None, frames: int = 0) -> None:
        """One finished input: its faces, its error (None: it succeeded), its video frames."""
        self.inputs += 1
        self.faces += faces
        self.frames += frames
        if error:
            self.failures[reason(error, name)] += 1

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def exit_status(self) -> int:
        return EXIT_SOME_FAILED if self.failed else EXIT_OK

    def line(self) -> str:
        text = f"{self.command}: {self.inputs} inputs, {self.faces} faces"
        if self.frames:
            text += f" ({self.frames} video frames)"
        if self.failed:
            kinds = ", ".join(f"{k}: {n}" for k, n in self.failures.most_common())
            text += f"; {self.failed} failed ({kinds})"
        return text


class Interrupted(KeyboardInterrupt):
    """Ctrl-C in the middle of a job, carrying the job's summary so far (the command prints it)."""

    def __init__(self, summary: JobSummary):
        super().__init__(summary.line())
        self.summary = summary


@contextmanager
def interruptible(summary: JobSummary) -> Iterator[JobSummary]:
    """Turn Ctrl-C inside the block into :class:`Interrupted` with ``summary``."""
    try:
        yield summary
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(summary) from None

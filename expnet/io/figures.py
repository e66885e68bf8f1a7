"""matplotlib, for the commands that draw figures: imported on demand, off-screen, and with a
message that names the extra to install when it is missing."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` with the off-screen Agg backend.

    Raises
    ------
    ImportError
        matplotlib is not installed; the message says how to get it.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("figures need matplotlib: pip install 'expnet[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi: int = 100, tight: bool = False):
    """Write a matplotlib figure to ``path`` (PNG by its suffix) atomically and close it; returns
    the path."""
    from pathlib import Path

    from expnet.io.atomic import atomic_path
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png",
                    **({"bbox_inches": "tight"} if tight else {}))
    pyplot().close(fig)
    return path

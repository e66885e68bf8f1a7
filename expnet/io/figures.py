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

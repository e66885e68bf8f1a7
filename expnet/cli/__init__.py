"""The ``expnet`` command line: landmark-free 3D facial expression, pose and shape.

:mod:`expnet.cli.parser` builds the parser, :mod:`expnet.cli.commands` runs each command.
"""

from __future__ import annotations

import sys

from expnet.cli.parser import build_parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status follows :mod:`expnet.io.summary` (0 every input
    processed, 1 some inputs failed, 2 usage or set-up error, 130 interrupted)."""
    from expnet.assets.registry import RegistryFileError
    from expnet.io.summary import EXIT_INTERRUPTED, EXIT_USAGE, Interrupted
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, ImportError, RegistryFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            print(f"{exc.summary.line()} before the interruption", file=sys.stderr)
        print("interrupted; finished work is kept: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED

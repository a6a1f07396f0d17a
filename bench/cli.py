"""The ``bench`` command: argparse subcommands, one ``cmd_<name>`` function each.

The subcommands live in ``bench.commands``, one module per family (searches,
generators, face tools), each adding its own parsers. Usage errors (unknown
names, bad budgets, malformed options, unusable folders) print one line and
exit with status 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from bench.commands import archive, face, generators, search
from bench.commands.common import EXIT_USAGE, USAGE_ERRORS, check_device


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmarks of search in the latent space of trained generators.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  bench list algorithms\n"
        "  bench run --problem sphere --algo ga --budget 2000 --set population=50\n"
        "  bench campaign --problems all --algos random ga --seeds 5 --budget 2000 --out runs/c1\n"
        "  bench show runs/c1",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (search, generators, face, archive):
        module.add_parsers(sub)
    return parser


def _warning_line(message: Warning | str, *_: object, **__: object) -> str:
    """A warning as the command shows it: one line, like its errors."""
    return f"bench: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bench`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    formatwarning = warnings.formatwarning  # catch_warnings() would not restore this one
    warnings.formatwarning = _warning_line
    try:
        return _dispatch(args)
    finally:
        warnings.formatwarning = formatwarning


def _dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand of ``args``; usage errors become one line and status 2."""
    try:
        if getattr(args, "device", None) not in (None, "cpu"):
            check_device(args.device)  # before any work, with the same words everywhere
        return args.func(args)
    except USAGE_ERRORS as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        after = getattr(args, "interrupted", "")  # what happens to the command's work
        print(f"\nbench: interrupted{after}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(0)

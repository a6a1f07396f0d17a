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

from bench.commands import archive, export, face, generators, search, verify
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
    parser.add_argument(
        "--version",
        action=_VersionAction,
        nargs=0,
        help="print the suite's version (and a checkout's commit) and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (search, generators, face, archive, verify, export):
        module.add_parsers(sub)
    return parser


def version_line() -> str:
    """``latent-bench 0.1.0 (commit 1a2b3c4d5e6f, modified)``: what a record's provenance says.

    The commit is given for a git checkout (an editable install), as records give
    it; an installed wheel has none.
    """
    from importlib import metadata

    from bench.provenance import git_state

    try:
        version = metadata.version("latent-bench")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    state = git_state()
    if not state["commit"]:
        return f"latent-bench {version}"
    dirty = ", modified" if state["dirty"] else ""
    return f"latent-bench {version} (commit {state['commit'][:12]}{dirty})"


class _VersionAction(argparse.Action):
    """``--version``: ``version_line()``, found only when asked (it runs git)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_line())
        parser.exit()


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

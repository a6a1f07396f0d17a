"""``bench export-ioh``: runs as IOHprofiler data, for IOHanalyzer and iohinspector.

``bench.ioh_export`` reads the leaderboard's run discovery, which loads pandas'
parquet engine: it is imported when the command runs.
"""

from __future__ import annotations

import argparse

from bench.commands.common import out_folder
from bench.spec import SpecError

SHOWN_LEFT_OUT = 5  # lines of runs left out printed; the README lists them all


def cmd_export_ioh(args: argparse.Namespace) -> int:
    """Write the finished runs of ``args.path`` as IOHprofiler data in ``args.out``."""
    from bench.ioh_export import traced_runs, write_ioh

    out = out_folder(args.out)
    runs, left_out = traced_runs(args.path, tuple(args.problem or ()), tuple(args.algo or ()))
    for line in left_out[:SHOWN_LEFT_OUT]:
        print(f"left out   {line}")
    if len(left_out) > SHOWN_LEFT_OUT:
        print(f"left out   ... and {len(left_out) - SHOWN_LEFT_OUT} more (listed in the README)")
    if not runs:
        print(f"exported   nothing: none of the runs under {args.path} can be exported")
        return 1
    try:
        export = write_ioh(runs, out, source=str(args.path), left_out=left_out)
    except OSError as exc:
        raise SpecError(f"cannot write {out}: {exc.strerror or exc}") from None
    for problem, fid in export.functions.items():
        mine = [r for r in runs if r.problem == problem]
        genes = "/".join(str(d) for d in sorted({r.dim for r in mine}))
        sense = "max" if mine[0].maximize else "min"
        print(f"function   f{fid} = {problem} ({sense}, {genes} genes, {len(mine)} runs)")
    algos = ", ".join(f"{a} ({n})" for a, n in export.runs.items())
    print(f"algorithms {algos}")
    print(
        f"exported   {len(runs)} runs in {len(export.files)} files to {out} "
        "(IOHanalyzer: upload it zipped; iohinspector: DataManager().add_folder)"
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``export-ioh`` subcommand."""
    p = sub.add_parser(
        "export-ioh",
        help="write runs as IOHprofiler data (IOHanalyzer, iohinspector)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write finished runs as IOHprofiler data: per algorithm a JSON per "
        "problem and a .dat file of each run's improvements, evaluation by evaluation.",
        epilog="Exit status 0 when runs were written, 1 when none could be, 2 for usage "
        "errors.\nexamples:\n  bench export-ioh runs/c1 --out runs/c1-ioh\n"
        "  bench export-ioh runs/c1 --problem face --algo ga cma-me --out runs/face-ioh\n"
        "  bench export-ioh results/leaderboard --out runs/board-ioh   # a board built since "
        "2 Dec 2026",
    )
    p.add_argument(
        "path", help="run folder, folder of runs, campaign folder, or leaderboard folder"
    )
    p.add_argument("--out", required=True, help="new folder to write the data set into")
    p.add_argument("--problem", nargs="+", help="only runs of these problems")
    p.add_argument("--algo", nargs="+", help="only runs of these algorithms")
    p.set_defaults(func=cmd_export_ioh)

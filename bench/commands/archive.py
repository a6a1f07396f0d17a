"""``bench archive``: a run's passive-archive snapshots as a table and as heatmaps."""

from __future__ import annotations

import argparse
import math
import zipfile
from pathlib import Path

import numpy as np

from bench.results import ARCHIVE, RECORD, RecordError, load_record, read_archive
from bench.spec import SpecError

KEYS = ("bins", "ranges", "offset", "evaluations", "snapshot", "index", "objective", "found_at")
NO_ARCHIVE = (
    "only runs on a problem with measures (a measure_space: the diversity-* and face "
    "problems) keep one, whatever the algorithm"
)


def at_arg(text: str) -> list[int]:
    """``--at``: evaluation counts separated by commas, each 0 or more (``0,12000,25000``)."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected evaluation counts separated by commas, like 0,12000,25000; got '{text}'"
        ) from None
    if any(n < 0 for n in counts):
        raise argparse.ArgumentTypeError(f"evaluation counts are 0 or more, got '{text}'")
    return counts


def load_run(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The record and the ``archive.npz`` arrays of a run folder.

    Raises:
        SpecError: No such folder, no run record, or no usable ``archive.npz``.

    """
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise SpecError(f"{folder} {what}; give a run folder (one with {RECORD})")
    if not (folder / RECORD).is_file():
        raise SpecError(f"{folder} is not a run folder (no {RECORD}); give one run's folder")
    try:
        record = load_record(folder)
        data = read_archive(folder)
    except RecordError as exc:
        raise SpecError(str(exc)) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SpecError(f"unreadable {folder / ARCHIVE}: {exc}") from None
    if data is None:
        spec = record["spec"]
        if record.get("status") != "finished":
            error = record.get("error") if isinstance(record.get("error"), dict) else {}
            raise SpecError(
                f"{folder} ({spec['problem']} × {spec['algo']}) is a {record.get('status')} run "
                f"({error.get('type', 'no error recorded')}), which saves no {ARCHIVE}"
            )
        raise SpecError(
            f"{folder} ({spec['problem']} × {spec['algo']}) has no {ARCHIVE}: {NO_ARCHIVE}"
        )
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise SpecError(f"unreadable {folder / ARCHIVE}: no {', '.join(missing)} array")
    return record, data


def nearest(evaluations: np.ndarray, requested: list[int], budget: int | None) -> list[int]:
    """Positions of the snapshots nearest each requested count (the earlier of two as near).

    Raises:
        SpecError: A count beyond the run's budget.

    """
    beyond = [n for n in requested if budget is not None and n > budget]
    if beyond:
        raise SpecError(
            f"--at {beyond[0]} is beyond the run's budget of {budget} evaluations; "
            f"ask for counts from 0 to {budget}"
        )
    counts = np.asarray(evaluations, dtype=np.float64)
    positions = [int(np.argmin(np.abs(counts - n))) for n in requested]
    return list(dict.fromkeys(positions))  # in the order asked, each once


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.6g}"


def print_table(summary: list[dict], drawn: list[int]) -> None:
    """The snapshots, one line each; ``*`` marks those drawn."""
    print(f"  {'evaluations':>11}  {'cells':>6}  {'coverage':>8}  {'qd_score':>12}  {'best':>12}")
    for position, row in enumerate(summary):
        mark = "*" if position in drawn else " "
        print(
            f"{mark} {row['evaluations']:>11}  {row['cells']:>6}  {row['coverage']:>8.2%}  "
            f"{_number(row['qd_score']):>12}  {_number(row['best']):>12}"
        )


def _out_path(args: argparse.Namespace, folder: Path) -> Path:
    """The figure's file: ``--out``, or ``<run folder name>-archive.png`` here."""
    from matplotlib.figure import Figure

    path = Path(args.out) if args.out else Path(f"{folder.resolve().name}-archive.png")
    formats = Figure().canvas.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        raise SpecError(
            f"--out {path}: give a file ending in one of {', '.join('.' + f for f in formats)}"
        )
    if path.is_dir():
        raise SpecError(f"--out {path} is a folder; give a file name such as {path / 'map.png'}")
    return path


def cmd_archive(args: argparse.Namespace) -> int:
    """Print a run's archive snapshots and draw heatmaps of some of them."""
    from bench.archive import snapshot_summary
    from bench.leaderboard.figures import ArchiveRow, default_snapshots, draw_archive

    folder = Path(args.run_folder)
    record, data = load_run(folder)
    spec = record["spec"]
    sense = (record.get("problem") or {}).get("sense", "min")
    budget = spec.get("budget") if isinstance(spec.get("budget"), int) else None
    evaluations = data["evaluations"]
    if not len(evaluations):
        raise SpecError(f"{folder / ARCHIVE} holds no snapshot: the run evaluated nothing")
    positions = nearest(evaluations, args.at, budget) if args.at else default_snapshots(evaluations)
    path = _out_path(args, folder) if len(data["bins"]) <= 2 else None
    measures = list((record.get("archive") or {}).get("measures") or [])
    grid = " × ".join(str(int(b)) for b in data["bins"])
    seed = spec.get("seed")
    print(f"run        {spec['problem']} × {spec['algo']}  seed {seed}  budget {budget}")
    print(f"grid       {grid} cells on {', '.join(measures) or 'unnamed measures'}")
    print_table(snapshot_summary(data, sense), positions)
    if path is None:
        print(f"figure     none: heatmaps show 1 or 2 measures, this grid has {len(data['bins'])}")
        return 0
    row = ArchiveRow(f"{spec['algo']} seed {seed}", data, positions, measures)
    try:
        draw_archive([row], sense, path, zoom=args.zoom)
    except OSError as exc:
        raise SpecError(f"--out {path}: cannot write it: {exc.strerror or exc}") from None
    shown = ", ".join(str(n) for n in row.evaluations)
    zoomed = ", zoomed to the filled cells" if args.zoom else ""
    print(f"figure     {path} (snapshots at {shown} evaluations{zoomed})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``archive`` subcommand."""
    p = sub.add_parser(
        "archive",
        help="a run's passive-archive snapshots: table and heatmaps",
        description="Print the snapshots of a run folder's archive.npz (evaluations, cells "
        "filled, coverage, QD-score, best fitness; * marks those drawn) and draw heatmaps of "
        "the snapshots nearest the requested evaluation counts (default: first, middle, last).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  bench archive runs/00001-diversity-mnist-rmse-map-elites-s0\n"
        "  bench archive RUN --at 0,12000,25000 --out map.png\n"
        "  bench archive RUN --zoom",
    )
    p.add_argument("run_folder", metavar="RUN_FOLDER", help="a run folder with archive.npz")
    p.add_argument(
        "--at",
        type=at_arg,
        metavar="N,N,...",
        help="evaluation counts to draw, the nearest snapshot each (default: first, middle, last)",
    )
    p.add_argument(
        "--out", metavar="FILE", help="figure file, .png/.pdf/.svg (default: <RUN>-archive.png)"
    )
    p.add_argument(
        "--zoom",
        action="store_true",
        help="axes around the cells filled in the panels drawn, not the whole grid",
    )
    p.set_defaults(func=cmd_archive)

"""Numbers as the pages show them, and the legend of every column (shared by HTML and Markdown)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.leaderboard.columns import EXTRA_COLUMNS
from bench.leaderboard.runs import BOARD_IMPROVEMENTS

LEGEND = {
    "algo": "algorithm",
    "planned": "runs planned (one per seed)",
    "finished": "runs that spent their whole budget",
    "failed": "runs that stopped with an error (kept out of the statistics)",
    "pending": "runs not run yet (kept out of the statistics)",
    "budget": "evaluations per run",
    "best": "best final fitness over finished runs",
    "median": "median final fitness",
    "mean": "mean final fitness",
    "std": "standard deviation of final fitness",
    "iqr": "inter-quartile range of final fitness",
    "avg_rank": "average rank of its runs among all runs of the problem (1 = best)",
    "evals_per_s": "median evaluations per second of wall time",
    "wall_s": "median wall time of a run, seconds",
    "algo_time": (
        "median share of a run's wall time the algorithm spent in its own ask and tell "
        "(the rest: evaluations and bookkeeping)"
    ),
    "nonfinite": "non-finite evaluations over all finished runs",
    "ks_p": "Kolmogorov–Smirnov normality p (Lilliefors; needs 4+ runs)",
    "shapiro_p": "Shapiro–Wilk normality p (needs 3+ runs)",
    "normal": "normal by KS at α",
    "p_vs_best": "Mann–Whitney U p against the best algorithm, Holm-corrected",
    "a12_vs_best": "chance a run beats a run of the best algorithm (Vargha–Delaney A12)",
    "verdict": "difference from the best algorithm at α",
} | {c.name: c.help for c in EXTRA_COLUMNS}

_INTS = {
    "planned", "finished", "failed", "pending", "budget", "nonfinite", "embedded", "skipped",
    "pairs",
}  # fmt: skip
_P = {"ks_p", "shapiro_p", "p_vs_best"}


def cell(column: str, value: Any) -> str:
    """One value as text: NaN/None as "–", p-values with 3 digits, others with 4."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if column == "normal":
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if column in _INTS:
        return str(int(value))
    if column in _P:
        return f"{value:.3g}"
    if column == "a12_vs_best":
        return f"{value:.2f}"
    if column == "algo_time":
        return f"{value:.1%}"
    return f"{value:.4g}"


def rows(table: pd.DataFrame) -> list[list[str]]:
    """Every row of ``table`` as text cells."""
    return [[cell(c, v) for c, v in zip(table.columns, r, strict=True)] for r in table.itertuples(
        index=False
    )]


def check_commands(out: Path, home: Path | None = None) -> list[tuple[str, str]]:
    """``(command, what it does)`` for a reader who would check the board or analyse it further.

    Args:
        out: The folder the board's files are being written into.
        home: The board's own folder, where ``out`` is a temporary one (a relative
            one is named as given, an absolute one by its name).

    """
    home = out if home is None else home
    folder = home.name if home.is_absolute() else home.as_posix()
    commands = [(
        f"bench verify {folder} --sample 20",
        "runs 20 of its runs again from their specs and says whether each repeats",
    )]
    if (out / BOARD_IMPROVEMENTS).is_file():
        commands.append((
            f"bench export-ioh {folder} --out {Path(folder).name}-ioh",
            "writes every run's improvements, evaluation by evaluation, as IOHprofiler data "
            "(IOHanalyzer, iohinspector)",
        ))
    return commands


def slug(name: str) -> str:
    """A file-name-safe form of a problem or algorithm name (``pymoo:ga`` → ``pymoo_ga``)."""
    return "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)

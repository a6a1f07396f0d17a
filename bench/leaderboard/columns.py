"""Extra leaderboard columns read from run records, some only for some problems.

A ``Column`` takes one value per run from its ``record.json`` and summarises
the finished runs of an algorithm into one cell. Columns a problem never fills
(all values missing) are left out of that problem's table.

Every number or boolean of a run's ``record["report"]`` (``Problem.report``,
``report_<key>`` in ``load_campaign``'s table) becomes a column by itself:
numbers summarised by their median, booleans by the share of runs where they
hold; text stays in the runs table only. To name, explain or summarise one
differently, append a ``Column`` that ``replaces`` the generic one, as the face
problems' columns below do::

    Column("baseline", _report("baseline_distance"), problems=FACE_PROBLEMS,
           help="...", replaces="report_baseline_distance")
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FACE_PROBLEMS = "face*"  # fnmatch pattern of the face-similarity problems' names


def _missing(value: Any) -> bool:
    """``None`` or a float NaN: a run that did not report the value (a DataFrame holds NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _archive(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: (record.get("archive") or {}).get(key)


def _report(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: (record.get("report") or {}).get(key)


def _prior_rms(record: dict[str, Any]) -> Any:
    figures = record.get("best_vs_prior")
    return figures.get("rms_z") if isinstance(figures, dict) else None


@dataclass(frozen=True)
class Column:
    """One extra column.

    Attributes:
        name: Header (and the name of the per-run column in the long table).
        extract: Record → per-run value (``None`` when absent).
        summary: How finished runs become a cell: ``"median"``, ``"mean"``,
            ``"max"``, ``"min"``, ``"sum"``, ``"first"`` or ``"share"`` (the
            fraction of runs whose value is true).
        problems: ``fnmatch`` pattern of the problem names it applies to.
        help: One line for the page's legend.
        replaces: The generic ``report_<key>`` column this one stands for (left out
            of the table where this column applies), or ``None``.

    """

    name: str
    extract: Callable[[dict[str, Any]], Any]
    summary: str = "median"
    problems: str = "*"
    help: str = ""
    replaces: str | None = None

    def summarise(self, values: list[Any]) -> float:
        """The cell of one algorithm from its finished runs' values."""
        vals = [v for v in values if not _missing(v)]
        if not vals:
            return math.nan
        if self.summary == "first":
            return float(vals[0])
        if self.summary == "share":
            return float(np.mean([bool(v) for v in vals]))
        arr = np.asarray(vals, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if not len(arr):
            return math.nan
        return float(getattr(np, self.summary)(arr))


EXTRA_COLUMNS: list[Column] = [
    Column(
        "qd_score",
        _archive("qd_score"),
        help="median QD-score of the passive archive (offset in the run records)",
    ),
    Column("coverage", _archive("coverage"), help="median share of archive cells filled"),
    Column(
        "prior_rms",
        _prior_rms,
        help="median RMS of the best genome's genes in prior standard deviations: about 1 for "
        "a draw from the prior (the latents a generator was trained on); well above 1, the "
        "search scored latents the generator never saw",
    ),
    Column(
        "baseline",
        _report("baseline_distance"),
        problems=FACE_PROBLEMS,
        help="FaceNet distance between the two baseline photos of the target person (median)",
        replaces="report_baseline_distance",
    ),
    Column(
        "beats_baseline",
        _report("beats_baseline"),
        "share",
        problems=FACE_PROBLEMS,
        help="share of runs whose best face is closer to the target than the baseline",
        replaces="report_beats_baseline",
    ),
    Column(
        "dlib_distance",
        _report("dlib_distance"),
        problems=FACE_PROBLEMS,
        help="median distance of the best face to the target by dlib, a second judge the "
        "search never saw",
        replaces="report_dlib_distance",
    ),
    Column(
        "dlib_accepted",
        _report("dlib_accepted"),
        "share",
        problems=FACE_PROBLEMS,
        help="share of runs whose best face dlib accepts as the target (distance below 0.6)",
        replaces="report_dlib_accepted",
    ),
]


def columns_for(problem: str) -> list[Column]:
    """The extra columns that apply to ``problem``."""
    return [c for c in EXTRA_COLUMNS if fnmatch.fnmatchcase(problem, c.problems)]


def report_column(name: str, values: list[Any]) -> Column | None:
    """The column of a ``report_<key>`` value: share of runs if boolean, median if numeric.

    Returns ``None`` for text or mixed values, which stay in the runs table only.
    """
    key = name.removeprefix("report_")
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        help_text = f"share of the runs reporting '{key}' where it holds"
        return Column(name, lambda r: None, "share", help=help_text)
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
        return Column(name, lambda r: None, "median", help=f"median of the problem's '{key}'")
    return None

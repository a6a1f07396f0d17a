"""Leaderboard tables: one row per algorithm on each problem, and the cross-problem ranks.

Only finished runs with a finite final fitness enter the statistics; every
planned run is still counted, as finished, failed or pending, so nothing is
dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.leaderboard import stats
from bench.leaderboard.columns import columns_for, report_column

CORE_COLUMNS = [
    "algo", "planned", "finished", "failed", "pending", "budget", "best", "median", "mean",
    "std", "iqr", "avg_rank", "evals_per_s", "wall_s", "algo_time", "nonfinite",
]  # fmt: skip
TEST_COLUMNS = ["ks_p", "shapiro_p", "normal", "p_vs_best", "a12_vs_best", "verdict"]


@dataclass
class ProblemResult:
    """Everything the leaderboard says about one problem.

    Attributes:
        problem: Its name.
        sense: ``"min"`` or ``"max"``.
        table: One row per algorithm (``CORE_COLUMNS``, extra columns, ``TEST_COLUMNS``).
        omnibus: The omnibus test over algorithms.
        pairwise: Mann–Whitney U against the best algorithm, Holm-corrected.
        best: Name of the best algorithm (lowest median loss), or ``None``.
        extra: Names of the extra columns present in ``table``.
        help: One line per extra column, for the page's legend.

    """

    problem: str
    sense: str
    table: pd.DataFrame
    omnibus: stats.Omnibus
    pairwise: pd.DataFrame
    best: str | None
    extra: list[str]
    help: dict[str, str]

    @property
    def co_best(self) -> list[str]:
        """Other algorithms whose finished runs have exactly the best one's median and mean.

        A GA whose budget ends with its first population samples what random
        sampling does: the name that sorts first must not pass for the winner.
        """
        if self.best is None or self.tied or "algo" not in self.table:
            return []
        t = self.table.set_index("algo")
        median, mean = t.loc[self.best, "median"], t.loc[self.best, "mean"]
        return [
            str(a)
            for a in t.index
            if a != self.best and t.loc[a, "median"] == median and t.loc[a, "mean"] == mean
        ]

    @property
    def tied(self) -> bool:
        """Every finished run of every algorithm reached the same value: no algorithm is best."""
        return self.omnibus.test == "none" and self.omnibus.p == 1.0


def _count(status: pd.Series, value: str) -> int:
    return int((status == value).sum())


def problem_result(runs: pd.DataFrame, alpha: float = stats.ALPHA) -> ProblemResult:
    """The leaderboard of one problem from its rows of the long run table.

    Args:
        runs: Rows of ``bench.leaderboard.runs.load_runs`` for one problem.
        alpha: Significance level of every test.

    Returns:
        The problem's table and tests.

    """
    problem = str(runs["problem"].iloc[0])
    sense = str(runs["sense"].iloc[0])
    algos = list(dict.fromkeys(runs["algo"]))
    by_algo = {a: runs[runs["algo"] == a] for a in algos}
    finals = {a: g["final"].to_numpy(dtype=np.float64) for a, g in by_algo.items()}
    losses = {a: stats.to_loss(v, sense) for a, v in finals.items()}
    ranks = stats.pooled_ranks(losses)
    pairwise = stats.pairwise_vs_best(losses, alpha).set_index("algo")
    named = columns_for(problem)
    taken = {n.name for n in named} | {n.replaces for n in named}
    reported = [
        report_column(c, list(runs[c].dropna()))
        for c in runs.columns
        if c.startswith("report_") and c not in taken
    ]
    extras = [c for c in named + reported if c is not None and runs[c.name].notna().any()]
    rows = []
    for algo, g in by_algo.items():
        done = g[g["status"] == "finished"]
        summary = stats.summarise(finals[algo], sense)
        norm = stats.normality(finals[algo], alpha)
        other = len(g) - sum(_count(g["status"], s) for s in ("finished", "failed", "pending"))
        row = {
            "algo": algo,
            "planned": len(g),
            "finished": _count(g["status"], "finished"),
            "failed": _count(g["status"], "failed") + other,
            "pending": _count(g["status"], "pending"),
            "budget": int(g["budget"].max()),
            **{k: summary[k] for k in ("best", "median", "mean", "std", "iqr")},
            "avg_rank": ranks[algo],
            "evals_per_s": _median(done["evals_per_second"]),
            "wall_s": _median(done["wall_seconds"]),
            "algo_time": _algo_time(done),
            "nonfinite": int(pd.to_numeric(done["nonfinite"], errors="coerce").fillna(0).sum()),
        }
        for col in extras:
            row[col.name] = col.summarise(list(done[col.name]))
        pw = pairwise.loc[algo]
        row.update(
            ks_p=norm["ks_p"],
            shapiro_p=norm["shapiro_p"],
            normal=norm["normal"],
            p_vs_best=pw["p_holm"],
            a12_vs_best=pw["a12"],
            verdict=pw["verdict"] if summary["n"] else "no finished runs",
        )
        rows.append(row)
    columns = CORE_COLUMNS + [c.name for c in extras] + TEST_COLUMNS
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values("avg_rank", na_position="last", kind="stable").reset_index(drop=True)
    all_normal = all(n is True for n in table.loc[table["finished"] > 0, "normal"])
    test = stats.omnibus(losses, all_normal)
    return ProblemResult(
        problem,
        sense,
        table,
        test,
        pairwise.reset_index(),
        stats.best_algorithm(losses),
        [c.name for c in extras],
        {c.name: c.help for c in extras},
    )


def _algo_time(done: pd.DataFrame) -> float:
    """Median share of a run's wall time spent in the algorithm's own ask and tell.

    NaN where the runs do not say (``algo_seconds`` is missing or a wall time is 0).
    """
    if "algo_seconds" not in done.columns or "wall_seconds" not in done.columns:
        return math.nan
    algo = pd.to_numeric(done["algo_seconds"], errors="coerce")
    wall = pd.to_numeric(done["wall_seconds"], errors="coerce")
    return _median(algo / wall.where(wall > 0))


def _median(values: pd.Series) -> float:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if len(arr) else math.nan


def rank_blocks(runs: pd.DataFrame) -> pd.DataFrame:
    """Problems × algorithms matrix of median losses for Friedman's test across problems.

    A block is one problem (Demšar 2006: one value per data set), and its value
    for an algorithm is the median loss of that algorithm's finished runs there.
    Blocks of one problem and one seed would count each problem as many times
    as it has seeds, so the test and the critical difference would speak for
    runs of these problems rather than for problems. An algorithm without a
    finished run on a problem leaves that block incomplete.
    """
    sign = np.where(runs["sense"] == "max", -1.0, 1.0)
    frame = runs.assign(loss=runs["final"].to_numpy(dtype=np.float64) * sign)
    frame = frame[(frame["status"] == "finished") & np.isfinite(frame["loss"])]
    matrix = frame.pivot_table(index="problem", columns="algo", values="loss", aggfunc="median")
    problems = list(dict.fromkeys(runs["problem"]))
    return matrix.reindex(index=problems, columns=list(dict.fromkeys(runs["algo"])))

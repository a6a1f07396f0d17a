"""The runs of a campaign as one long table, with what the leaderboard needs per run.

``bench.campaign.load_campaign`` gives one flat row per planned run, pending
ones included, each with its objective sense. This fills the sense of runs
without a record, and adds the files a page links (curve, best images) and the
extra per-run columns declared in ``bench.leaderboard.columns``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.campaign import load_campaign
from bench.leaderboard.columns import EXTRA_COLUMNS, columns_for
from bench.results import BEST_IMAGES, CURVE, RecordError, load_record, problem_sense

STATUSES = ("finished", "failed", "pending")


def load_runs(folder: Path) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Every planned run of the campaign in ``folder`` and the records read.

    Returns:
        The long table (``load_campaign``'s columns plus ``sense``, ``curve_path``,
        ``image_path``, ``final`` — the best fitness of finished runs, NaN
        otherwise — and one column per extra ``Column``; ``load_campaign`` already
        gives the ``report_<key>`` columns) and the records by run id.

    """
    folder = Path(folder)
    df = load_campaign(folder)  # an unusable record is a failed run already (and warned)
    records: dict[str, dict[str, Any]] = {}
    extra: dict[str, list[Any]] = {c.name: [] for c in EXTRA_COLUMNS}
    curves, images = [], []
    for row in df.itertuples(index=False):
        record = _usable_record(Path(row.path)) if isinstance(row.path, str) else None
        if record is not None:
            records[row.run_id] = record
        record = record or {}
        run = Path(row.path) if isinstance(row.path, str) else None
        curves.append(str(run / CURVE) if run and (run / CURVE).is_file() else None)
        images.append(str(run / BEST_IMAGES) if run and (run / BEST_IMAGES).is_file() else None)
        for col in EXTRA_COLUMNS:
            applies = col in columns_for(row.problem)
            extra[col.name].append(col.extract(record) if applies and record else None)
    for problem, group in df.groupby("problem", sort=False):  # runs without a problem block
        df.loc[group.index, "sense"] = group["sense"].fillna(problem_sense(df, problem))
    df["curve_path"] = curves
    df["image_path"] = images
    df["final"] = [
        float(v) if s == "finished" and v is not None and math.isfinite(float(v)) else math.nan
        for s, v in zip(df["status"], df["best_fitness"], strict=True)
    ]
    for name, values in extra.items():
        df[name] = pd.Series(values, index=df.index, dtype=object)
    return df, records


def _usable_record(run: Path) -> dict[str, Any] | None:
    """The record of run folder ``run``, or ``None`` where it is unusable (a failed run)."""
    try:
        return load_record(run)
    except RecordError:
        return None

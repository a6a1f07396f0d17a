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

import numpy as np
import pandas as pd

from bench.campaign import CAMPAIGN_FILE, RUNS, load_campaign
from bench.leaderboard.columns import EXTRA_COLUMNS, columns_for
from bench.prior_distance import genome_vs_prior
from bench.provenance import outside_the_suite
from bench.registry import RegistryError, registry
from bench.results import (
    BEST_GENOME,
    BEST_IMAGES,
    CURVE,
    RECORD,
    RecordError,
    load_record,
    load_run_folders,
    problem_sense,
)
from bench.spec import SpecError

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
    if (folder / CAMPAIGN_FILE).is_file():
        df = load_campaign(folder)  # an unusable record is a failed run already (and warned)
    else:
        df = loose_runs(folder)
    records: dict[str, dict[str, Any]] = {}
    extra: dict[str, list[Any]] = {c.name: [] for c in EXTRA_COLUMNS}
    curves, images = [], []
    for row in df.itertuples(index=False):
        record = _usable_record(Path(row.path)) if isinstance(row.path, str) else None
        run = Path(row.path) if isinstance(row.path, str) else None
        if record is not None and "best_vs_prior" not in record and run is not None:
            record = _with_prior_distance(record, run, row.problem)
        if record is not None:
            records[row.run_id] = record
        record = record or {}
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


def _with_prior_distance(record: dict[str, Any], run: Path, problem: str) -> dict[str, Any]:
    """``record`` with ``best_vs_prior`` worked out from its best genome, where it lacks it.

    Records written before runs recorded it still have ``best_genome.npy``. Only the
    suite's own problems are measured so, with their class's prior (``Problem.prior``,
    read without building the problem; none of them sets another per instance): a
    plugin's problem may set its prior in ``__init__``, and a genome maps to latents
    only through the problem (``fed_genomes``). The figures are marked ``"from":
    "leaderboard"``. A record without a best genome, of another problem, or of a
    problem no longer registered, is returned as it is.
    """
    genome_file = run / BEST_GENOME
    if record.get("status") != "finished" or not genome_file.is_file():
        return record
    try:
        entry = registry("problems").entry(problem)
        if outside_the_suite(entry) or "best_vs_prior_error" in record:
            return record  # a record that tried and failed: its genome may map otherwise
        prior = entry.load().prior
        figures = genome_vs_prior(np.load(genome_file, allow_pickle=False), prior)
    except (RegistryError, OSError, ValueError, TypeError, AttributeError):
        return record
    return {**record, "best_vs_prior": {**figures, "from": "leaderboard"}}


BOARD_RUNS = Path("tables") / "runs.parquet"  # a leaderboard folder's run table
BOARD_IMPROVEMENTS = Path("tables") / "improvements.parquet"  # its runs' improvements


def run_folders(folder: Path) -> list[Path]:
    """The run folders (those holding a ``record.json``) directly inside ``folder``."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / RECORD).is_file()
    )


def board_improvements(board: Path) -> dict[str, pd.DataFrame]:
    """Run id → improvements (``evaluation``, ``fitness``, ``valid``) of a leaderboard folder.

    Empty where the board keeps none (built before 2 December 2026).
    """
    path = Path(board) / BOARD_IMPROVEMENTS
    if not path.is_file():
        return {}
    table = pd.read_parquet(path)
    return {
        str(run_id): steps.drop(columns="run_id").reset_index(drop=True)
        for run_id, steps in table.groupby("run_id", sort=False)
    }


def recorded_folders(path: Path) -> list[Path] | None:
    """The run folders a path names: itself, a campaign's, or those inside it.

    Args:
        path: A run folder (with ``record.json``), a campaign folder or a folder of
            run folders (``bench run --out``).

    Returns:
        The run folders, sorted (one for a run folder); ``None`` where ``path`` holds
        none of these.

    """
    path = Path(path)
    if (path / RECORD).is_file():
        return [path]
    folders = run_folders(path / RUNS if (path / CAMPAIGN_FILE).is_file() else path)
    return folders or None


def loose_runs(folder: Path) -> pd.DataFrame:
    """The runs of a folder of ``bench run`` results, checked as a campaign would be.

    Without a plan there are no pending runs, and nothing else guarantees what a
    campaign does: one run per spec and one budget per problem.

    Raises:
        SpecError: No run folder, one spec run twice, or unequal budgets on a problem.

    """
    folders = run_folders(folder)
    if not folders:
        raise SpecError(
            f"{folder} is neither a campaign folder (no {CAMPAIGN_FILE}) nor a folder of run "
            "folders; run `bench campaign`, or give the folder `bench run --out` wrote into"
        )
    df = load_run_folders(folders)
    repeated = df[df["run_id"].notna() & df["run_id"].duplicated(keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        twins = [Path(p).name for p in repeated.loc[repeated["run_id"] == first["run_id"], "path"]]
        raise SpecError(
            f"{folder}: {' and '.join(twins)} are the same run (spec id {first['run_id']}), "
            "which would count twice; move one away"
        )
    for problem, group in df.groupby("problem", sort=False):
        budgets = group["budget"].value_counts()
        if len(budgets) > 1:
            listed = ", ".join(f"{int(b)} ({n} run{'s' * (n != 1)})" for b, n in budgets.items())
            raise SpecError(
                f"{folder}: the runs on {problem} have budgets {listed}; a leaderboard "
                "compares equal budgets: keep runs of one budget per problem"
            )
    return df


def _usable_record(run: Path) -> dict[str, Any] | None:
    """The record of run folder ``run``, or ``None`` where it is unusable (a failed run)."""
    try:
        return load_record(run)
    except RecordError:
        return None

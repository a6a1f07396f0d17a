"""Re-running recorded runs: whether a record, a campaign or a published board repeats.

A run's spec (problem, algorithm, parameters, budget, seed) fixes its result for a
given commit, set of packages, weights and CPU kind. ``recorded_runs`` reads the
finished runs of a run folder, a folder of run folders, a campaign folder or a
leaderboard folder (its ``tables/runs.parquet``, which holds every run's spec);
``compare`` sets a re-run beside its record; ``fingerprint`` and ``differences`` say
what differs between where a record was made and here, the usual causes when a run
does not repeat. An OpenBLAS kernel other than the record's is the commonest on
another CPU (``blas_hint``): algorithms that decompose matrices (CMA-ES) carry its
rounding into their search.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.leaderboard.provenance import machine_line
from bench.leaderboard.runs import BOARD_RUNS, board_improvements, recorded_folders
from bench.provenance import commit_text
from bench.results import CURVE, RECORD, read_curve, read_improvements, readable_records
from bench.spec import RunSpec, SpecError

BOARD_PROVENANCE = "provenance.json"
CURVE_COLUMNS = ("best", "batch_best", "batch_mean")  # compared where both curves have them
OPENBLAS = "OpenBLAS"
IDENTICAL, CLOSE, DIFFERS, FAILED = "identical", "close", "differs", "failed"
_OPENBLAS = re.compile(r"openblas (\S+) (\S+) ×")
_MACHINE = re.compile(  # machine_line's words
    r"^(?P<cpu>.+ × \S+ CPUs), (?P<device>.+?), (?P<threads>\S+) torch threads"
    r"(?:, BLAS .*?)?(?:, torch: (?P<math>.+))?$"
)


@dataclass(frozen=True)
class RecordedRun:
    """One finished run as it was recorded.

    Attributes:
        spec: What was run; its ``run_id`` is the recorded one.
        best_fitness: The recorded best fitness (NaN where the record holds none).
        evaluations: Evaluations the run spent.
        wall_seconds: Its run time in seconds (NaN where unknown).
        fingerprint: Where it ran (``fingerprint``); a leaderboard's runs share the board's,
            but for their own commit.
        curve: Its anytime curve (``evaluations`` and those of ``CURVE_COLUMNS`` it has),
            where its folder has one.
        improvements: Its improvements (``evaluation``, ``fitness``), where its folder or
            board kept them.

    """

    spec: RunSpec
    best_fitness: float
    evaluations: int
    wall_seconds: float
    fingerprint: dict[str, str]
    curve: pd.DataFrame | None = None
    improvements: pd.DataFrame | None = None


@dataclass(frozen=True)
class Verdict:
    """A re-run beside its record.

    Attributes:
        run: The recorded run.
        status: ``identical`` (the same best fitness, bit for bit), ``close`` (within
            the relative tolerance), ``differs`` or ``failed`` (the re-run did not finish).
        fitness: The re-run's best fitness (NaN where it has none).
        evaluations: Evaluations the re-run spent (``None`` where it failed to start).
        parted_at: The evaluation by which the runs had parted: the count of the first
            batch whose figures (best so far, the batch's best and mean) differ beyond
            the tolerance, or the first improvement one run made and the other did not
            make alike, whichever comes first; ``None`` where neither shows a difference.
        message: Why the re-run failed.
        differences: ``(what, recorded, here)`` for each fingerprint entry that differs.

    """

    run: RecordedRun
    status: str
    fitness: float
    evaluations: int | None
    parted_at: int | None = None
    message: str | None = None
    differences: tuple[tuple[str, str, str], ...] = ()

    @property
    def reproduced(self) -> bool:
        """The re-run gave the recorded best fitness, exactly or within the tolerance."""
        return self.status in (IDENTICAL, CLOSE)

    @property
    def relative_difference(self) -> float:
        """(re-run − recorded) / |recorded|; NaN where either is missing or zero."""
        recorded = self.run.best_fitness
        if not (math.isfinite(recorded) and math.isfinite(self.fitness)) or recorded == 0:
            return math.nan
        return (self.fitness - recorded) / abs(recorded)


def _number(value: Any) -> float:
    """``value`` as a float; NaN for ``None`` and anything that is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fingerprint(prov: dict[str, Any]) -> dict[str, str]:
    """What a run's numbers depend on beyond its spec, from a record's ``provenance``.

    Returns:
        ``commit`` (12 digits, with uncommitted changes noted), ``CPU``, ``device``,
        ``torch threads`` and ``torch math`` (``machine_parts``), ``OpenBLAS VERSION`` (the
        kernel of each OpenBLAS that NumPy, SciPy or another package had loaded: which
        are loaded depends on what the run imported, so only those both sides loaded
        compare), ``package NAME`` and ``weights FILE`` (12 digits of its sha256).

    """
    commit = commit_text(prov.get("commit"), prov.get("dirty"))
    out = {"commit": commit or "none (not a git checkout)"}
    out.update(machine_parts(machine_line({"provenance": prov})))
    for lib in prov.get("blas") or []:
        if lib.get("internal_api") == "openblas":
            out[f"{OPENBLAS} {lib.get('version')}"] = str(lib.get("architecture"))
    for name, version in sorted((prov.get("packages") or {}).items()):
        out[f"package {name}"] = str(version)
    for name, digest in sorted((prov.get("weights") or {}).items()):
        out[f"weights {name}"] = str(digest)[:12]
    return out


def machine_parts(line: str) -> dict[str, str]:
    """A machine line (``machine_line``) as ``CPU``, ``device``, ``torch threads``, ``torch math``.

    ``torch math`` is left out where the line has none (records before 1 December
    2026 did not name torch's libraries), so that only what both sides name compares;
    a line of other words is kept whole, as ``machine``.
    """
    match = _MACHINE.match(line)
    if match is None:
        return {"machine": line}
    out = {"CPU": match["cpu"], "device": match["device"], "torch threads": match["threads"]}
    if match["math"]:
        out["torch math"] = match["math"]
    return out


def _counted(values: dict[str, int], short: bool = False) -> str:
    """One value of a leaderboard's provenance, or each with its runs where they differ."""
    texts = [v[:12] if short else v for v in values]
    if len(texts) == 1:
        return texts[0]
    return ", ".join(f"{t} ({n} runs)" for t, n in zip(texts, values.values(), strict=True))


def _board_fingerprint(prov: dict[str, Any]) -> dict[str, str]:
    """``fingerprint``'s entries from a leaderboard's ``provenance.json`` (no commit)."""
    out: dict[str, str] = {}
    machines = prov.get("machines") or {}
    if machines:
        parts: dict[str, Counter[str]] = {}
        for line, n in machines.items():
            for key, value in machine_parts(line).items():
                parts.setdefault(key, Counter())[value] += n
        out.update({key: _counted(values) for key, values in parts.items()})
        kernels: dict[str, set[str]] = {}
        for line in machines:
            for version, kernel in _OPENBLAS.findall(line):
                kernels.setdefault(f"{OPENBLAS} {version}", set()).add(kernel)
        out.update({key: ", ".join(sorted(found)) for key, found in sorted(kernels.items())})
    for name, versions in sorted((prov.get("packages") or {}).items()):
        if isinstance(versions, dict) and versions:
            out[f"package {name}"] = _counted(versions)
    for name, hashes in sorted((prov.get("weights") or {}).items()):
        if isinstance(hashes, dict) and hashes:
            out[f"weights {name}"] = _counted(hashes, short=True)
    return out


def recorded_runs(path: Path) -> tuple[list[RecordedRun], list[str]]:
    """The finished runs recorded under ``path``, and what was left out, with why.

    Args:
        path: A run folder (``record.json``), a folder of run folders (``bench run
            --out``), a campaign folder, or a leaderboard folder (``tables/runs.parquet``,
            as ``results/leaderboard`` publishes it).

    Returns:
        ``(runs, left_out)``: the finished runs, in the order found, and one line for
        each run that was not (failed or pending runs, unreadable records).

    Raises:
        SpecError: ``path`` holds none of these.

    """
    path = Path(path)
    if not (path / RECORD).is_file() and (path / BOARD_RUNS).is_file():
        return _board_runs(path)
    folders = recorded_folders(path)
    if folders is None:
        raise SpecError(
            f"{path} holds no recorded run: give a run folder (with {RECORD}), a folder of "
            f"run folders, a campaign folder or a leaderboard folder (with {BOARD_RUNS})"
        )
    runs, left_out = [], []
    for folder, record in readable_records(folders, left_out):
        if record.get("status") != "finished":
            left_out.append(f"{folder.name}: {record.get('status', 'no status')}, not finished")
            continue
        try:
            spec = RunSpec.from_dict(record["spec"])
        except TypeError as exc:
            left_out.append(f"{folder.name}: its spec cannot be read ({exc})")
            continue
        if spec.run_id != record.get("run_id"):
            left_out.append(
                f"{folder.name}: its spec has id {spec.run_id}, its record says "
                f"{record.get('run_id')} (edited, or written by another version)"
            )
            continue
        runs.append(
            RecordedRun(
                spec,
                _number(record.get("best_fitness")),
                int(record.get("evaluations") or 0),
                _number(record.get("wall_seconds")),
                fingerprint(record.get("provenance") or {}),
                _curve(folder),
                _improvements(folder),
            )
        )
    return runs, left_out


def _curve(folder: Path) -> pd.DataFrame | None:
    """The ``evaluations`` and ``CURVE_COLUMNS`` columns of a run folder's curve, if any."""
    if not (folder / CURVE).is_file():
        return None
    try:
        curve = read_curve(folder)
    except (OSError, ValueError):
        return None
    if "evaluations" not in curve:
        return None
    return curve[["evaluations", *(c for c in CURVE_COLUMNS if c in curve)]]


def _improvements(folder: Path) -> pd.DataFrame | None:
    """A run folder's improvements, or ``None`` where it has none it can read."""
    try:
        return read_improvements(folder)
    except (OSError, ValueError):
        return None


def _params(value: Any) -> dict[str, Any]:
    """A parameter column of a leaderboard's run table (JSON text) as a dict."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return {}
    return json.loads(value)


def _board_runs(path: Path) -> tuple[list[RecordedRun], list[str]]:
    """The finished runs of a leaderboard folder, from its run table and provenance."""
    table = pd.read_parquet(path / BOARD_RUNS)
    try:
        prov = json.loads((path / BOARD_PROVENANCE).read_text())
    except (OSError, json.JSONDecodeError):
        prov = {}
    board = _board_fingerprint(prov)
    steps = board_improvements(path)
    runs, left_out = [], []
    for row in table.itertuples(index=False):
        if row.status != "finished":
            left_out.append(f"{row.run_id}: {row.status}, not finished")
            continue
        preset = row.preset if isinstance(row.preset, str) and row.preset else None
        spec = RunSpec(
            str(row.problem), str(row.algo), int(row.budget), int(row.seed),
            _params(row.problem_params), _params(row.algo_params), preset,
        )
        if spec.run_id != row.run_id:
            left_out.append(f"{row.run_id}: the table's spec has id {spec.run_id}")
            continue
        commit = commit_text(getattr(row, "commit", None), getattr(row, "dirty", False))
        fp = {"commit": commit, **board} if commit else dict(board)
        runs.append(
            RecordedRun(
                spec, _number(row.best_fitness), int(row.evaluations),
                _number(row.wall_seconds), fp, improvements=steps.get(row.run_id),
            )
        )
    return runs, left_out


def select(
    runs: list[RecordedRun],
    *,
    problems: Iterable[str] = (),
    algos: Iterable[str] = (),
    ids: Iterable[str] = (),
    sample: int | None = None,
    sample_seed: int = 0,
) -> list[RecordedRun]:
    """The runs to verify: those of the given problems, algorithms and ids, then a sample.

    Args:
        runs: The recorded runs.
        problems: Keep runs of these problems (names as recorded, labels included).
        algos: Keep runs of these algorithms.
        ids: Keep runs whose id starts with one of these (at least 4 hex digits each).
        sample: Keep this many of what is left, drawn without replacement
            (``numpy.random.SeedSequence(sample_seed)``), in their recorded order.
        sample_seed: Seed of the draw.

    Raises:
        SpecError: A name or id matches no run (the message lists what there is).

    """
    for what, wanted, have in (
        ("problem", problems, [r.spec.problem for r in runs]),
        ("algorithm", algos, [r.spec.algo for r in runs]),
    ):
        unknown = [name for name in wanted if name not in have]
        if unknown:
            listed = ", ".join(dict.fromkeys(have)) or "none"
            raise SpecError(f"no finished run of {what} {unknown[0]!r}; there are: {listed}")
    problems, algos, ids = set(problems), set(algos), list(ids)
    for prefix in ids:
        if len(prefix) < 4 or not re.fullmatch(r"[0-9a-f]+", prefix):
            raise SpecError(f"run id {prefix!r}: give at least 4 of its hex digits")
        if not any(r.spec.run_id.startswith(prefix) for r in runs):
            raise SpecError(f"no finished run has an id starting with {prefix!r}")
    kept = [
        r for r in runs
        if (not problems or r.spec.problem in problems)
        and (not algos or r.spec.algo in algos)
        and (not ids or any(r.spec.run_id.startswith(p) for p in ids))
    ]
    if sample is not None and sample < len(kept):
        rng = np.random.default_rng(np.random.SeedSequence(sample_seed))
        chosen = sorted(rng.choice(len(kept), size=sample, replace=False))
        kept = [kept[i] for i in chosen]
    return kept


def _same(a: float, b: float, rtol: float) -> bool:
    """Equal within ``rtol`` of the larger magnitude; two NaNs are the same."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))


def parted_at(recorded: pd.DataFrame, rerun: pd.DataFrame, rtol: float) -> int | None:
    """The first evaluation count at which two runs' curves differ beyond ``rtol``.

    Args:
        recorded: Curve with an ``evaluations`` column and some of ``CURVE_COLUMNS``.
        rerun: The same for the re-run.
        rtol: Relative tolerance.

    Returns:
        The evaluation count of the first point (of those both curves have) where a
        figure both have differs, or ``None`` where they agree throughout.

    """
    columns = [c for c in CURVE_COLUMNS if c in recorded and c in rerun]
    both = recorded.merge(rerun, on="evaluations", suffixes=("_recorded", "_rerun"))
    for _, row in both.iterrows():
        for c in columns:
            if not _same(_number(row[f"{c}_recorded"]), _number(row[f"{c}_rerun"]), rtol):
                return int(row["evaluations"])
    return None


def improvements_parted_at(
    recorded: pd.DataFrame, rerun: pd.DataFrame, rtol: float
) -> int | None:
    """The first evaluation at which one run improved and the other did not, or not alike.

    Args:
        recorded: Improvements (``evaluation``, ``fitness``) of the recorded run.
        rerun: The same for the re-run.
        rtol: Relative tolerance on fitness.

    Returns:
        The smaller evaluation number of the first pair of rows that differ (in
        evaluation, or in fitness beyond ``rtol``), that of the first row one run has
        beyond the other's, or ``None`` where the improvements agree.

    """
    a = recorded[["evaluation", "fitness"]].to_numpy()
    b = rerun[["evaluation", "fitness"]].to_numpy()
    for (ea, fa), (eb, fb) in zip(a, b, strict=False):
        if ea != eb or not _same(float(fa), float(fb), rtol):
            return int(min(ea, eb))
    if len(a) != len(b):
        return int((a if len(a) > len(b) else b)[min(len(a), len(b)), 0])
    return None


def differences(recorded: dict[str, str], here: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    """``(what, recorded, here)`` for each entry both fingerprints hold that differs.

    Entries one side lacks (weights a problem did not load, a package the record did
    not list) are not differences.
    """
    return tuple(
        (key, recorded[key], here[key])
        for key in recorded
        if key in here and recorded[key] != here[key]
    )


def compare(
    run: RecordedRun,
    record: dict[str, Any],
    curve: pd.DataFrame | None,
    rtol: float,
    improvements: pd.DataFrame | None = None,
) -> Verdict:
    """Set a re-run beside its record.

    Args:
        run: The recorded run.
        record: The re-run's record (``bench.runner.RunResult.record``).
        curve: The re-run's curve, or ``None``.
        rtol: Relative tolerance of ``close``; 0 asks for the same number.
        improvements: The re-run's improvements, or ``None``.

    """
    here = fingerprint(record.get("provenance") or {})
    diffs = differences(run.fingerprint, here)
    fitness = _number(record.get("best_fitness"))
    if record.get("status") != "finished":
        error = record.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else str(error)
        return Verdict(run, FAILED, fitness, None, message=message or "did not finish",
                       differences=diffs)
    evaluations = int(record.get("evaluations") or 0)
    found = []
    if run.curve is not None and curve is not None and "evaluations" in curve:
        found.append(parted_at(run.curve, curve, rtol))
    if run.improvements is not None and improvements is not None:
        found.append(improvements_parted_at(run.improvements, improvements, rtol))
    parted = min((e for e in found if e is not None), default=None)
    if evaluations != run.evaluations:
        status = DIFFERS
    elif fitness == run.best_fitness or (math.isnan(fitness) and math.isnan(run.best_fitness)):
        status = IDENTICAL if parted is None else DIFFERS
    elif _same(fitness, run.best_fitness, rtol) and parted is None:
        status = CLOSE
    else:
        status = DIFFERS
    return Verdict(run, status, fitness, evaluations, parted, differences=diffs)


def blas_hint(verdicts: Iterable[Verdict]) -> str | None:
    """``OPENBLAS_CORETYPE=Haswell`` where runs that differ were recorded with one other kernel.

    OpenBLAS picks its kernels for the CPU it finds; this variable makes it use the
    named ones instead (on a CPU that can run them), which repeats the record's
    rounding. ``None`` where no run that differs names another kernel.
    """
    recorded: set[str] = set()
    for verdict in verdicts:
        if verdict.reproduced:
            continue
        for what, then, now in verdict.differences:
            if what.startswith(f"{OPENBLAS} "):
                recorded |= set(then.split(", ")) - set(now.split(", "))
    return f"OPENBLAS_CORETYPE={recorded.pop()}" if len(recorded) == 1 else None

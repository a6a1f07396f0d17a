"""Runs as IOHprofiler data, for IOHanalyzer and iohinspector.

IOHprofiler (IOHexperimenter, IOHanalyzer, iohinspector) is the field's common
tool for fixed-budget and fixed-target analysis: expected running times, ECDFs over
targets, convergence plots. Its data are written here in the layout of
IOHexperimenter's ``Analyzer`` logger (ioh 0.3 and later)::

    OUT/<algorithm>/IOHprofiler_f<id>_<problem>.json
    OUT/<algorithm>/data_f<id>_<problem>/IOHprofiler_f<id>_DIM<genes>.dat
    OUT/README.md                      (which function id is which problem, what was left out)

- **Functions** are the runs' problem names (``face``, ``diversity-mnist-rmse``,
  ``face@w`` ...), numbered 1, 2, ... in name order within one export; the JSON names
  each, and the README lists them. The **instance** is the problem's own where it
  declares one (the analytic problems), else 1; the **dimension** is the genome size.
- **Algorithms** are the runs' algorithm names; each has a folder, and its
  ``info`` says the preset, parameters and commits of its runs.
- **The ``.dat`` file** holds one block per run (a seed), in seed order: the header
  ``evaluations raw_y``, then the evaluation number and fitness of evaluation 1 and
  of every evaluation that beat all before it (``improvements.parquet`` of the run
  folder, ``bench.evaluator``), then, where the best came before the end, the run's
  last evaluation with its best so far, so that a reader knows the run's length.
  Fitness is written with every digit (Python's shortest round-trip form).
- **The JSON** gives each run's length and its best: the evaluation that found it,
  its fitness and its genome (``x``), the genome only for up to
  ``MAX_POSITION_GENES`` genes: the 5,000-gene sets would make files of many MB,
  and every run folder keeps ``best_genome.npy``.

The problem's sense becomes ``maximization``; fitness is the problem's own, never
negated. Runs recorded before improvements were logged (2 December 2026) have none
and are left out with the reason; ``bench verify SOURCE --out DIR`` runs them again,
with the same results, and writes folders that have them. A leaderboard built since
then keeps every run's improvements (``tables/improvements.parquet``) and exports as
its runs would, without their genomes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.leaderboard.formatting import slug
from bench.leaderboard.runs import (
    BOARD_IMPROVEMENTS,
    BOARD_RUNS,
    board_improvements,
    recorded_folders,
)
from bench.provenance import SUITE, commit_text, package_versions
from bench.results import (
    BEST_GENOME,
    IMPROVEMENTS,
    RECORD,
    read_improvements,
    readable_records,
)
from bench.spec import SpecError

MAX_POSITION_GENES = 1000  # best genomes up to this size go into the JSON (``x``)
HEADER = "evaluations raw_y"
README = "README.md"


@dataclass(frozen=True)
class TracedRun:
    """A finished run with its improvements, as the export reads it.

    Attributes:
        run_id: The spec's id.
        problem: Problem name (with its ``@label``).
        algo: Algorithm name (with its ``@label``).
        seed: The run's seed.
        preset: The algorithm's preset, or ``None``.
        algo_params: The parameters the spec gave the algorithm.
        dim: Genome size.
        instance: The problem's instance (1 where it declares none).
        maximize: Whether larger fitness is better.
        evaluations: Evaluations the run spent.
        improvements: ``evaluation`` (1-based, increasing) and ``fitness`` of the first
            evaluation and of each that beat all before it.
        best_genome: ``[D]`` the best genome, where the folder kept it.
        commit: The commit it ran at (``bench.provenance.commit_text``; ``None`` outside
            a checkout).

    """

    run_id: str
    problem: str
    algo: str
    seed: int
    preset: str | None
    algo_params: dict[str, Any]
    dim: int
    instance: int
    maximize: bool
    evaluations: int
    improvements: pd.DataFrame
    best_genome: np.ndarray | None
    commit: str | None

    @property
    def best(self) -> tuple[int, float]:
        """``(evaluation, fitness)`` of the run's best: its last improvement."""
        last = self.improvements.iloc[-1]
        return int(last["evaluation"]), float(last["fitness"])


@dataclass(frozen=True)
class IohExport:
    """What ``write_ioh`` wrote.

    Attributes:
        folder: The export's folder.
        functions: Problem name → function id.
        runs: Runs written, per algorithm.
        files: The JSON and ``.dat`` files, relative to ``folder``.

    """

    folder: Path
    functions: dict[str, int]
    runs: dict[str, int]
    files: list[Path]


def _instance(problem: dict[str, Any]) -> int:
    """The problem's declared instance where it is a small whole number, else 1."""
    value = problem.get("instance")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**16:
        return value
    return 1


def _traced(folder: Path, record: dict[str, Any]) -> TracedRun | str:
    """The run of ``folder`` with its improvements, or why it cannot be exported."""
    name = folder.name
    if record.get("status") != "finished":
        return f"{name}: {record.get('status', 'no status')}, not finished"
    try:
        improvements = read_improvements(folder)
    except (OSError, ValueError) as exc:
        return f"{name}: {IMPROVEMENTS} cannot be read ({exc})"
    if improvements is None or improvements.empty:
        return (
            f"{name}: no {IMPROVEMENTS} (recorded before improvements were logged; "
            "`bench verify SOURCE --out DIR` runs it again with them)"
        )
    spec, problem = record.get("spec") or {}, record.get("problem") or {}
    evaluations = int(record.get("evaluations") or 0)
    steps = improvements["evaluation"].to_numpy()
    if steps[0] != 1 or (np.diff(steps) <= 0).any() or steps[-1] > evaluations:
        return f"{name}: {IMPROVEMENTS} does not count from evaluation 1 up to {evaluations}"
    provenance = record.get("provenance") or {}
    genome = None
    if (folder / BEST_GENOME).is_file():
        genome = np.load(folder / BEST_GENOME, allow_pickle=False).reshape(-1)
    return TracedRun(
        run_id=str(record.get("run_id")),
        problem=str(spec["problem"]),
        algo=str(spec["algo"]),
        seed=int(spec["seed"]),
        preset=spec.get("preset") or None,
        algo_params=dict(spec.get("algo_params") or {}),
        dim=int(problem["dim"]),
        instance=_instance(problem),
        maximize=problem.get("sense") == "max",
        evaluations=evaluations,
        improvements=improvements,
        best_genome=genome,
        commit=commit_text(provenance.get("commit"), provenance.get("dirty")),
    )


def traced_runs(
    path: Path, problems: tuple[str, ...] = (), algos: tuple[str, ...] = ()
) -> tuple[list[TracedRun], list[str]]:
    """The finished runs under ``path`` that have improvements, and what was left out.

    Args:
        path: A run folder, a folder of run folders, a campaign folder, or a leaderboard
            folder built since 2 December 2026 (``tables/improvements.parquet``; it keeps
            no best genomes).
        problems: Only runs of these problems (all where empty).
        algos: Only runs of these algorithms (all where empty).

    Returns:
        ``(runs, left_out)``: the runs, in folder order, and one line for each run
        that was not exported, with why (unfinished, no improvements, unreadable, a
        second folder of one spec).

    Raises:
        SpecError: ``path`` holds no run folder (a leaderboard folder is named as
            such, with what to do instead), or a problem or algorithm filter matches
            no run.

    """
    path = Path(path)
    folders = recorded_folders(path)
    if folders is None and (path / BOARD_RUNS).is_file():
        if not (path / BOARD_IMPROVEMENTS).is_file():
            raise SpecError(
                f"{path} is a leaderboard built before runs kept their improvements (2 December "
                f"2026); run them again with `bench verify {path} --out DIR` (same seeds, same "
                "results) and export DIR"
            )
        return _board_runs(path, problems, algos)
    if folders is None:
        raise SpecError(
            f"{path} holds no recorded run: give a run folder (with {RECORD}), a folder of "
            "run folders or a campaign folder"
        )
    runs: list[TracedRun] = []
    left_out: list[str] = []
    seen: dict[str, str] = {}
    names: dict[str, set[str]] = {"problem": set(), "algo": set()}  # of every readable run
    for folder, record in readable_records(folders, left_out):
        spec = record.get("spec") or {}
        for key, found in names.items():
            found.add(str(spec.get(key)))
        if problems and spec.get("problem") not in problems:
            continue
        if algos and spec.get("algo") not in algos:
            continue
        run = _traced(folder, record)
        if isinstance(run, str):
            left_out.append(run)
        elif run.run_id in seen:
            left_out.append(f"{folder.name}: the same run as {seen[run.run_id]} (kept that one)")
        else:
            seen[run.run_id] = folder.name
            runs.append(run)
    _check_filter("problem", problems, names["problem"], path)
    _check_filter("algorithm", algos, names["algo"], path)
    return runs, left_out


def _board_runs(
    path: Path, problems: tuple[str, ...], algos: tuple[str, ...]
) -> tuple[list[TracedRun], list[str]]:
    """The runs of a leaderboard folder, from its run table and improvements table."""
    table = pd.read_parquet(path / BOARD_RUNS)
    steps = board_improvements(path)
    _check_filter("problem", problems, set(table["problem"].astype(str)), path)
    _check_filter("algorithm", algos, set(table["algo"].astype(str)), path)
    runs: list[TracedRun] = []
    left_out: list[str] = []
    for row in table.to_dict("records"):
        if (problems and row["problem"] not in problems) or (algos and row["algo"] not in algos):
            continue
        if row["status"] != "finished":
            left_out.append(f"{row['run_id']}: {row['status']}, not finished")
            continue
        if row["run_id"] not in steps or pd.isna(row.get("dim")):
            left_out.append(f"{row['run_id']}: the board holds no improvements of it")
            continue
        instance, commit, dirty = row.get("instance"), row.get("commit"), row.get("dirty")
        runs.append(TracedRun(
            run_id=str(row["run_id"]), problem=str(row["problem"]), algo=str(row["algo"]),
            seed=int(row["seed"]),
            preset=row["preset"] if isinstance(row.get("preset"), str) and row["preset"] else None,
            algo_params=json.loads(row["algo_params"] or "{}"),
            dim=int(row["dim"]),
            instance=_instance({"instance": None if pd.isna(instance) else int(instance)}),
            maximize=row["sense"] == "max", evaluations=int(row["evaluations"]),
            improvements=steps[row["run_id"]], best_genome=None,
            commit=commit_text(commit, not pd.isna(dirty) and bool(dirty)),
        ))  # fmt: skip
    return runs, left_out


def _check_filter(what: str, wanted: tuple[str, ...], found: set[str], path: Path) -> None:
    """Refuse a filter naming what no run has (a misspelt name would export nothing)."""
    missing = [name for name in wanted if name not in found]
    if missing:
        raise SpecError(
            f"no run under {path} has {what} {', '.join(missing)}; "
            f"its runs have: {', '.join(sorted(found)) or 'none'}"
        )


def _safe_names(names: list[str], what: str) -> dict[str, str]:
    """Each name's file-name form (the leaderboard's ``slug``); ``SpecError`` where two meet."""
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    for name in names:
        safe = slug(name)
        if safe in taken:
            raise SpecError(
                f"{what}s {taken[safe]} and {name} would share the file name {safe}; "
                "export them separately (--problem / --algo)"
            )
        taken[safe] = name
        out[name] = safe
    return out


def _number(value: float) -> str:
    """Every digit of ``value`` (shortest round-trip), as the ``.dat`` files hold it."""
    return repr(float(value))


def _block(run: TracedRun) -> str:
    """One run's lines of the ``.dat`` file: header, improvements, last evaluation."""
    lines = [HEADER]
    lines += [
        f"{int(e)} {_number(f)}"
        for e, f in zip(run.improvements["evaluation"], run.improvements["fitness"], strict=True)
    ]
    last, best = run.best
    if last < run.evaluations:
        lines.append(f"{run.evaluations} {_number(best)}")
    return "\n".join(lines) + "\n"


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _run_entry(run: TracedRun) -> dict[str, Any]:
    """A run as the JSON lists it: instance, length and best."""
    evals, y = run.best
    x: list[float] = []
    if run.best_genome is not None and run.best_genome.size <= MAX_POSITION_GENES:
        x = [float(v) for v in run.best_genome]
    return {
        "instance": run.instance,
        "evals": run.evaluations,
        "best": {"evals": evals, "y": _json_number(y), "x": x},
    }


def _algorithm_info(runs: list[TracedRun]) -> str:
    """The algorithm's preset, parameters and commits, in a few words."""
    words = []
    presets = sorted({r.preset for r in runs if r.preset})
    if presets:
        words.append("preset " + ", ".join(presets))
    params = sorted({json.dumps(r.algo_params, sort_keys=True) for r in runs})
    texts = [
        ", ".join(f"{k}={v}" for k, v in json.loads(p).items()) or "defaults" for p in params
    ]
    words.append("parameters " + " | ".join(texts))
    commits = sorted({r.commit for r in runs if r.commit})
    if commits:
        words.append("commit " + ", ".join(commits))
    return f"{SUITE}: " + "; ".join(words)


def _dataset(
    algo: str, problem: str, fid: int, runs: list[TracedRun], data_dir: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON of one algorithm on one problem, and its ``.dat`` files' text by path."""
    by_dim: dict[int, list[TracedRun]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.dim, r.seed)):
        by_dim[run.dim].append(run)
    scenarios, texts = [], {}
    for dim, group in by_dim.items():
        path = f"{data_dir}/IOHprofiler_f{fid}_DIM{dim}.dat"
        texts[path] = "".join(_block(r) for r in group)
        scenarios.append({"dimension": dim, "path": path, "runs": [_run_entry(r) for r in group]})
    dataset = {
        "version": _suite_version(),
        "suite": SUITE,
        "function_id": fid,
        "function_name": problem,
        "maximization": runs[0].maximize,
        "algorithm": {"name": algo, "info": _algorithm_info(runs)},
        "attributes": HEADER.split(),
        "scenarios": scenarios,
    }
    return dataset, texts


def _json_text(dataset: dict[str, Any]) -> str:
    """``dataset`` as JSON laid out like IOHexperimenter's: one line per key and per run."""

    def dump(value: Any) -> str:
        return json.dumps(value, allow_nan=False)

    lines = ["{"]
    lines += [f"  {dump(k)}: {dump(v)}," for k, v in dataset.items() if k != "scenarios"]
    lines.append('  "scenarios": [')
    for i, scenario in enumerate(dataset["scenarios"]):
        head = {k: v for k, v in scenario.items() if k != "runs"}
        lines.append("    " + dump(head)[:-1] + ', "runs": [')
        runs = [f"      {dump(run)}" for run in scenario["runs"]]
        lines += [line + "," for line in runs[:-1]] + runs[-1:]
        lines.append("    ]}" + ("," if i < len(dataset["scenarios"]) - 1 else ""))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _suite_version() -> str:
    return package_versions()[SUITE] or "unknown"


def write_ioh(
    runs: list[TracedRun], out: Path, source: str = "", left_out: list[str] | None = None
) -> IohExport:
    """Write ``runs`` as IOHprofiler data in the new folder ``out``.

    The files are written into a temporary folder beside ``out`` and renamed into
    place at the end, so an interrupted export leaves no half-written data set.

    Args:
        runs: The runs (``traced_runs``); at least one.
        out: The folder to create; it must not exist, or be empty.
        source: What the runs came from, for the README.
        left_out: Lines on the runs not exported, for the README.

    Returns:
        What was written.

    Raises:
        SpecError: No runs, ``out`` exists and is not empty, a problem whose runs
            disagree on its sense, or names that collide as file names.

    """
    out = Path(out)
    if not runs:
        raise SpecError("no run to export")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SpecError(f"{out} exists and is not an empty folder; give a new --out")
    problems = sorted({r.problem for r in runs})
    functions = {name: i for i, name in enumerate(problems, 1)}
    problem_files = _safe_names(problems, "problem")
    algo_files = _safe_names(sorted({r.algo for r in runs}), "algorithm")
    for problem in problems:
        senses = {r.maximize for r in runs if r.problem == problem}
        if len(senses) > 1:
            raise SpecError(f"the runs of {problem} disagree on whether to maximise it")
    groups: dict[tuple[str, str], list[TracedRun]] = defaultdict(list)
    for run in runs:
        groups[run.algo, run.problem].append(run)
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    files: list[Path] = []
    try:
        for (algo, problem), group in sorted(groups.items()):
            fid, fname = functions[problem], problem_files[problem]
            folder = tmp / algo_files[algo]
            dataset, texts = _dataset(algo, problem, fid, group, f"data_f{fid}_{fname}")
            for rel, text in texts.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_text(text)
                files.append(Path(algo_files[algo]) / rel)
            meta = folder / f"IOHprofiler_f{fid}_{fname}.json"
            meta.write_text(_json_text(dataset))
            files.append(meta.relative_to(tmp))
        counts = dict(sorted(Counter(r.algo for r in runs).items()))
        (tmp / README).write_text(_readme(functions, runs, counts, source, left_out or []))
        if out.exists():
            out.rmdir()  # empty, checked above
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return IohExport(out, functions, counts, sorted(files))


def _readme(
    functions: dict[str, int],
    runs: list[TracedRun],
    counts: dict[str, int],
    source: str,
    left_out: list[str],
) -> str:
    """The export's README: where the runs came from, which id is which problem."""
    lines = [
        "# IOHprofiler data written by latent-bench",
        "",
        f"{len(runs)} runs" + (f" from `{source}`" if source else "") + ", written by "
        f"`bench export-ioh` (latent-bench {_suite_version()}). Load this folder in "
        "IOHanalyzer (upload it zipped, or `DataSetList(path)` in R) or in iohinspector "
        "(`DataManager().add_folder(path)`).",
        "",
        "Each `.dat` block is one run (seed): evaluation 1, each evaluation that beat all "
        "before it, and the run's last evaluation with its best so far. Fitness is the "
        "problem's own (see `maximization` in each JSON).",
        "",
        "| function id | problem | sense | genes | runs |",
        "|---:|---|---|---:|---:|",
    ]
    for name, fid in functions.items():
        mine = [r for r in runs if r.problem == name]
        dims = ", ".join(str(d) for d in sorted({r.dim for r in mine}))
        sense = "max" if mine[0].maximize else "min"
        lines.append(f"| {fid} | {name} | {sense} | {dims} | {len(mine)} |")
    lines += ["", "| algorithm | runs |", "|---|---:|"]
    lines += [f"| {name} | {n} |" for name, n in counts.items()]
    if left_out:
        lines += ["", f"Left out ({len(left_out)}):", ""]
        lines += [f"- {line}" for line in left_out]
    return "\n".join(lines) + "\n"

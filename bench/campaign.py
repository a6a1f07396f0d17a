"""Campaigns: every problem × algorithm × seed, the same budget each, resumable.

A campaign folder holds ``campaign.json`` (the plan), a ``.lock`` file and
``runs/<run_id>/`` per run, where the run id hashes the run's full spec.
Re-running the same command skips finished runs (and failed ones unless asked),
so a campaign stopped by Ctrl-C or ``kill -9`` finishes where it stopped. Two
campaigns cannot write into one folder at once, and a folder whose plan changed
is refused unless forced. A run id hashes a file parameter's path, not the file:
on resume every input file a finished run recorded (``provenance.weights``) is
hashed again, and a folder whose runs were made with another version of a file
is refused unless those runs are to be run again (``rerun_changed``). Finished
runs whose problem, algorithm or generator came from another version of a
plugin than the one installed now (``provenance.registered``) are kept with a
warning, or run again with ``rerun_changed``. Only this process writes
records: the runs themselves may happen elsewhere (``run_many``;
``bench.distributed`` runs them on a Dask cluster).

Plans and their files are ``bench.plan``; the campaign folder (plan file, lock)
``bench.campaign_folder``; the checks of finished runs on resume
``bench.resume_checks``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from bench.campaign_folder import (
    CAMPAIGN_FILE,
    LOCK_FILE,
    RUNS,
    CampaignError,
    CampaignLock,
    check_plan,
    read_plan,
    refuse_folder_of_single_runs,
    write_json_atomic,
)
from bench.plan import (
    Plan,
    describe_additions,
    load_plan,
    plan_additions,
    plan_toml,
    resolve_names,
    resolve_seeds,
)
from bench.provenance import (
    SCHEMA_VERSION,
    problem_generator,
    provenance,
    registered_sources,
    utc_now,
)
from bench.results import flat_row, read_record, remove_stale_temporaries, run_table
from bench.resume_checks import check_code, check_inputs, check_plugins, check_presets
from bench.runner import RunResult, error_info, execute
from bench.spec import RunSpec, SpecError, placed

__all__ = [  # the campaign API, with what it re-exports from the modules it is made of
    "CAMPAIGN_FILE",
    "DEVICE_ENV",
    "LOCK_FILE",
    "RUNS",
    "CampaignError",
    "CampaignLock",
    "CampaignSummary",
    "Plan",
    "RunMany",
    "describe_additions",
    "failed_record",
    "load_campaign",
    "load_plan",
    "plan_additions",
    "plan_toml",
    "read_plan",
    "resolve_names",
    "resolve_seeds",
    "run_campaign",
    "run_or_fail",
]

DEVICE_ENV = "LATENT_BENCH_DEVICE"  # where workers (and ``--device``) put problems
RunMany = Callable[[list[RunSpec]], Iterator[tuple[RunSpec, RunResult]]]
"""Runs pending specs and yields each with its result as it finishes, in any order."""


@dataclass
class CampaignSummary:
    """Counts of what one invocation did."""

    total: int = 0
    ran: int = 0
    skipped_finished: int = 0
    skipped_failed: int = 0
    failed: int = 0
    rerun_changed: int = 0


def run_campaign(
    plan: Plan,
    folder: Path,
    force: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    run_fn: Callable[[RunSpec], RunResult] | None = None,
    run_many: RunMany | None = None,
    *,
    rerun_changed: bool = False,
) -> CampaignSummary:
    """Run every spec of ``plan`` not yet finished in ``folder``.

    Finished runs are skipped, once the input files they recorded
    (``provenance.weights``: weights, calibrations, target photos) are checked
    against the files now at the same paths, and the plugin versions they
    recorded (``provenance.registered``) against the installed ones: one warning
    per plugin whose version changed.

    Args:
        plan: The matrix to run.
        folder: Campaign folder (created if missing).
        force: Accept a folder whose stored plan differs.
        retry_failed: Run again the runs recorded as failed.
        progress: Show progress bars.
        run_fn: Runs one spec (default: ``execute`` in this process, with a bar of the
            run's evaluations under the campaign's where ``progress``).
        run_many: Runs all pending specs at once instead, e.g. on a cluster
            (``bench.distributed.on_cluster``); exclusive with ``run_fn``. Its
            ``check(specs)`` attribute, if any, may refuse them before the folder changes.
        rerun_changed: Run again the finished runs made with an input file that
            has changed since (each keeps its record until the new one replaces it),
            instead of refusing the folder, and those made with another version of
            a plugin, instead of warning about them.

    Returns:
        What was run and skipped.

    Raises:
        CampaignError: The folder is in use, holds another plan (without
            ``force``), or finished runs were made with input files that have
            changed since (without ``rerun_changed``).

    """
    if run_fn is not None and run_many is not None:
        raise ValueError("pass run_fn or run_many, not both")
    plan.validate()
    folder = Path(folder)
    runs = folder / RUNS
    refuse_folder_of_single_runs(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        runs.mkdir(exist_ok=True)
    except FileExistsError as exc:  # a file where the campaign (or its runs) folder belongs
        raise CampaignError(
            f"{exc.filename} is a file, not a folder; move it away or use another --out folder"
        ) from None
    except OSError as exc:
        raise CampaignError(f"cannot make the campaign folder {runs}: {exc}") from None
    summary = CampaignSummary(total=len(plan))
    with CampaignLock(folder):
        check_plan(folder, plan, force)
        remove_stale_temporaries(runs)
        specs = list(plan.specs())
        finished, todo = {}, []
        for spec in specs:
            target = runs / spec.run_id
            record = read_record(target) if target.exists() else {}
            status = record.get("status")
            if status == "finished":
                finished[spec.run_id] = record
            elif status == "failed" and not retry_failed:
                summary.skipped_failed += 1
            else:
                todo.append(spec.run_id)
        # before campaign.json changes: a refused folder stays as it was
        stale = check_inputs(folder, finished, rerun_changed)
        stale |= check_plugins(folder, finished, rerun_changed)
        stale |= check_code(folder, finished, rerun_changed)
        by_id = {spec.run_id: spec for spec in specs}
        stale |= check_presets(folder, finished, by_id, rerun_changed)
        todo_ids = set(todo) | stale
        pending = [spec for spec in specs if spec.run_id in todo_ids]  # in plan order
        summary.rerun_changed = len(stale)
        summary.skipped_finished = len(finished) - len(stale)
        check = getattr(run_many, "check", None)  # e.g. names a cluster cannot see
        if check is not None:
            check(pending)  # raises before the folder changes
        write_json_atomic(
            folder / CAMPAIGN_FILE,
            {"schema_version": SCHEMA_VERSION, "plan": plan.to_dict(), "updated": utc_now()},
        )
        bar = tqdm(total=len(plan), unit="run", disable=not progress, dynamic_ncols=True)
        try:
            bar.update(len(plan) - len(pending))
            if run_many is None:
                results = _in_process(pending, run_fn, bar.set_description, progress)
            else:
                flight = getattr(run_many, "in_flight", None)  # the workers' progress
                if flight is not None and progress:
                    flight.show = bar.set_description
                results = run_many(pending)
            for spec, result in results:
                result.save(runs / spec.run_id, replace=True)
                summary.ran += 1
                summary.failed += result.record["status"] != "finished"
                bar.update()
        finally:
            bar.close()
    return summary


def _in_process(
    specs: list[RunSpec],
    run_fn: Callable[[RunSpec], RunResult] | None,
    describe: Callable[[str], object],
    progress: bool = False,
) -> Iterator[tuple[RunSpec, RunResult]]:
    """Run ``specs`` one after the other here, naming each (``describe``) as it starts.

    With ``progress``, the default ``run_fn`` shows each run's evaluations on a
    second bar: a run of the 64-px face sets takes minutes, and a bar of whole
    runs alone looked stuck.
    """
    run_fn = run_fn or (lambda spec: execute(spec, progress=progress, nested=True))
    for spec in specs:
        describe(f"{spec.problem} × {spec.algo} s{spec.seed}")
        yield spec, run_or_fail(spec, run_fn)


def run_or_fail(spec: RunSpec, run_fn: Callable[[RunSpec], RunResult]) -> RunResult:
    """``run_fn(spec)``, or a failed run's result when the run cannot start.

    A spec that cannot be built (``SpecError``) and a problem whose construction
    raises (a missing or corrupt weight file, say) are recorded as failed runs
    with their error, like a search that fails: one problem's trouble costs its
    own runs, not the rest of the campaign, and ``--retry-failed`` runs them again
    once the cause is fixed. Interrupts (Ctrl-C) still stop the campaign.
    """
    try:
        return run_fn(spec)
    except Exception as exc:
        return RunResult(failed_record(spec, exc), None, None, None)


def failed_record(spec: RunSpec, exc: BaseException, device: str | None = None) -> dict[str, Any]:
    """The record of a run of ``spec`` that ``exc`` stopped before it could start.

    Like a finished run's record it carries a ``finished`` time and the
    ``provenance`` (code, packages, machine) of where it failed; no weight files,
    since the problem was never built.

    Args:
        spec: The run.
        exc: What stopped it.
        device: The device the problem was meant for; by default the one the
            problem would be placed on here (``LATENT_BENCH_DEVICE``, see ``placed``).

    """
    now = utc_now()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "status": "failed",
        "started": now,
        "finished": now,
        # a usage error's traceback says nothing; any other keeps it to debug the cause
        "error": {**error_info(exc), **({"traceback": ""} if isinstance(exc, SpecError) else {})},
        "evaluations": 0,
        "provenance": _failed_run_provenance(spec, device),
    }


def _failed_run_provenance(spec: RunSpec, device: str | None) -> dict[str, Any]:
    """``provenance`` for a run that never started, on the device it was meant for."""
    if device is None:
        try:
            _, device = placed(spec, os.environ.get(DEVICE_ENV) or None)
        except Exception:  # an unknown problem, say: the run failed for that already
            device = "cpu"
    try:
        prov = provenance(device=device)
    except Exception:  # a device this machine lacks: the machine is still worth recording
        prov = provenance()
    generator = problem_generator(spec.problem, spec.problem_params)
    return {**prov, "registered": registered_sources(spec.problem, spec.algo, generator=generator)}


def load_campaign(folder: Path) -> pd.DataFrame:
    """All runs of a campaign as one DataFrame, one row per planned run.

    Runs not yet recorded appear with ``status == "pending"``; finished and
    failed runs carry their figures and errors.
    """
    folder = Path(folder)
    plan = read_plan(folder)
    runs = folder / RUNS  # absent until the first run: every run is pending
    folders = runs.iterdir() if runs.is_dir() else ()
    recorded = {}
    for path in (p for p in folders if p.is_dir() and not p.name.startswith(".")):
        record = read_record(path)  # warns about an unusable one, which stands in as failed
        recorded[record.get("run_id")] = (record, path)
    rows = []
    for spec in plan.specs():
        record, path = recorded.get(spec.run_id, (None, None))
        if record is None:
            record = {"run_id": spec.run_id, "spec": spec.to_dict(), "status": "pending"}
        elif not record.get("spec"):  # an unusable record says nothing of its run: the plan does
            record = {**record, "spec": spec.to_dict()}
        rows.append(flat_row(record, path))
    return run_table(rows)

"""One call runs one search and returns its record (like pymoo's ``minimize``).

The loop is ask → evaluate → tell until the evaluator's budget is spent. If the
algorithm asks for more genomes than remain, only the first ``remaining`` are
evaluated and the run ends there without a final ``tell``: every algorithm
spends exactly its budget. Failures become records with the error kept as data;
only usage errors (``SpecError``) and interrupts propagate.
"""

from __future__ import annotations

import contextlib
import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg  # noqa: F401  loads SciPy's own BLAS now, so that runs can limit it too
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from bench.algorithm import Algorithm
from bench.evaluator import BudgetEvaluator
from bench.images import ImageError, check_images
from bench.prior_distance import genome_vs_prior
from bench.problem import Problem
from bench.provenance import (
    SCHEMA_VERSION,
    portable_path,
    provenance,
    registered_sources,
    sha256_file,
    utc_now,
)
from bench.registry import RegistryError, registry
from bench.results import improvement_table, save_run
from bench.spec import (
    RunSpec,
    SpecError,
    algorithm_params,
    build_algorithm,
    build_problem,
    check_spec,
    plain,
)

BLAS_THREADS = 1  # threads of NumPy's BLAS during a run (see ``execute``)


@dataclass
class RunResult:
    """What a run produced, before it is written to disk.

    Attributes:
        record: The JSON record.
        curve: Anytime curve, one row per evaluated batch.
        best_genome: Flat best genome ``[D]``, or ``None`` if nothing was evaluated.
        images: Rendered images of the best solution, or ``None``.
        archive: Snapshots of the passive archive, or ``None`` (problems without measures).
        improvements: The evaluations that beat all before them (``evaluation``,
            ``fitness``, ``valid``; ``bench.evaluator``), or ``None`` if nothing was evaluated.

    """

    record: dict[str, Any]
    curve: pd.DataFrame | None
    best_genome: np.ndarray | None
    images: list[np.ndarray] | None
    archive: dict[str, np.ndarray] | None = None
    improvements: pd.DataFrame | None = None

    def save(self, folder: Path, replace: bool = False) -> Path:
        """Write the run folder atomically (see ``bench.results.save_run``)."""
        return save_run(
            folder, self.record, self.curve, self.best_genome, self.images, replace,
            self.archive, self.improvements,
        )


def error_info(exc: BaseException) -> dict[str, str]:
    """A record's ``error`` block: type, message and traceback of ``exc``."""
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _check_given_problem(spec: RunSpec, problem: object) -> None:
    """Raise ``SpecError`` where ``problem`` is another registered problem than ``spec``'s.

    A Rastrigin given for ``"sphere"`` ran under the sphere spec's run id and
    name. A class no entry point registers (a wrapper, a test double) passes:
    the record names its class (``problem.class``).
    """
    problems = registry("problems")
    if isinstance(problem, problems.load(spec.problem)):
        return
    for name in problems.names():
        try:
            other = problems.load(name)
        except RegistryError:  # a broken plugin says so where it is used
            continue
        if isinstance(other, type) and isinstance(problem, other):
            raise SpecError(
                f"problem= is a {type(problem).__name__} ('{name}'), but the spec names "
                f"'{spec.problem}'; build it from the spec, or leave problem= out"
            )


def _device_used(problem: Problem) -> str:
    """The device ``problem`` computes on, for the provenance: its own, else the CPU.

    A problem without a ``device`` (attribute or ``describe()`` entry) runs on
    the CPU whatever a caller asked for.
    """
    own = getattr(problem, "device", None)
    if own is None:
        own = problem.describe().get("device")
    return "cpu" if own is None else str(own)


def render_best(
    problem: Problem, genome: np.ndarray
) -> tuple[list[np.ndarray] | None, dict[str, str] | None]:
    """The images of ``genome [D]`` by ``problem.render``, checked, or the error instead.

    Images of the wrong form (a torch tensor, floats, channels first; see
    ``bench.images.check_images``) would fail only when the run is saved, or be
    saved black; they are refused here with a one-line message (no traceback:
    the message says all) and the run keeps no images.

    Returns:
        ``(images, None)`` (images a list of one uint8 ``[H, W, C]``, or ``None``
        where the problem renders nothing), or ``(None, error)`` with a record's
        ``render_error`` block (type, message, traceback).

    """
    try:
        images = problem.render(genome[None])
    except Exception as exc:
        return None, error_info(exc)
    try:
        return check_images(images, 1, f"{type(problem).__name__}.render()"), None
    except ImageError as exc:
        return None, {"type": type(exc).__name__, "message": str(exc), "traceback": ""}


BATCH_OPTIONS = (
    "population", "pop_size", "popsize", "n_offsprings", "batch", "initial", "emitters",
)  # fmt: skip
"""Options that set an algorithm's batch, in the order a budget message suggests them."""


def _smaller_batch_hint(algo: Algorithm) -> str:
    """How to lower ``algo``'s batch: the options of ``BATCH_OPTIONS`` its class takes."""
    accepted = set(inspect.signature(type(algo)).parameters)
    if hasattr(algo, "accepted_options"):  # pymoo adapters take pymoo's keywords too
        accepted |= set(algo.accepted_options())
    names = [name for name in BATCH_OPTIONS if name in accepted]  # --set, or a plan's table
    return f"lower the batch (option {' or '.join(names)})" if names else "lower the batch size"


def check_sense(problem: Problem) -> None:
    """Raise ``ValueError`` unless ``problem.sense`` is ``"min"`` or ``"max"``.

    A misspelt sense (``"minimize"``) would otherwise be maximised without a word.
    """
    if problem.sense not in ("min", "max"):
        raise ValueError(
            f"{type(problem).__name__}.sense is {problem.sense!r}; it must be 'min' or 'max'"
        )


def search(
    algo: Algorithm,
    evaluator: BudgetEvaluator,
    progress: bool = False,
    desc: str | None = None,
    nested: bool = False,
    report: Callable[[int, float], object] | None = None,
) -> float:
    """Ask, evaluate and tell until ``evaluator`` has spent its budget.

    Args:
        algo: A fresh algorithm.
        evaluator: The budget-enforcing evaluator of ``problem``.
        progress: Show a progress bar.
        desc: Label of the progress bar.
        nested: The bar sits under a campaign's bar and goes when the run ends.
        report: Called after each batch with the evaluations spent and the best
            fitness so far (a Dask worker tells the campaign's driver).

    Returns:
        Seconds spent inside ``ask`` and ``tell``.

    """
    algo_seconds = 0.0
    bar = tqdm(
        total=evaluator.budget,
        unit="eval",
        disable=not progress,
        dynamic_ncols=True,
        desc=desc,
        leave=progress and not nested,
        position=1 if nested else None,
    )
    try:
        while evaluator.remaining > 0:
            t = time.perf_counter()
            genomes = algo.ask()
            algo_seconds += time.perf_counter() - t
            last = len(genomes) >= evaluator.remaining
            result = evaluator(genomes[: evaluator.remaining])
            if not last:
                t = time.perf_counter()
                algo.tell(result.loss, result.measures, result.valid)
                algo_seconds += time.perf_counter() - t
            evaluator.curve[-1]["algo_seconds"] = algo_seconds
            bar.update(len(result.fitness))
            bar.set_postfix(best=f"{evaluator.best_fitness:.4g}", refresh=False)
            if report is not None:
                report(evaluator.used, evaluator.best_fitness)
    finally:
        bar.close()
    return algo_seconds


def execute(
    spec: RunSpec,
    progress: bool = False,
    device: str = "cpu",
    problem: Problem | None = None,
    *,
    nested: bool = False,
    report: Callable[[int, float], object] | None = None,
) -> RunResult:
    """Run ``spec`` to the end of its budget, NumPy's BLAS on one thread.

    A BLAS splits a matrix product differently for each number of threads, and
    so rounds it differently: full CMA-ES at 512 genes samples other points on
    two threads than on one. One thread for the algorithms' NumPy (PyTorch keeps
    its own threads) makes a seed's run the same in a plain campaign, on a Dask
    worker and on any machine with the same BLAS build and CPU kind, which the
    provenance records (``blas``).

    Args:
        spec: The run.
        progress: Show a progress bar (evaluations, best so far, evaluations/s).
        device: Not used: the provenance records the device the problem itself
            reports (``problem.device``), else the CPU; kept for callers that pass it.
        problem: The problem of ``spec``, already built (a worker reuses one across runs;
            it must hold no state between runs); built from the spec when ``None``.
        nested: The progress bar is a campaign's second line, gone when the run ends.
        report: Called after each batch with the evaluations spent and the best
            fitness so far (``search``).

    Returns:
        The run's result; ``record["status"]`` is ``"finished"`` or ``"failed"``.

    Raises:
        SpecError: The spec cannot be built (unknown parameter, budget too small, ...).

    """
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return _execute(spec, progress, problem, nested, report)


def _execute(
    spec: RunSpec,
    progress: bool,
    problem: Problem | None,
    nested: bool,
    report: Callable[[int, float], object] | None = None,
) -> RunResult:
    if problem is None:
        problem = build_problem(spec)  # checks the spec (check_spec) before it builds
    else:
        check_spec(spec)  # types, names, budget and parameters
        _check_given_problem(spec, problem)
    device = _device_used(problem)
    check_sense(problem)
    algo = build_algorithm(spec, problem)
    if spec.budget < algo.batch_size:
        raise SpecError(
            f"budget {spec.budget} is smaller than one batch of '{spec.algo}' "
            f"({algo.batch_size} evaluations); raise the budget or {_smaller_batch_hint(algo)}"
        )
    notes = []
    if spec.budget <= algo.batch_size and getattr(algo, "learns", True):
        notes.append(
            f"the budget ({spec.budget}) is no more than one batch of '{spec.algo}' "
            f"({algo.batch_size}): the run ended before the search acted on any evaluation, "
            "so it sampled its starting distribution only"
        )
    if hasattr(problem, "warm_up"):
        problem.warm_up()  # one-off calibration (the face problem's measure axes), off the clock
    if hasattr(algo, "warm_up"):
        algo.warm_up()  # one-off JIT work, outside the run's clock
    uses_measures = getattr(algo, "uses_measures", False) and problem.measure_space is not None
    evaluator = BudgetEvaluator(problem, spec.budget, with_measures=uses_measures)
    given = algorithm_params(spec, type(algo))
    defaults = algo.default_options(given) if hasattr(algo, "default_options") else {}
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "problem": {
            "sense": problem.sense,
            "dim": problem.dim,
            "class": f"{type(problem).__module__}.{type(problem).__qualname__}",
            **plain(problem.describe()),
        },
        "algorithm": {
            "batch_size": algo.batch_size,
            "params": plain(given),
            "defaults": plain(defaults),
        },
        "notes": notes,
        "started": utc_now(),
        "status": "running",
        "error": None,
    }
    # before the search: a commit made while it runs is not the code that ran (the
    # checkout's state is read once per process, at its first run: the modules it runs)
    record["provenance"] = {
        **provenance(problem.weight_files(), device),
        "registered": registered_sources(
            spec.problem, spec.algo, generator=getattr(problem, "generator_name", None)
        ),
    }
    start = time.perf_counter()
    try:
        algo_seconds = search(
            algo,
            evaluator,
            progress=progress,
            desc=f"{spec.problem} × {spec.algo} s{spec.seed}",
            nested=nested,
            report=report,
        )
        record["status"] = "finished"
    except (KeyboardInterrupt, SpecError):
        raise
    except Exception as exc:  # the run failed; keep the error as data
        record["status"] = "failed"
        record["error"] = error_info(exc)
        algo_seconds = evaluator.curve[-1].get("algo_seconds", 0.0) if evaluator.curve else 0.0
    wall = time.perf_counter() - start
    if record["status"] == "finished" and evaluator.used and evaluator.best_genome is None:
        record["status"] = "failed"  # it ran, but has no result: nothing to rank or to show
        record["error"] = {
            "type": "NoValidEvaluation",
            "message": f"none of the {evaluator.used} evaluations was valid: every fitness "
            "(or measure) the problem returned was NaN or infinite",
            "traceback": "",
        }
    images = None
    if evaluator.best_genome is not None and record["status"] == "finished":
        images, render_error = render_best(problem, evaluator.best_genome)
        if render_error is not None:  # rendering is a courtesy; the run itself stands
            record["render_error"] = render_error
        try:
            report = problem.report(evaluator.best_genome[None])
            if not isinstance(report, dict):
                raise TypeError(f"report() returned {type(report).__name__}, not a dict")
            record["report"] = plain(report)
        except Exception as exc:  # so are the problem's own figures
            record["report_error"] = error_info(exc)
        # where the best genome lies against the prior: outside it, a generator's images
        # score for other reasons than the search's (bench.prior_distance)
        try:  # a courtesy too: a prior of another kind, or a failing fed_genomes, has none
            fed = problem.fed_genomes(evaluator.best_genome[None])[0]
            record["best_vs_prior"] = genome_vs_prior(fed, problem.prior)
        except Exception as exc:
            record["best_vs_prior_error"] = error_info(exc)
    record.update(
        {
            "finished": utc_now(),
            # None without a valid evaluation: the problem's stand-in worst is no result
            "best_fitness": evaluator.best_fitness if evaluator.best_genome is not None else None,
            "evaluations": evaluator.used,
            "nonfinite": evaluator.nonfinite,
            "wall_seconds": wall,
            "eval_seconds": evaluator.eval_seconds,
            "algo_seconds": algo_seconds,
            "evals_per_second": evaluator.used / wall if wall > 0 else None,
        }
    )
    weights = record["provenance"]["weights"]
    for path in problem.weight_files():  # files first used after the search (report's judges)
        with contextlib.suppress(OSError):  # gone since: the run stands, unhashed
            weights.setdefault(portable_path(path), sha256_file(path))
    record["provenance"] = record.pop("provenance")  # last, where readers of records look
    if evaluator.archive is not None:  # passive archive: QD-score and coverage for every algorithm
        record["archive"] = evaluator.archive.describe()
    curve = pd.DataFrame(evaluator.curve) if evaluator.curve else None
    archive = evaluator.archive.snapshot_arrays() if evaluator.archive is not None else None
    improvements = improvement_table(evaluator.improvements) if evaluator.improvements else None
    return RunResult(record, curve, evaluator.best_genome, images, archive, improvements)

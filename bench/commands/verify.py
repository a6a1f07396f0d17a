"""``bench verify``: run recorded runs again and say whether they repeat, and if not, why.

``bench.verify`` reads leaderboard folders, so it loads the statistics libraries: it is
imported when the command runs, and ``bench`` starts without them (a GPU machine lent
for training has none).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bench.commands.common import (
    USAGE_ERRORS,
    add_cluster_options,
    count_arg,
    out_folder,
    seed_arg,
    writable_out,
)
from bench.results import save_run_numbered
from bench.runner import RunResult, execute
from bench.spec import RunSpec, SpecError, build_problem, placed

if TYPE_CHECKING:
    from bench.verify import RecordedRun, Verdict

VERDICT_FILE = "verify.csv"


def _duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.1 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _fitness(value: float) -> str:
    return "none" if math.isnan(value) else f"{value:.6g}"


def _verdict_line(verdict: Verdict, done: int, total: int) -> str:
    """One line per run: how many are done, its id, what it is, and how the re-run compares."""
    from bench.verify import CLOSE, FAILED, IDENTICAL

    spec = verdict.run.spec
    width = len(str(total))
    what = f"{spec.problem} × {spec.algo}, seed {spec.seed}"
    head = f"[{done:>{width}}/{total}] {spec.run_id}  {what}: "
    if verdict.status == FAILED:
        return f"FAILED     {head}{verdict.message}"
    recorded = _fitness(verdict.run.best_fitness)
    if verdict.status == IDENTICAL:
        return f"same       {head}{recorded}, identical"
    rel = verdict.relative_difference
    change = f" ({rel:+.2e} relative)" if not math.isnan(rel) else ""
    if verdict.status == CLOSE:
        return f"close      {head}recorded {recorded}, now {_fitness(verdict.fitness)}{change}"
    text = f"DIFFERS    {head}recorded {recorded}, now {_fitness(verdict.fitness)}{change}"
    if verdict.evaluations != verdict.run.evaluations:
        text += f"; {verdict.evaluations} evaluations, recorded {verdict.run.evaluations}"
    if verdict.parted_at is not None:
        text += f"; parted at evaluation {verdict.parted_at}"
    return text


@contextlib.contextmanager
def _rerun_folder(out: str | None) -> Iterator[tuple[Path, bool]]:
    """The folder re-runs are saved in, and whether it is kept (``--out``) or temporary."""
    if out is not None:
        folder = out_folder(out)
        with writable_out(folder):
            yield folder, True
        return
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        yield Path(tmp), False


def _rerun(run: RecordedRun, device: str | None, progress: bool) -> RunResult:
    """``run``'s spec run again here; a failed result where it cannot start."""
    spec = run.spec
    try:
        if device is None:
            return execute(spec, progress=progress)
        build_spec, used = placed(spec, device)
        return execute(spec, progress, device=used, problem=build_problem(build_spec))
    except USAGE_ERRORS as exc:  # a plugin not installed here, a weight file missing
        return RunResult({"status": "failed", "error": {"message": str(exc)}}, None, None, None)


def _reruns(
    chosen: list[RecordedRun], args: argparse.Namespace
) -> Iterator[tuple[RecordedRun, RunResult]]:
    """Each chosen run with its re-run: here, one by one, or on a Dask cluster as they finish."""
    if args.workers is None and args.scheduler is None:
        for run in chosen:
            yield run, _rerun(run, args.device, not args.no_progress)
        return
    from bench.distributed import cluster_client, on_cluster  # Dask

    if args.device is not None:
        os.environ["LATENT_BENCH_DEVICE"] = args.device  # local Dask workers inherit it
    by_id = {run.spec.run_id: run for run in chosen}
    with cluster_client(args.scheduler, args.workers) as client:
        workers = len(client.scheduler_info().get("workers", {}))
        print(f"cluster    {client.scheduler.address} with {workers} worker(s) now", flush=True)
        for spec, result in on_cluster(client)([run.spec for run in chosen]):
            yield by_id[spec.run_id], result


def _save(result: RunResult, out: Path) -> None:
    """Keep a re-run as a numbered run folder in ``out`` (``--out``)."""
    spec = RunSpec.from_dict(result.record["spec"]) if result.record.get("spec") else None
    stem = f"{spec.problem}-{spec.algo}-s{spec.seed}" if spec else "unstarted"
    save_run_numbered(
        out,
        stem.replace(":", "_").replace("@", "_"),
        record=result.record,
        curve=result.curve,
        best_genome=result.best_genome,
        images=result.images,
        archive=result.archive,
        improvements=result.improvements,
    )


def _print_differences(verdicts: list[Verdict]) -> None:
    """What differs between where the runs were recorded and here, once per difference."""
    counts = Counter(d for v in verdicts for d in v.differences)
    if not counts:
        print("recorded   with the commit, packages, weights and machine of this run")
        return
    print("recorded   under other conditions than here:")
    for (what, then, now), n in counts.items():
        runs = f" ({n} of {len(verdicts)} runs)" if n != len(verdicts) else ""
        print(f"  {what}{runs}:\n    recorded {then}\n    here     {now}")


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-run recorded runs and compare; exit status 1 where any does not repeat."""
    from bench.verify import (
        CLOSE,
        DIFFERS,
        FAILED,
        IDENTICAL,
        blas_hint,
        compare,
        recorded_runs,
        select,
    )

    path = Path(args.path)
    if not path.exists():
        raise SpecError(f"{path} does not exist")
    runs, left_out = recorded_runs(path)
    chosen = select(
        runs,
        problems=args.problem or (),
        algos=args.algo or (),
        ids=args.run or (),
        sample=args.sample,
        sample_seed=args.sample_seed,
    )
    if not chosen:
        raise SpecError(f"no finished run to verify in {path}")
    recorded_time = sum(r.wall_seconds for r in chosen if not math.isnan(r.wall_seconds))
    print(
        f"verify     {len(chosen)} of the {len(runs)} finished runs in {path} "
        f"({_duration(recorded_time)} of recorded run time)"
    )
    if left_out:
        print(f"left out   {len(left_out)} unfinished or unreadable run(s), e.g. {left_out[0]}")
    verdicts = []
    with _rerun_folder(args.out) as (out, keep):
        try:
            for run, result in _reruns(chosen, args):
                if keep and result.record.get("spec"):
                    _save(result, out)
                verdict = compare(
                    run, result.record, result.curve, args.rtol, result.improvements
                )
                verdicts.append(verdict)
                print(_verdict_line(verdict, len(verdicts), len(chosen)), flush=True)
        except _cluster_lost() as exc:
            # closing the client cancels its reconnect loop, which Dask logs as a traceback
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
            print(f"bench: error: {exc}", file=sys.stderr)
            return 1
        finally:
            if keep and verdicts:
                _verdict_table(verdicts).to_csv(out / VERDICT_FILE, index=False)
    status = Counter(v.status for v in verdicts)
    repeated = status[IDENTICAL] + status[CLOSE]
    print(
        f"verified   {repeated} of {len(verdicts)} repeat ({status[IDENTICAL]} identical, "
        f"{status[CLOSE]} within {args.rtol:g}); {status[DIFFERS]} differ, "
        f"{status[FAILED]} failed"
    )
    _print_differences(verdicts)
    hint = blas_hint(verdicts)
    if hint:
        print(
            f"hint       {hint} bench verify ... makes OpenBLAS use the recorded kernels "
            "(on a CPU that has their instructions); CMA-ES's decompositions carry their "
            "rounding into the search"
        )
    if keep:
        print(f"saved      re-runs and {VERDICT_FILE} in {out}")
    return 0 if repeated == len(verdicts) else 1


def _verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One row per verified run: its spec, both fitness figures, status, where they parted."""
    return pd.DataFrame(
        [
            {
                "run_id": v.run.spec.run_id,
                "problem": v.run.spec.problem,
                "algo": v.run.spec.algo,
                "seed": v.run.spec.seed,
                "recorded": v.run.best_fitness,
                "rerun": v.fitness,
                "relative_difference": v.relative_difference,
                "status": v.status,
                "parted_at": v.parted_at,
                "message": v.message,
            }
            for v in verdicts
        ]
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``verify`` subcommand."""
    p = sub.add_parser(
        "verify",
        help="run recorded runs again: do they repeat, and if not, what differs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status 0 when every run repeats, 1 when one does not, 2 for usage errors.\n"
        "examples:\n  bench verify runs/00001-sphere-ga-s0\n"
        "  bench verify runs/c1 --sample 5\n"
        "  bench verify results/leaderboard --problem face --algo cma-me",
    )
    p.add_argument(
        "path",
        help="run folder, folder of runs, campaign folder, or leaderboard folder "
        "(results/leaderboard)",
    )
    p.add_argument("--problem", nargs="+", help="only runs of these problems")
    p.add_argument("--algo", nargs="+", help="only runs of these algorithms")
    p.add_argument("--run", nargs="+", metavar="ID", help="only these runs (id prefixes)")
    p.add_argument("--sample", type=count_arg, metavar="N", help="N of the runs, drawn at random")
    p.add_argument(
        "--sample-seed", type=seed_arg, default=0, help="seed of --sample's draw (default 0)"
    )
    p.add_argument(
        "--rtol",
        type=_tolerance,
        default=1e-6,
        help="relative difference still counted as repeating (default 1e-6; 0: bit for bit)",
    )
    p.add_argument("--out", help="keep the re-runs and a verify.csv here (default: discarded)")
    p.add_argument("--device", help="cpu, cuda or cuda:N for problems with networks")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_cluster_options(p)
    p.set_defaults(func=cmd_verify)


def _cluster_lost() -> tuple[type[BaseException], ...]:
    """``ClusterLostError`` where Dask is imported already (only a cluster run raises it)."""
    module = sys.modules.get("bench.distributed")
    return (module.ClusterLostError,) if module is not None else ()


def _tolerance(text: str) -> float:
    """A relative tolerance: a number from 0 to below 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a tolerance from 0 to below 1, got '{text}'")
    return value

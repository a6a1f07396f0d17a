"""Campaigns on a Dask cluster: a worker killed mid-run costs one run, resume, CLI flags.

One local cluster of two worker processes serves the whole module (starting one
costs seconds on a small machine); ``--workers`` starts one more of one worker.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dask
import numpy as np
import pytest
import torch
from distributed import Client, LocalCluster
from test_campaign import _plan, _unbuildable_plan

from bench.campaign import Plan, load_campaign, run_campaign
from bench.cli import main
from bench.distributed import ProblemCache, on_cluster, placed, run_on_worker, worker_problems
from bench.problem import Problem
from bench.provenance import sha256_file
from bench.results import RECORD, read_improvements
from bench.runner import RunResult, execute
from bench.spec import RunSpec

# the plan of the one-process campaign tests (2 problems × 2 algorithms × 2 seeds), its GA
# under a variant label, which must reach the workers and come back as it went
PLAN = _plan(algorithms=["random", "ga@pop40"], algo_params={"ga@pop40": {"population": 40}})
VICTIM = ("rastrigin", "ga@pop40", 1)  # the run whose worker dies in the middle
WEIGHTS = Path(__file__).resolve().parents[1] / "generators" / "weights"
# A worker killed by an earlier test restarts in seconds on an idle machine; on a loaded
# 2-core one (the tests beside other work) it took over 60 s, which failed 3 tests.
WORKER_RESTART_SECONDS = 240


class _ExitsAtSecondBatch(Problem):
    """``inner``, except that the process exits at the second batch unless ``marker`` exists."""

    def __init__(self, inner: Problem, marker: Path) -> None:
        self.inner, self.marker, self.batches = inner, marker, 0
        self.genome_shape, self.sense = inner.genome_shape, inner.sense

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        self.batches += 1
        if self.batches == 2 and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies here, in the middle of the run
        return self.inner.evaluate(genomes)


def _kill_victim_once(spec: RunSpec, marker: Path) -> RunResult:
    """The workers' task: ``run_on_worker``, but the victim's first try kills its worker."""
    if (spec.problem, spec.algo, spec.seed) == VICTIM and not marker.exists():
        return execute(spec, problem=_ExitsAtSecondBatch(worker_problems().get(spec), marker))
    return run_on_worker(spec)


def _problems_built() -> int:
    return worker_problems().built


def _always_exits(spec: RunSpec) -> RunResult:
    os._exit(1)


@pytest.fixture(scope="module")
def client():
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),  # two deaths: given up
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _best(folder: Path):
    return load_campaign(folder).set_index("run_id")[["best_fitness", "evaluations"]].sort_index()


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_only_that_run(client, tmp_path):
    marker = tmp_path / "killed"
    task = functools.partial(_kill_victim_once, marker=marker)
    summary = run_campaign(
        PLAN, tmp_path / "c", progress=False, run_many=on_cluster(client, task=task)
    )
    assert marker.exists(), "the victim's worker was never killed"
    killed_pid = int(marker.read_text())
    assert killed_pid not in client.run(os.getpid).values()  # that process is gone
    # every run recorded exactly once: eight saves for eight runs, no stray folders
    assert (summary.ran, summary.failed, summary.skipped_finished) == (8, 0, 0)
    runs = sorted((tmp_path / "c" / "runs").iterdir())
    assert len(runs) == 8 and all((p / RECORD).is_file() for p in runs)
    # the same results as one process with the same seeds
    single = run_campaign(PLAN, tmp_path / "single", progress=False)
    assert single.ran == 8
    assert _best(tmp_path / "c").equals(_best(tmp_path / "single"))
    for run in runs:  # improvements, evaluation by evaluation, travel back from the workers
        alone = read_improvements(tmp_path / "single" / "runs" / run.name)
        assert read_improvements(run).equals(alone), run.name
    # a second invocation runs nothing
    again = run_campaign(PLAN, tmp_path / "c", progress=False, run_many=on_cluster(client))
    assert (again.ran, again.skipped_finished) == (0, 8)


@pytest.mark.slow
def test_a_run_that_keeps_killing_workers_is_recorded_as_failed(client, tmp_path):
    plan = Plan(problems=["sphere"], algorithms=["random"], seeds=[0], budget=100)
    summary = run_campaign(
        plan, tmp_path, progress=False, run_many=on_cluster(client, task=_always_exits)
    )
    assert (summary.ran, summary.failed) == (1, 1)
    (row,) = load_campaign(tmp_path).to_dict("records")
    assert row["status"] == "failed" and row["error_type"] == "KilledWorker"
    assert "2 different workers" in row["error"], row["error"]
    (record,) = [json.loads(p.read_text()) for p in tmp_path.rglob(RECORD)]
    assert "failed on a Dask worker" in record["provenance"]["recorded_by"]
    assert record["provenance"]["worker"].startswith("tcp://")  # the driver's machine is not it
    again = run_campaign(plan, tmp_path, progress=False, run_many=on_cluster(client))
    assert (again.ran, again.skipped_failed) == (0, 1)  # kept, like any failed run


def _seed_0_exits(spec: RunSpec) -> RunResult:
    if spec.seed == 0:
        os._exit(1)
    return run_on_worker(spec)


@pytest.mark.slow
def test_runs_queued_beside_a_killer_are_not_recorded_as_killers(tmp_path):
    """One worker holds two runs at a time; Dask counted each death against both."""
    plan = Plan(problems=["sphere"], algorithms=["random"], seeds=[0, 1, 2], budget=100)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as one_worker,
    ):
        summary = run_campaign(
            plan, tmp_path, progress=False, run_many=on_cluster(one_worker, task=_seed_0_exits)
        )
    assert (summary.ran, summary.failed) == (3, 1)
    status = load_campaign(tmp_path).set_index("seed")["status"].to_dict()
    assert status == {0: "failed", 1: "finished", 2: "finished"}


def test_a_problem_no_worker_can_build_fails_its_runs_not_the_campaign(client, tmp_path):
    plan = _unbuildable_plan(tmp_path / "missing.pt")  # every worker lacks the file
    summary = run_campaign(plan, tmp_path / "c", progress=False, run_many=on_cluster(client))
    assert (summary.ran, summary.failed) == (4, 2)
    df = load_campaign(tmp_path / "c")
    assert sorted(zip(df["problem"], df["status"], strict=True)) == [
        ("diversity-mnist-rmse", "failed"),
        ("diversity-mnist-rmse", "failed"),
        ("sphere", "finished"),
        ("sphere", "finished"),
    ]
    failed = df[df["status"] == "failed"]
    assert set(failed["error_type"]) == {"MissingWeightsError"}
    assert failed["error"].str.contains("bench train-generator dcgan-mnist").all()


def _built_per_worker(client: Client) -> dict[str, int]:
    return {
        w: client.submit(_problems_built, workers=[w], pure=False).result()
        for w in client.scheduler_info()["workers"]
    }


def test_workers_build_each_problem_once(client, tmp_path):
    client.wait_for_workers(2, timeout=WORKER_RESTART_SECONDS)
    before = _built_per_worker(client)
    params = {"sphere": {"dim": 12}, "rastrigin": {"dim": 12}}  # not cached by earlier tests
    plan = _plan(problem_params=params)
    summary = run_campaign(plan, tmp_path, progress=False, run_many=on_cluster(client))
    assert summary.ran == len(plan) == 8
    built = {w: n - before.get(w, 0) for w, n in _built_per_worker(client).items()}
    # each problem built at least once, at most once per worker: never once per run
    assert 2 <= sum(built.values()) <= 2 * len(built), built


def test_cli_scheduler_runs_and_resumes(client, tmp_path, capsys):
    args = ["campaign", "--problems", "sphere", "--algos", "random", "ga", "--seeds", "2"]
    args += ["--budget", "300", "--out", str(tmp_path), "--no-progress"]
    address = client.scheduler.address
    client.wait_for_workers(2, timeout=WORKER_RESTART_SECONDS)
    assert main([*args, "--scheduler", address]) == 0
    out = capsys.readouterr().out
    assert f"cluster    {address} with 2 worker(s) now" in out, out
    assert "ran 4 (0 failed)" in out
    assert main([*args, "--scheduler", address]) == 0
    assert "ran 0 (0 failed), skipped 4 finished" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_workers_starts_a_local_cluster(tmp_path, capsys):
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "2"]
    args += ["--budget", "200", "--out", str(tmp_path), "--no-progress", "--workers", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "with 1 worker(s) now" in out and "ran 2 (0 failed)" in out
    assert set(load_campaign(tmp_path)["status"]) == {"finished"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--scheduler", "nonsense"], "cannot connect to the Dask scheduler at nonsense: missing"),
        (["--scheduler", "tcp://127.0.0.1:1"], "at tcp://127.0.0.1:1: Timed out"),
        (["--workers", "0"], "the number of workers must be at least 1, got 0"),
    ],
)
def test_cli_bad_cluster_is_one_line_exit_2(tmp_path, capsys, options, message):
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "1"]
    args += ["--budget", "100", "--out", str(tmp_path), "--no-progress", *options]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_workers_and_scheduler_together_is_a_usage_error(tmp_path, capsys):
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--budget", "100"]
    args += ["--out", str(tmp_path), "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_problem_cache_reuses_and_evicts():
    cache = ProblemCache(capacity=2)
    spec = RunSpec("sphere", "ga", 200, 0, {"dim": 8}, {"population": 20})
    first = cache.get(spec)
    assert cache.get(RunSpec("sphere", "random", 100, 3, {"dim": 8})) is first
    other = cache.get(RunSpec("sphere", "ga", 200, 0, {"dim": 9}))
    assert other is not first and cache.built == 2
    cache.get(RunSpec("rastrigin", "ga", 200, 0, {"dim": 8}))  # evicts dim=8, the oldest
    assert cache.get(spec) is not first and cache.built == 4
    # a reused problem gives the run it would have given fresh
    fresh = execute(spec)
    for _ in range(2):
        reused = execute(spec, problem=cache.get(spec))
        assert reused.record["best_fitness"] == fresh.record["best_fitness"]
        assert reused.curve["best"].equals(fresh.curve["best"])


def test_a_cached_problem_is_rebuilt_when_its_weights_change(tmp_path):
    """A retrained weight file under a cached problem: the old network ran, the new hash
    went into the record."""
    weights = tmp_path / "g.pt"
    saved = torch.load(WEIGHTS / "dcgan-mnist.pt", weights_only=True)
    torch.save(saved, weights)  # written as below, so that the two files have one size
    spec = RunSpec(
        "diversity-mnist-rmse", "random", 20, 0, {"k": 4, "weights": str(weights)}, {"batch": 10}
    )
    cache = ProblemCache()
    first = cache.get(spec)
    assert cache.get(spec) is first and cache.built == 1
    old_hash = sha256_file(weights)
    stat = weights.stat()
    state = saved.get("state_dict", saved)
    for name in state:  # another network of the same shapes: a file of the same size
        state[name] = -state[name] if state[name].is_floating_point() else state[name]
    torch.save(saved, weights)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p or rsync -t do
    second = cache.get(spec)
    assert second is not first and cache.built == 2
    reused = execute(spec, problem=second)
    assert reused.record["best_fitness"] == execute(spec).record["best_fitness"]
    assert weights.stat().st_size == stat.st_size and weights.stat().st_mtime_ns == stat.st_mtime_ns
    new_hash = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert sha256_file(weights) == new_hash != old_hash  # the cached hash is not reused


def test_worker_device_goes_to_problems_that_take_one_never_into_the_run_id():
    sphere = RunSpec("sphere", "random", 100, 0, {"dim": 8})
    assert placed(sphere, "cuda:1") == (sphere, "cpu")
    digits = RunSpec("diversity-mnist-rmse", "random", 100, 0, {"k": 4})
    build, device = placed(digits, "cuda:1")
    assert device == "cuda:1" and build.problem_params == {"k": 4, "device": "cuda:1"}
    assert digits.problem_params == {"k": 4}  # the run keeps its id
    assert placed(digits, None) == (digits, "cpu")
    own = RunSpec("diversity-mnist-rmse", "random", 100, 0, {"device": "cpu"})
    assert placed(own, "cuda") == (own, "cpu")  # the plan's own device wins


def _start(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args, "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kwargs,
    )


@contextmanager
def _cluster_of_processes(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A scheduler and one worker, each a process of its own, so the scheduler can be killed."""
    info = folder / f"scheduler-{time.monotonic_ns()}.json"
    scheduler = _start(["distributed.cli.dask_scheduler", "--port", "0", "--scheduler-file", info])
    worker = _start(["distributed.cli.dask_worker", "--scheduler-file", info, "--nthreads", "1"])
    try:
        with Client(scheduler_file=str(info), timeout=60) as probe:
            probe.wait_for_workers(1, timeout=60)
            address = probe.scheduler.address
        yield address, scheduler
    finally:
        for process in (worker, scheduler):
            process.kill()
            process.wait()


@pytest.mark.slow
def test_a_lost_scheduler_stops_the_campaign_and_records_no_pending_run(tmp_path, capsys):
    """Dask cancels the pending futures; they were recorded as failed, which resume skips."""
    out = tmp_path / "c"
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "6"]
    args += ["--budget", "20000", "--out", str(out), "--no-progress"]

    def kill_after_first_record(scheduler: subprocess.Popen) -> None:
        while not list((out / "runs").glob(f"*/{RECORD}")):
            time.sleep(0.05)
        scheduler.kill()

    with _cluster_of_processes(tmp_path) as (address, scheduler):
        killer = threading.Thread(target=kill_after_first_record, args=(scheduler,), daemon=True)
        killer.start()
        assert main([*args, "--scheduler", address]) == 1
        killer.join(timeout=5)
    err = capsys.readouterr().err
    assert "bench: error: lost the Dask scheduler" in err and "rerun the same command" in err, err
    status = load_campaign(out)["status"]
    done = int((status == "finished").sum())
    assert 1 <= done < 6 and set(status) == {"finished", "pending"}, status  # none failed
    with _cluster_of_processes(tmp_path) as (address, _):  # back: the same command resumes
        assert main([*args, "--scheduler", address]) == 0
    assert f"ran {6 - done} (0 failed), skipped {done} finished" in capsys.readouterr().out
    assert set(load_campaign(out)["status"]) == {"finished"}


class _FakeWorker:
    """What ``get_worker`` gives a task: here, a list of the events it logs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def log_event(self, topic: str, msg: dict) -> None:
        self.events.append((topic, msg))


def test_a_worker_reports_its_runs_progress_between_batches(monkeypatch):
    import bench.distributed as distributed

    fake = _FakeWorker()
    monkeypatch.setattr(distributed, "get_worker", lambda: fake)
    monkeypatch.setattr(distributed, "PROGRESS_SECONDS", 0.0)  # every batch, for the test
    spec = RunSpec("sphere", "random", 200, problem_params={"dim": 4}, algo_params={"batch": 50})
    result = run_on_worker(spec)
    assert result.record["status"] == "finished"
    assert {topic for topic, _ in fake.events} == {distributed.PROGRESS_TOPIC}
    messages = [msg for _, msg in fake.events]
    assert [m["used"] for m in messages] == [50, 100, 150]  # not the last: its result follows
    assert {(m["run"], m["budget"]) for m in messages} == {(spec.run_id, 200)}
    assert all(np.isfinite(m["best"]) for m in messages)
    # outside a worker (a task called directly) nothing is reported
    monkeypatch.setattr(distributed, "get_worker", lambda: (_ for _ in ()).throw(ValueError()))
    assert run_on_worker(spec).record["best_fitness"] == result.record["best_fitness"]


def _says_half_done_then_runs(spec: RunSpec) -> RunResult:
    """A task that reports half its budget as spent, waits, then runs ``spec``."""
    from distributed import get_worker

    from bench.distributed import PROGRESS_TOPIC

    message = {"run": spec.run_id, "used": spec.budget // 2, "budget": spec.budget, "best": 1.0}
    get_worker().log_event(PROGRESS_TOPIC, message)
    time.sleep(1.5)  # the event reaches the driver before the result does
    return run_on_worker(spec)


def test_the_campaign_bar_shows_the_runs_in_flight(client, tmp_path):
    from bench.distributed import InFlight

    client.wait_for_workers(2, timeout=WORKER_RESTART_SECONDS)
    plan = Plan(["sphere"], ["random"], [0, 1], 300, {"sphere": {"dim": 4}}, {})
    run_many = on_cluster(client, task=_says_half_done_then_runs)
    assert isinstance(run_many.in_flight, InFlight)
    lines: list[str] = []
    run_many.in_flight.show = lines.append
    summary = run_campaign(plan, tmp_path, progress=False, run_many=run_many)
    assert summary.ran == 2
    shown = set(lines)
    assert "2 running: 300/600 evals" in shown or "1 running: 150/300 evals" in shown, lines
    assert lines[-1] == "" and run_many.in_flight.line() == ""  # nothing left in flight
    late = (0.0, {"run": next(iter(plan.specs())).run_id, "used": 1, "budget": 300})
    run_many.in_flight.update(late)  # an event delivered after its run's result
    assert run_many.in_flight.line() == ""

"""Campaigns on a Dask cluster: workers run the searches, the driver alone writes records.

``bench campaign ... --workers N`` starts a local cluster of ``N`` worker
processes with one thread each; ``--scheduler tcp://HOST:8786`` joins a running
cluster (``dask scheduler`` and ``dask worker``, or dask-jobqueue on Slurm). The
driver submits every pending run at once and saves each result as it arrives,
inside ``bench.campaign.run_campaign`` and under its lock, so resuming a campaign
and refusing a second one in the same folder work as they do in one process.

A worker that dies in the middle of a run (killed, preempted, out of memory)
costs only that run: the scheduler gives it to another worker and the driver
records it once, when it finishes there. A run that takes down more workers than
Dask's ``distributed.scheduler.allowed-failures`` (3) allows is run once more
on its own at the end (Dask also counts the deaths against the runs queued on
the same worker, which were innocent), and if it kills workers again it is
recorded as failed, ``KilledWorker`` as its error, and runs again with
``--retry-failed``. A driver that loses the scheduler stops the campaign
(``ClusterLostError``); the runs saved before stay, and the same command resumes.

Every worker thread builds a problem once and reuses it for later runs with the
same problem name and parameters (``ProblemCache``), so a generator and a judge
network load once per worker, not once per run. A worker started with
``LATENT_BENCH_DEVICE`` in its environment (``cuda``, ``cuda:1``) builds the
problems that take a ``device`` there unless the plan sets one; the device goes
into each record's provenance and not into the run id.

While runs go on, each worker tells the driver how far its run has come (a Dask
event on topic ``PROGRESS_TOPIC`` at most every ``PROGRESS_SECONDS``), and the
campaign's bar shows the runs in flight and their evaluations: a run of the set
study takes half an hour, and a bar of whole runs alone looked stuck.

Workers need what the driver needs: latent-bench installed, the weights, and
the data named by ``LATENT_BENCH_DATA``. Specs travel to them; results (record,
curve, best genome ``[D]``, rendered images, archive snapshots) travel back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager

from distributed import Client, KilledWorker, LocalCluster, as_completed, get_worker

from bench.campaign import DEVICE_ENV, CampaignError, RunMany, failed_record, run_or_fail
from bench.problem import Problem
from bench.provenance import file_signature, problem_generator
from bench.registry import in_process_names
from bench.runner import RunResult, execute
from bench.spec import RunSpec, SpecError, build_problem, placed

RETRIES = 2  # extra tries of a run whose task raised (a worker that died is the scheduler's)
PROGRESS_TOPIC = "latent-bench-progress"  # Dask events: a run's evaluations so far
PROGRESS_SECONDS = 5.0  # at most one progress event per run this often


class ClusterLostError(RuntimeError):
    """The connection to the scheduler is gone; the runs saved before stay saved.

    Dask cancels every pending future when its client loses the scheduler. The
    campaign stops instead of recording those runs as failed, which a resume
    would then skip.
    """


def _lost(exc: CancelledError) -> ClusterLostError:
    reason = getattr(exc, "reason", None) or "its futures were cancelled"
    return ClusterLostError(
        f"lost the Dask scheduler ({reason}); the runs finished before are saved. "
        "Start the scheduler and workers again and rerun the same command to resume"
    )


class ProblemCache:
    """Problems built once and reused across runs; the ``capacity`` most recently used stay.

    Campaigns run problem by problem, so a small capacity holds the current
    problem (and the next, at the border) without keeping every network loaded.
    A problem whose weight files changed since it was built (retrained,
    replaced) is built again, so a run never records the hash of a file whose
    network it did not use.
    """

    def __init__(self, capacity: int = 2) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.built = 0  # problems constructed so far
        self._problems: OrderedDict[str, tuple[Problem, list]] = OrderedDict()

    def get(self, spec: RunSpec) -> Problem:
        """The problem named by ``spec`` with its parameters, built on first use."""
        key = json.dumps([spec.problem, spec.problem_params], sort_keys=True, default=str)
        problem, signatures = self._problems.pop(key, (None, None))
        if problem is not None and _signatures(problem) != signatures:
            problem = None  # a weight file changed under it
        if problem is None:
            problem = build_problem(spec)
            signatures = _signatures(problem)
            self.built += 1
        self._problems[key] = (problem, signatures)
        while len(self._problems) > self.capacity:
            self._problems.popitem(last=False)
        return problem


def _signatures(problem: Problem) -> list:
    """``file_signature`` of each weight file of ``problem`` (``None`` for one that is gone)."""
    out = []
    for path in problem.weight_files():
        try:
            out.append(file_signature(path))
        except OSError:
            out.append(None)
    return out


_local = threading.local()  # one cache per worker thread: two runs never share a problem


def worker_problems() -> ProblemCache:
    """The problem cache of the calling thread."""
    if not hasattr(_local, "problems"):
        _local.problems = ProblemCache()
    return _local.problems


def run_on_worker(spec: RunSpec) -> RunResult:
    """Run ``spec`` with this worker's cached problem, on its ``LATENT_BENCH_DEVICE``.

    The task that ``on_cluster`` submits. A spec that cannot be built
    (``SpecError``) comes back as a failed run at once; any other error while
    building the problem (a weight file missing on this node, say) raises, so
    that Dask tries the run on other workers before the driver records it as
    failed.
    """
    try:
        build_spec, device = placed(spec, os.environ.get(DEVICE_ENV) or None)
        problem = worker_problems().get(build_spec)
    except SpecError as exc:
        return RunResult(failed_record(spec, exc), None, None, None)
    report = _progress_reporter(spec)
    return run_or_fail(
        spec, lambda spec: execute(spec, device=device, problem=problem, report=report)
    )


def _progress_reporter(spec: RunSpec) -> Callable[[int, float], None] | None:
    """A ``report`` for ``execute`` that sends progress events from this worker.

    One event (``PROGRESS_TOPIC``) per ``PROGRESS_SECONDS`` at most, none for the
    last batch (the result follows): ``{"run": id, "used": n, "budget": b, "best": f}``.
    ``None`` outside a Dask worker (the task called directly).
    """
    try:
        worker = get_worker()
    except ValueError:
        return None
    last = [float("-inf")]

    def report(used: int, best: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_SECONDS or used >= spec.budget:
            return
        last[0] = now
        message = {"run": spec.run_id, "used": int(used), "budget": spec.budget}
        worker.log_event(PROGRESS_TOPIC, {**message, "best": float(best)})

    return report


class InFlight:
    """What the workers last said about each run not yet back: the bar's description.

    ``update`` is the ``PROGRESS_TOPIC`` handler (Dask calls it in the client's
    event-loop thread); ``done`` forgets a run whose result arrived, and any event
    of it that arrives later; ``line`` sums the runs in flight.
    """

    def __init__(self) -> None:
        self._runs: dict[str, tuple[int, int]] = {}
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self.show: Callable[[str], object] | None = None  # e.g. the bar's set_description

    def update(self, event: tuple[float, dict]) -> None:
        """Keep one event's ``(used, budget)`` for its run and show the new line."""
        _, message = event
        try:
            run, used, budget = message["run"], int(message["used"]), int(message["budget"])
        except (KeyError, TypeError, ValueError):
            return  # not one of ours
        with self._lock:
            if str(run) in self._done:
                return  # sent before its result, delivered after it
            self._runs[str(run)] = (used, budget)
        self._show()

    def done(self, run_id: str) -> None:
        """Forget ``run_id``: its result is back."""
        with self._lock:
            self._runs.pop(run_id, None)
            self._done.add(run_id)
        self._show()

    def line(self) -> str:
        """``2 running: 12,340/50,000 evals`` (``""`` with none reported)."""
        with self._lock:
            runs = list(self._runs.values())
        if not runs:
            return ""
        used, budget = sum(u for u, _ in runs), sum(b for _, b in runs)
        return f"{len(runs)} running: {used:,}/{budget:,} evals"

    def _show(self) -> None:
        if self.show is not None:
            self.show(self.line())


def on_cluster(
    client: Client,
    task: Callable[[RunSpec], RunResult] = run_on_worker,
    retries: int = RETRIES,
) -> RunMany:
    """Run pending specs as tasks on ``client``'s cluster (a ``run_many`` for ``run_campaign``).

    Args:
        client: A connected client.
        task: Runs one spec on a worker; a module-level function the workers can import.
        retries: Extra tries of a task that raised, on any worker (a weight file missing
            on one node); the error of the last try is recorded as the run's.

    Returns:
        A function that submits its specs at once and yields ``(spec, result)`` pairs
        as they finish, releasing each result on the cluster once it is yielded; its
        ``in_flight`` (``InFlight``) follows the workers' progress events meanwhile.

    """
    flight = InFlight()

    def run_many(specs: list[RunSpec]) -> Iterator[tuple[RunSpec, RunResult]]:
        _refuse_in_process(specs)  # again, for callers that skip run_many.check
        client.subscribe_topic(PROGRESS_TOPIC, flight.update)
        try:
            yield from _run_all(specs)
        finally:
            with contextlib.suppress(Exception):  # a lost scheduler has nothing to forget
                client.unsubscribe_topic(PROGRESS_TOPIC)

    def _run_all(specs: list[RunSpec]) -> Iterator[tuple[RunSpec, RunResult]]:
        futures = client.map(task, specs, pure=False, retries=retries)
        spec_of = {future.key: spec for future, spec in zip(futures, specs, strict=True)}
        finished = as_completed(futures)
        del futures  # as_completed holds each future until it is yielded, then lets it go
        suspects = []
        for future in finished:
            spec = spec_of.pop(future.key)
            try:
                result = future.result()
            except KilledWorker:
                suspects.append(spec)  # it, or a run queued beside it, kept killing workers
                continue
            except CancelledError as exc:  # never ours: the client lost the scheduler
                raise _lost(exc) from None
            except Exception as exc:  # it raised on every try (its problem cannot be built)
                result = _failed_on_cluster(spec, exc)
            finally:
                future.release()
            flight.done(spec.run_id)  # not a killer suspect's: it runs again, alone
            yield spec, result
        for spec in suspects:
            result = _alone(spec)
            flight.done(spec.run_id)
            yield spec, result

    def _alone(spec: RunSpec) -> RunResult:
        """``spec`` run again with no other run of this campaign on the cluster.

        Dask counts a worker's death against every task the worker held, the
        runs queued behind the one that killed it included, so an innocent run
        can reach ``allowed-failures`` too. Alone, only the guilty run fails again.
        """
        future = client.submit(task, spec, pure=False, retries=retries)
        try:
            return future.result()
        except CancelledError as exc:
            raise _lost(exc) from None
        except Exception as exc:
            return _failed_on_cluster(spec, exc)
        finally:
            future.release()

    run_many.check = _refuse_in_process  # run_campaign asks before it writes campaign.json
    run_many.in_flight = flight  # run_campaign shows its line on the campaign's bar
    return run_many


def _failed_on_cluster(spec: RunSpec, exc: BaseException) -> RunResult:
    """The failed run's result, recorded here for a run that failed on a worker.

    Its provenance describes this machine (the driver), not the worker's, which
    the driver cannot see; ``recorded_by`` says so, and ``worker`` names the last
    worker a killed run was on.
    """
    record = failed_record(spec, exc)
    record["provenance"]["recorded_by"] = (
        "the campaign's driver: the run failed on a Dask worker, whose machine and "
        "packages may differ from those recorded here"
    )
    last = getattr(exc, "last_worker", None)
    if last is not None:
        record["provenance"]["worker"] = str(getattr(last, "address", last))
    return RunResult(record, None, None, None)


def _refuse_in_process(specs: list[RunSpec]) -> None:
    """Raise ``CampaignError`` where a spec names a class registered in this process only.

    ``bench.registry.registered`` adds to this process's registry; a worker's
    has only entry points, so each such run would fail there as an unknown name.
    """
    generators = {problem_generator(s.problem, s.problem_params) for s in specs}
    names = [
        *in_process_names("problems", sorted({s.problem for s in specs})),
        *in_process_names("algorithms", sorted({s.algo for s in specs})),
        *in_process_names("generators", sorted(g for g in generators if g is not None)),
    ]
    if names:
        raise CampaignError(
            f"{', '.join(repr(n) for n in names)} registered in this process only "
            "(bench.registry.registered); Dask workers cannot see it. Declare it as an entry "
            "point of an installed package, or run the campaign without a cluster"
        )


@contextmanager
def cluster_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a new local cluster.

    Args:
        scheduler: Address of a running scheduler, e.g. ``tcp://HOST:8786``.
        workers: Number of local worker processes (one thread each) to start instead.

    Yields:
        The connected client; the local cluster, if any, stops on exit.

    Raises:
        SpecError: Both or neither of the two given, fewer than one worker, or a
            scheduler that cannot be reached (the connect timeout is Dask's
            ``distributed.comm.timeouts.connect``, 30 s).

    """
    if (scheduler is None) == (workers is None):
        raise SpecError("give a scheduler address or a number of local workers, not both")
    if workers is not None:
        if workers < 1:
            raise SpecError(f"the number of workers must be at least 1, got {workers}")
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                # a run's error is recorded and summarised at the end; Dask's log of each
                # try (a traceback per retry) would bury the progress bar
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler)
    except (OSError, ValueError, TypeError) as exc:  # refused, timed out, malformed address
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(f"cannot connect to the Dask scheduler at {scheduler}: {reason}") from None
    with client:
        yield client

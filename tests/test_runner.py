"""The runner: exact budgets, non-finite fitness, determinism, records and files."""

import inspect
import json
import os
import subprocess
from typing import Any, Optional

import numpy as np
import pandas as pd
import pytest
import torch
from bench.algorithms.ga import GeneticAlgorithm
from bench.algorithms.random_sampling import RandomSampling
from threadpoolctl import threadpool_limits

from bench.evaluator import BudgetEvaluator, BudgetExceeded
from bench.problem import Problem
from bench.registry import registry
from bench.results import BEST_GENOME, CURVE, IMPROVEMENTS, RECORD, read_curve
from bench.runner import execute, search
from bench.spec import RunSpec, SpecError
from bench.testing import ProbeSphere


class TinyGeneratorProblem(Problem):
    """A small conv generator with fixed random weights; fitness = MSE to a target image."""

    sense = "min"
    worst_fitness = 4.0

    def __init__(self, z_dim=16, nan_rows=False):
        g = torch.Generator().manual_seed(1234)  # weights from a private generator
        self.genome_shape = (z_dim,)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(z_dim, 8 * 4 * 4),
            torch.nn.Unflatten(1, (8, 4, 4)),
            torch.nn.ReLU(),
            torch.nn.Upsample(scale_factor=2),
            torch.nn.Conv2d(8, 3, 3, padding=1),
            torch.nn.Tanh(),
        )
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        self.target = self._images(np.zeros((1, z_dim)))[0]
        self.nan_rows = nan_rows

    @torch.inference_mode()
    def _images(self, genomes):
        return self.net(torch.as_tensor(genomes, dtype=torch.float32))

    def evaluate(self, genomes):
        fitness = ((self._images(genomes) - self.target) ** 2).mean(dim=(1, 2, 3)).double().numpy()
        if self.nan_rows:
            fitness[genomes[:, 0] > 1.0] = np.nan
            fitness[genomes[:, 0] < -1.5] = np.inf
        return fitness


def _search(problem, algo_cls, budget, seed, **params):
    algo = algo_cls(problem.search_space, np.random.SeedSequence(seed), **params)
    ev = BudgetEvaluator(problem, budget)
    search(algo, ev)
    return ev


@pytest.mark.parametrize("name", registry("algorithms").names())
def test_network_problem_is_bit_for_bit_reproducible(name):
    algo_cls = registry("algorithms").load(name)
    problems = [TinyGeneratorProblem() for _ in range(2)]  # nn init uses torch's global RNG
    torch_state = torch.get_rng_state().clone()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    runs = [_search(problem, algo_cls, 450, seed=11) for problem in problems]
    assert runs[0].best_fitness == runs[1].best_fitness
    assert np.array_equal(runs[0].best_genome, runs[1].best_genome)
    assert [r["best"] for r in runs[0].curve] == [r["best"] for r in runs[1].curve]
    assert torch.equal(torch.get_rng_state(), torch_state), "a run touched torch's global RNG"
    np_now = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(np_now, np_state), "a run touched NumPy's global RNG"


def test_nonfinite_fitness_is_replaced_counted_and_never_best():
    problem = TinyGeneratorProblem(nan_rows=True)
    ev = _search(problem, RandomSampling, 1000, seed=0, batch=100)
    assert ev.used == 1000
    assert ev.nonfinite > 100  # P(z0 > 1) + P(z0 < -1.5) is about 0.23
    assert np.isfinite(ev.best_fitness) and ev.best_fitness < problem.worst
    assert all(np.isfinite(r["best"]) for r in ev.curve)


def test_evaluator_refuses_to_overspend():
    ev = BudgetEvaluator(ProbeSphere(3), budget=5)
    ev(np.zeros((4, 3)))
    with pytest.raises(BudgetExceeded):
        ev(np.zeros((2, 3)))
    ev(np.zeros((1, 3)))
    assert ev.used == 5 and ev.remaining == 0


def test_algorithm_asking_more_than_remains_gets_only_the_rest():
    spec = RunSpec("sphere", "random", budget=250, seed=3, algo_params={"batch": 100})
    result = execute(spec)
    assert result.record["evaluations"] == 250
    assert list(result.curve["evaluations"]) == [100, 200, 250]


def test_same_spec_same_record_figures():
    spec = RunSpec(
        "rastrigin",
        "ga",
        budget=900,
        seed=5,
        problem_params={"dim": 32},
        algo_params={"population": 40},
    )
    a, b = execute(spec), execute(spec)
    assert a.record["best_fitness"] == b.record["best_fitness"]
    assert np.array_equal(a.best_genome, b.best_genome)
    pd.testing.assert_series_equal(a.curve["best"], b.curve["best"])
    c = execute(RunSpec("rastrigin", "ga", 900, 6, {"dim": 32}, {"population": 40}))
    assert c.record["best_fitness"] != a.record["best_fitness"]


def test_provenance_is_read_before_the_search_not_after(monkeypatch):
    """A commit made while a run searches is not the code that ran: read the state first."""
    import bench.runner
    from bench.registry import registered

    order: list[str] = []
    real = bench.runner.provenance

    def spy(*args: Any, **kwargs: Any) -> dict:
        order.append("provenance")
        return real(*args, **kwargs)

    class Logged(ProbeSphere):
        def evaluate(self, genomes: np.ndarray) -> np.ndarray:
            order.append("evaluate")
            return super().evaluate(genomes)

    monkeypatch.setattr(bench.runner, "provenance", spy)
    with registered(problems={"logged": Logged}):
        record = execute(RunSpec("logged", "random", 40, algo_params={"batch": 10})).record
    assert order[0] == "provenance" and order.count("provenance") == 1
    assert order.count("evaluate") == 4
    assert list(record)[-1] == "provenance" and "commit" in record["provenance"]


def test_record_carries_provenance_and_files(tmp_path):
    spec = RunSpec("sphere", "ga", budget=300, seed=1, algo_params={"population": 30})
    result = execute(spec)
    folder = result.save(tmp_path / spec.run_id)
    record = json.loads((folder / RECORD).read_text())
    assert record["status"] == "finished" and record["run_id"] == spec.run_id
    assert record["spec"] == spec.to_dict()
    assert record["evaluations"] == 300 and record["nonfinite"] == 0
    assert record["wall_seconds"] >= record["eval_seconds"] > 0
    assert record["algo_seconds"] > 0
    prov = record["provenance"]
    assert prov["schema_version"] == 1
    assert prov["packages"]["numpy"] == np.__version__
    assert prov["packages"]["cma"] and prov["packages"]["torchvision"]  # behind pymoo, torch
    assert prov["machine"]["device"] == "cpu"
    assert "commit" in prov and "dirty" in prov
    assert record["algorithm"]["params"]["population"] == 30
    defaults = record["algorithm"]["defaults"]  # what the run used without setting it
    assert "population" not in defaults and defaults["tournsize"] == 3
    assert set(defaults) | {"population"} == set(inspect.signature(GeneticAlgorithm).parameters) - {
        "space",
        "seed",
    }
    curve = read_curve(folder)
    assert curve["evaluations"].iloc[-1] == 300
    assert curve["best"].is_monotonic_decreasing
    assert curve["best"].iloc[-1] == record["best_fitness"]
    genome = np.load(folder / BEST_GENOME)
    assert genome.shape == (512,)
    from bench.problems.analytic import Sphere

    assert Sphere().evaluate(genome[None])[0] == record["best_fitness"]
    assert not list(tmp_path.glob(".tmp-*"))
    assert {p.name for p in folder.iterdir()} == {RECORD, CURVE, BEST_GENOME, IMPROVEMENTS}


def test_a_run_gives_the_same_numbers_on_any_number_of_blas_threads():
    # full CMA-ES at 512 genes samples through BLAS matrix products, whose rounding
    # follows the thread count: a run must not (a plain campaign and a Dask worker differ)
    spec = RunSpec("sphere", "pymoo:cmaes", budget=600, seed=0)
    with threadpool_limits(limits=2, user_api="blas"):
        two = execute(spec)
    with threadpool_limits(limits=1, user_api="blas"):
        one = execute(spec)
    np.testing.assert_array_equal(two.best_genome, one.best_genome)
    assert two.curve["best"].tolist() == one.curve["best"].tolist()
    blas = two.record["provenance"]["blas"]
    assert blas and {lib["num_threads"] for lib in blas} == {1}
    assert all(lib["internal_api"] and lib["version"] for lib in blas)


def test_dirty_counts_changed_and_added_files_not_ignored_ones(tmp_path):
    from bench.provenance import git_state

    git_state = git_state.__wrapped__  # uncached: one process, several states

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "core.py").write_text("X = 1\n")
    (tmp_path / ".gitignore").write_text("runs/\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    state = git_state(tmp_path / "bench")
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "out.json").write_text("{}")  # ignored output
    assert git_state(tmp_path / "bench")["dirty"] is False
    (tmp_path / "bench" / "new.py").write_text("Y = 2\n")  # an added module
    assert git_state(tmp_path / "bench")["dirty"] is True
    (tmp_path / "bench" / "new.py").unlink()
    (tmp_path / "bench" / "core.py").write_text("X = 2\n")  # an edited one
    assert git_state(tmp_path / "bench")["dirty"] is True


def test_an_adapter_records_the_defaults_it_passes_to_its_library():
    spec = RunSpec(
        "sphere", "pymoo:cmaes", budget=200, problem_params={"dim": 8}, algo_params={"bound_k": 2.0}
    )
    record = execute(spec).record
    defaults = record["algorithm"]["defaults"]
    assert defaults["sigma"] == 0.25  # the adapter's 0.5 / bound_k, not pymoo's 0.1
    assert defaults["termination"] == "none" and "bound_k" not in defaults
    assert "seed" not in defaults and "x0" not in defaults  # the run's own, not options
    json.dumps(record, allow_nan=False)  # strict JSON: no infinite defaults


def test_a_failing_problem_becomes_a_failed_record(monkeypatch):
    from bench.problems import analytic

    def explode(self, genomes):
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(analytic.Sphere, "evaluate", explode)
    result = execute(RunSpec("sphere", "random", budget=200))
    assert result.record["status"] == "failed"
    assert result.record["error"]["type"] == "RuntimeError"
    assert "out of memory" in result.record["error"]["message"]
    assert result.record["evaluations"] == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RunSpec("sphere", "ga", budget=0), "positive"),
        (RunSpec("sphere", "ga", budget=-5), "positive"),
        (RunSpec("sphere", "ga", budget=50), "smaller than one batch"),
        (
            RunSpec("sphere", "ga", budget=500, algo_params={"cxpb": 1.5}),
            r"cxpb must lie in \[0, 1\]",
        ),
        (RunSpec("sphere", "ga", budget=500, algo_params={"popsize": 5}), "no parameter 'popsize'"),
        (RunSpec("sphere", "ga", budget=500, preset="fast"), "no preset 'fast'"),
        (RunSpec("sphere", "ga", budget=500, problem_params={"dim": "big"}), "expects int"),
    ],
)
def test_bad_specs_raise_spec_errors(spec, message):
    with pytest.raises(SpecError, match=message):
        execute(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            RunSpec("sphere", "cma-mae", budget=400, algo_params={"threshold_min": "abc"}),
            "algorithm parameter 'threshold_min' expects float, got 'abc'",
        ),
        (
            RunSpec("sphere", "cma-mae", budget=400, algo_params={"threshold_min": "nan"}),
            "expects float, got 'nan'",
        ),
        (
            RunSpec("diversity-mnist-rmse", "random", budget=100, problem_params={"weights": 5}),
            "problem parameter 'weights' expects str, got 5",
        ),
        (
            RunSpec("sphere", "pymoo:de", budget=100, algo_params={"termination": True}),
            "parameter 'termination' expects str, got True",
        ),
    ],
)
def test_optional_parameters_are_checked_against_their_type(spec, message):
    """``float | None`` and the like are checked before a run spends its budget."""
    with pytest.raises(SpecError, match=message):
        execute(spec)


class _Annotated:
    """Unions and optionals written as strings, as ``from __future__ import annotations`` does."""

    def __init__(
        self,
        rate: "float | None" = None,
        count: "Optional[int]" = None,  # noqa: UP045  as older plugins write it
        path: "str | os.PathLike" = ".",
        any_value: "Any" = None,
        sizes: "list[int] | None" = None,
    ) -> None:
        pass


def test_union_annotations_are_checked_member_by_member():
    from bench.spec import route_params

    def route(**sets):
        return route_params(sets, ProbeSphere, _Annotated)[1]

    assert route(rate=2) == {"rate": 2.0} and isinstance(route(rate=2)["rate"], float)
    assert route(rate=None, count=None, sizes=None) == {"rate": None, "count": None, "sizes": None}
    assert route(count=3, path="a/b", any_value=[1, "x"], sizes=[1, 2])["sizes"] == [1, 2]
    for key, value, expected in [
        ("rate", "abc", "float"),
        ("rate", True, "float"),
        ("count", 1.5, "int"),
        ("count", False, "int"),
        ("path", 5, "str or PathLike"),
        ("path", None, "str or PathLike"),
        ("sizes", 3, "list"),
    ]:
        with pytest.raises(SpecError, match=f"'{key}' expects {expected}, got {value!r}"):
            route(**{key: value})


def test_a_run_number_taken_during_the_rename_moves_to_the_next(tmp_path, monkeypatch):
    """Another process renaming its run into the same number just before us loses us nothing."""
    from bench.results import save_run_numbered

    real_replace = os.replace

    def replace_after_a_rival(src, dst):
        dst = tmp_path / os.path.basename(dst)
        if dst.name.startswith("00001-") and not dst.exists():  # the rival's folder lands now
            dst.mkdir()
            (dst / RECORD).write_text('{"rival": true}')
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_after_a_rival)
    folder = save_run_numbered(tmp_path, "sphere-random-s0", record={"ours": True})
    assert folder.name == "00002-sphere-random-s0"
    assert json.loads((folder / RECORD).read_text()) == {"ours": True}
    assert json.loads((tmp_path / "00001-sphere-random-s0" / RECORD).read_text()) == {
        "rival": True
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "00001-sphere-random-s0",
        "00002-sphere-random-s0",
    ]


def test_run_numbers_go_on_past_99999(tmp_path):
    """A six-digit number was not read back, so the next save retried it forever."""
    from bench.results import save_run_numbered

    (tmp_path / "99999-x").mkdir()
    assert save_run_numbered(tmp_path, "x", record={}).name == "100000-x"
    assert save_run_numbered(tmp_path, "x", record={}).name == "100001-x"


def test_a_budget_of_one_batch_gets_a_note():
    """A GA whose budget was its first population was random sampling under the GA's name."""
    one_batch = execute(RunSpec("sphere", "ga", budget=200)).record["notes"]
    assert len(one_batch) == 1 and "no more than one batch of 'ga' (200)" in one_batch[0]
    assert execute(RunSpec("sphere", "ga", budget=250)).record["notes"] == []
    assert execute(RunSpec("sphere", "random", budget=100)).record["notes"] == []  # never learns

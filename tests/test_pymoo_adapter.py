"""The pymoo adapter: pymoo's ask/tell, exact budgets through restarts, seeds, options."""

import numpy as np
import pytest
from bench.algorithms.pymoo_algorithms import (
    PymooCMAES,
    PymooDE,
    PymooGA,
    PymooNelderMead,
    PymooSepCMAES,
)

from bench.evaluator import BudgetEvaluator
from bench.registry import registry
from bench.runner import execute, search
from bench.spec import RunSpec, SpecError
from bench.testing import ProbeSphere


def _run(algo, problem, budget):
    ev = BudgetEvaluator(problem, budget)
    search(algo, ev)
    return ev


def test_cmaes_is_reproducible_whatever_the_global_rng_does():
    """cma seeds and draws from NumPy's global RNG; the adapter swaps in its own."""
    problem = ProbeSphere(6)
    results = []
    for outer_seed in (123, 999):
        np.random.seed(outer_seed)  # noqa: NPY002 - the caller's global state, which must survive
        before = np.random.get_state()[1].copy()  # noqa: NPY002
        ev = _run(PymooCMAES(problem.search_space, np.random.SeedSequence(5)), problem, 300)
        assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
        results.append((ev.best_fitness, ev.best_genome, [r["best"] for r in ev.curve]))
    assert results[0][0] == results[1][0]
    assert np.array_equal(results[0][1], results[1][1]) and results[0][2] == results[1][2]


def test_a_stopping_method_restarts_and_spends_the_exact_budget():
    problem = ProbeSphere(2)
    algo = PymooNelderMead(problem.search_space, np.random.SeedSequence(1))
    ev = _run(algo, problem, 3001)
    assert ev.used == 3001
    assert algo.restarts > 0, "Nelder-Mead converges on a 2-D sphere long before 3,000 evaluations"
    assert ev.best_fitness < 1e-6


def test_large_pymoo_populations_are_split_into_batches():
    problem = ProbeSphere(30)  # Nelder-Mead's first simplex has 31 points
    algo = PymooNelderMead(problem.search_space, np.random.SeedSequence(2), batch=8)
    sizes = []
    for _ in range(6):
        genomes = algo.ask()
        sizes.append(len(genomes))
        algo.tell(problem.evaluate(genomes))
    assert max(sizes) <= 8 and sizes[:3] == [8, 8, 4]  # 20 initial samples, then the simplex


def test_options_reach_pymoo_and_genomes_stay_in_the_stated_box():
    problem = ProbeSphere(10)
    algo = PymooGA(problem.search_space, np.random.SeedSequence(3), pop_size=20, bound_k=2.0)
    assert algo.algorithm.pop_size == 20 and algo.box == (-2.0, 2.0)
    assert algo.describe()["box"] == [-2.0, 2.0]
    first = algo.ask()
    assert len(first) == 20
    # N(0, 1) clipped at ±2 has std 0.88; pymoo's uniform sampling on [-2, 2] would give 1.15
    assert 0.75 < first.std() < 1.0, "initial points come from the prior, clipped to the box"
    algo.tell(problem.evaluate(first))
    for _ in range(10):
        genomes = algo.ask()
        assert genomes.min() >= -2.0 and genomes.max() <= 2.0
        algo.tell(problem.evaluate(genomes))


def test_cmaes_starts_from_the_prior():
    algo = PymooCMAES(ProbeSphere(400).search_space, np.random.SeedSequence(4))
    first = algo.ask()
    assert np.array_equal(first, np.zeros((1, 400))), "x0 is the prior mean"
    algo.tell(np.zeros(1))
    samples = algo.ask()
    assert abs(samples.std() - 1.0) < 0.05, "the first search distribution is the prior"


def _cma_strategy(algo):
    """The ``cma.CMAEvolutionStrategy`` inside pymoo's CMA-ES (pymoo keeps it in a generator)."""
    return algo.algorithm.es.gi_frame.f_locals["es"]


def test_cmaes_refuses_a_sigma_that_cma_would_cap():
    """cma holds every std to 1/3 of the box: sigma 0.5 and 2 were the same run."""
    space = ProbeSphere(10).search_space
    for sigma in (0.5, 2.0):
        with pytest.raises(ValueError, match=rf"sigma={sigma:g} exceeds cma's cap .* 0\.333333"):
            PymooCMAES(space, np.random.SeedSequence(0), sigma=sigma)
    cases = [({"sigma": 1 / 3}, 1 / 3), ({"sigma": 0.5, "maxstd_boundrange": 1.0}, 0.5)]
    for options, std in cases:
        algo = PymooCMAES(space, np.random.SeedSequence(0), **options)
        assert algo.default_sigma == 0.125 and algo.sigma_cap() == options.get(
            "maxstd_boundrange", 1 / 3
        )
        algo.ask()  # x0
        algo.tell(np.zeros(1))
        algo.ask()
        np.testing.assert_allclose(_cma_strategy(algo).stds, std, rtol=1e-3)
    assert PymooCMAES(space, 0, sigma=0.9, maxstd=0.2).sigma_cap() is None, "maxstd: cma's rule"
    with pytest.raises(ValueError, match=r"the default \(0\.5 / bound_k\) sigma=0\.5 exceeds"):
        PymooCMAES(space, 0, bound_k=1.0)


@pytest.mark.parametrize(("options", "diagonal"), [({}, True), ({"CMA_diagonal": False}, False)])
def test_sep_cmaes_samples_from_a_diagonal_covariance(options, diagonal):
    problem = ProbeSphere(40)
    algo = PymooSepCMAES(problem.search_space, np.random.SeedSequence(6), **options)
    start = None
    for _ in range(60):
        genomes = algo.ask()
        loss = problem.evaluate(genomes)
        start = loss.min() if start is None else start
        algo.tell(loss)
    strategy = _cma_strategy(algo)
    assert bool(strategy.opts["CMA_diagonal"]) is diagonal
    assert np.shape(strategy.C) == (() if diagonal else (40, 40)), "no D x D matrix when separable"
    assert problem.evaluate(algo.ask()).min() < 0.5 * start, "it still searches"


@pytest.mark.parametrize("option", ["pop_size", "popsize"])
def test_cmaes_batch_size_follows_either_name_of_the_population_size(option):
    """pymoo's pop_size reaches cma as popsize; the batch said 16 and asks came 16, 16, 16, 2."""
    problem = ProbeSphere(64)
    algo = PymooCMAES(problem.search_space, np.random.SeedSequence(0), **{option: 50})
    assert algo.batch_size == 50
    sizes = []
    for _ in range(4):
        genomes = algo.ask()
        sizes.append(len(genomes))
        algo.tell(problem.evaluate(genomes))
    assert sizes == [1, 50, 50, 50], "x0, then whole generations of 50"
    assert _cma_strategy(algo).popsize == 50


def test_cmaes_refuses_a_bad_or_doubly_given_population_size():
    space = ProbeSphere(8).search_space
    with pytest.raises(ValueError, match=r"pop_size .* or popsize .*, not both"):
        PymooCMAES(space, 0, pop_size=20, popsize=20)
    for option, value in (("pop_size", 1), ("pop_size", "20"), ("popsize", 2.5)):
        with pytest.raises(ValueError, match=f"{option} must be an integer of at least 2"):
            PymooCMAES(space, 0, **{option: value})


def test_de_variant_parameters_are_accepted_and_unknown_ones_refused():
    algo = PymooDE(ProbeSphere(4).search_space, 0, variant="DE/rand/1/bin", CR=0.9, pop_size=30)
    assert algo.batch_size == 30 and len(algo.ask()) == 30  # the population, under the cap
    spec = RunSpec("sphere", "pymoo:de", budget=500, algo_params={"bogus": 1})
    with pytest.raises(SpecError, match=r"no option 'bogus'\. Valid: batch, bound_k"):
        execute(spec)
    with pytest.raises(SpecError, match="termination must be"):
        execute(RunSpec("sphere", "pymoo:ga", budget=500, algo_params={"termination": "x"}))


def test_bench_run_with_a_pymoo_algorithm(bench_cmd, tmp_path):
    proc = bench_cmd(
        "run", "--problem", "sphere", "--algo", "pymoo:de", "--budget", "250",
        "--set", "pop_size=20", "--set", "dim=8", "--no-progress", "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (folder,) = tmp_path.iterdir()
    assert folder.name.endswith("sphere-pymoo_de-s0")  # ':' is no part of a folder name
    assert "evals      250" in proc.stdout


@pytest.mark.parametrize(
    "name", [n for n in registry("algorithms").names() if n.startswith("pymoo:")]
)
def test_batch_size_is_the_most_pymoo_asks_for_at_once(name):
    algo = registry("algorithms").load(name)(
        ProbeSphere(64).search_space, np.random.SeedSequence(0)
    )
    sizes = []
    for _ in range(6):
        genomes = algo.ask()
        sizes.append(len(genomes))
        algo.tell(np.einsum("ij,ij->i", genomes, genomes))
    assert max(sizes) <= algo.batch_size <= 100
    if name in ("pymoo:cmaes", "pymoo:sep-cmaes", "pymoo:pso"):  # below the cap of 100
        assert algo.batch_size == max(sizes) == (4 + int(3 * np.log(64)) if "cma" in name else 25)


def test_a_budget_below_the_cap_but_above_the_population_runs():
    # pymoo's CMA-ES asks for 22 at a time at D = 512; a budget of 50 is two generations
    result = execute(RunSpec("sphere", "pymoo:cmaes", budget=50))
    assert result.record["status"] == "finished" and result.record["evaluations"] == 50
    assert result.record["algorithm"]["batch_size"] == 22


def test_a_set_key_neither_side_takes_lists_both_sides():
    """pymoo adapters take **options: a typo of the problem's dim was listed against DE only."""
    from bench.registry import registry
    from bench.spec import SpecError, route_params

    problem, algo = registry("problems").load("rastrigin"), registry("algorithms").load("pymoo:de")
    listing = r"--set dimm: no such parameter\. Valid: .*\bdim\b.*pop_size"
    with pytest.raises(SpecError, match=listing):
        route_params({"dimm": 10}, problem, algo)
    assert route_params({"dim": 4, "pop_size": 20}, problem, algo) == ({"dim": 4}, {"pop_size": 20})

"""Nelder–Mead on arrays asks for exactly the points pymoo's own class asks for."""

from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from bench.algorithms import nelder_mead_arrays
from bench.algorithms.nelder_mead_arrays import (
    MOVES,
    ArrayNelderMead,
    centroid_of,
    simplex_edges,
)
from bench.algorithms.pymoo_adapter import PriorSampling
from bench.algorithms.pymoo_algorithms import PymooNelderMead, ScaledNelderMead
from bench.algorithms.pymoo_fast_paths import pair_distances
from pymoo.algorithms.soo.nonconvex.nelder import (
    NelderAndMeadTermination,
    NelderMead,
    initialize_simplex,
)
from pymoo.core.population import Population
from pymoo.core.problem import Problem

from bench.problem import GaussianPrior, SearchSpace

Loss = Callable[[np.ndarray], np.ndarray]


def sphere(genomes: np.ndarray) -> np.ndarray:
    return np.sum((genomes - 0.5) ** 2, axis=1)


def plateaus(genomes: np.ndarray) -> np.ndarray:
    """A sphere rounded to steps of 0.5: many exact ties, flat simplices."""
    return np.round(2 * sphere(genomes)) / 2


def beyond_the_box(genomes: np.ndarray) -> np.ndarray:
    """Optimum at 6 in every gene, outside the box (±4): reflections hit the bounds."""
    return np.sum((genomes - 6.0) ** 2, axis=1) + np.abs(genomes[:, 0])


def steep(genomes: np.ndarray) -> np.ndarray:
    """A sphere times 1e12: the vertices meet (x_tol) while the losses still differ."""
    return 1e12 * sphere(genomes)


def rotated(genomes: np.ndarray) -> np.ndarray:
    """An ill-conditioned valley along the diagonal (contractions and shrinks)."""
    mean = genomes.mean(axis=1, keepdims=True)
    return 1e3 * np.sum((genomes - mean) ** 2, axis=1) + np.sum(genomes, axis=1) ** 2


def run(
    fast: bool, dim: int, loss: Loss, budget: int, batch: int, **options
) -> tuple[list[np.ndarray], PymooNelderMead, Counter]:
    """Every genome asked over ``budget`` evaluations, the algorithm, its moves."""
    run_cls = type("Run", (PymooNelderMead,), {"fast_paths": fast})
    space = SearchSpace(dim, (dim,), GaussianPrior())
    algo = run_cls(space, np.random.SeedSequence(3), batch=batch, **options)
    asked: list[np.ndarray] = []
    moves: Counter = Counter()
    engine = None
    done = 0
    while done < budget:
        genomes = algo.ask()
        if fast and algo.algorithm is not engine:  # a (re)start: count the last one's moves
            moves.update(engine.moves if engine is not None else {})
            engine = algo.algorithm
        asked.append(genomes)
        done += len(genomes)
        algo.tell(loss(genomes))
    if engine is not None:
        moves.update(engine.moves)
    return asked, algo, moves


CASES = {
    "sphere D=12, batch 5": (12, sphere, 2500, 5, {}),
    "sphere D=1, batch 1": (1, sphere, 600, 1, {}),
    "sphere D=2, batch 3": (2, sphere, 600, 3, {}),
    "plateaus D=6, batch 4": (6, plateaus, 1500, 4, {}),
    "beyond the box D=8, batch 50": (8, beyond_the_box, 1500, 50, {}),
    "rotated valley D=10, batch 2": (10, rotated, 2000, 2, {}),
    "steep D=3, batch 2": (3, steep, 1500, 2, {}),
    "options": (9, sphere, 1500, 7, {"n_sample_points": 3, "init_simplex_scale": 0.3}),
    "one sample, no termination": (5, rotated, 1200, 6,
                                   {"n_sample_points": 1, "termination": "none"}),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_points_as_pymoos_class(case):
    dim, loss, budget, batch, options = CASES[case]
    fast, algo, _ = run(True, dim, loss, budget, batch, **options)
    slow, pymoo_algo, _ = run(False, dim, loss, budget, batch, **options)
    assert isinstance(algo.algorithm, ArrayNelderMead)
    assert isinstance(pymoo_algo.algorithm, ScaledNelderMead)
    assert [len(a) for a in fast] == [len(a) for a in slow]
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    assert algo.restarts == pymoo_algo.restarts
    if options.get("termination") != "none" and case != "options":
        assert algo.restarts > 0, "the case must reach pymoo's termination and a restart"


def test_rows_added_in_place_give_the_same_points(monkeypatch):
    """The centroid of large simplices (added row by row) changes no point."""
    monkeypatch.setattr(nelder_mead_arrays, "GATHER_NUMBERS", 1)
    dim, loss, budget, batch, options = CASES["rotated valley D=10, batch 2"]
    fast = run(True, dim, loss, budget, batch, **options)[0]
    slow = run(False, dim, loss, budget, batch, **options)[0]
    np.testing.assert_array_equal(np.concatenate(fast), np.concatenate(slow))


@pytest.mark.parametrize("dim", [3, 300, 2000])
@pytest.mark.parametrize("gather", [True, False])
def test_centroid_is_numpys_mean_bit_for_bit(monkeypatch, dim, gather):
    if not gather:
        monkeypatch.setattr(nelder_mead_arrays, "GATHER_NUMBERS", 0)
    rng = np.random.default_rng(dim)
    X = rng.normal(size=(dim + 1, dim)) * rng.lognormal(sigma=3, size=dim)
    rows = rng.permutation(dim + 1)[:dim]
    np.testing.assert_array_equal(centroid_of(X, rows), X[rows].mean(axis=0))


def test_first_simplex_edges_equal_every_pair_measured():
    dim = 300
    rng = np.random.default_rng(4)
    problem = Problem(n_var=dim, n_obj=1, xl=-4.0, xu=4.0)
    x0 = np.clip(rng.normal(size=dim) * 2, -4, 4)
    x0[::7] = 3.9  # near the upper bound: those vertices step down instead of up
    vertices = initialize_simplex(problem, x0, scale=0.05)
    every = np.concatenate([x0[None], vertices])
    expected = pair_distances(every, every)
    np.fill_diagonal(expected, np.nan)
    np.testing.assert_array_equal(simplex_edges(x0, vertices), expected)
    vertices[3, 5] += 0.5  # no longer pymoo's form: every pair is measured
    every = np.concatenate([x0[None], vertices])
    expected = pair_distances(every, every)
    np.fill_diagonal(expected, np.nan)
    np.testing.assert_array_equal(simplex_edges(x0, vertices), expected)


def test_the_cases_take_every_move():
    """Together the compared cases take every branch of a step."""
    seen: Counter = Counter()
    for dim, loss, budget, batch, options in CASES.values():
        seen.update(run(True, dim, loss, budget, batch, **options)[2])
    assert {m for m in MOVES if seen[m] == 0} == set(), seen


@pytest.mark.parametrize("case", [
    "sphere D=12, batch 5", "steep D=3, batch 2", "plateaus D=6, batch 4",
])
def test_kept_edges_and_spreads_give_pymoos_termination_after_every_step(case):
    """The lengths and spreads kept between steps equal a fresh computation, and so
    does the progress they give with pymoo's own ``NelderAndMeadTermination``."""
    dim, loss, budget, *_ = CASES[case]
    algo = PymooNelderMead(SearchSpace(dim, (dim,), GaussianPrior()), np.random.SeedSequence(8))
    checked = 0
    for _ in range(budget):
        engine, iteration = algo.algorithm, algo.algorithm.n_iter
        genomes = algo.ask()
        algo.tell(loss(genomes))
        if engine.n_iter == iteration or engine.n_iter <= 3:
            continue  # mid-step, or the samples and the first simplex (computed afresh)
        X, F, order = engine.X, engine.F, engine.order
        fresh = pair_distances(X, X)
        np.fill_diagonal(fresh, np.nan)
        np.testing.assert_array_equal(engine._dist, fresh)
        np.testing.assert_array_equal(engine._row_min, np.fmin.reduce(fresh, axis=1))
        np.testing.assert_array_equal(engine._row_max, np.fmax.reduce(fresh, axis=1))
        spread = np.abs((X - X[order[0]]) / engine.width).max(axis=1)
        np.testing.assert_array_equal(engine._spread, spread)
        pymoo_view = SimpleNamespace(
            pop=Population.new(X=X[order], F=F[order, None]),
            problem=algo.problem,
            n_iter=iteration,
            evaluator=SimpleNamespace(n_eval=0),
        )
        assert engine.perc == NelderAndMeadTermination()._update(pymoo_view)
        checked += 1
    assert checked > 100 and algo.restarts > 0


def test_default_scale_equals_plain_pymoo():
    """The init_simplex_scale fix changes nothing at pymoo's default (0.05)."""
    plain = type("Plain", (PymooNelderMead,), {"fast_paths": False, "pymoo_class": NelderMead})
    asked = []
    for cls in (plain, type("Fixed", (PymooNelderMead,), {"fast_paths": False})):
        algo = cls(SearchSpace(7, (7,), GaussianPrior()), np.random.SeedSequence(5), batch=8)
        genomes = []
        for _ in range(60):
            g = algo.ask()
            genomes.append(g)
            algo.tell(sphere(g))
        asked.append(np.concatenate(genomes))
    np.testing.assert_array_equal(*asked)


def test_scale_sets_the_first_simplex():
    space = SearchSpace(4, (4,), GaussianPrior())
    algo = PymooNelderMead(space, np.random.SeedSequence(0), batch=50, init_simplex_scale=0.25)
    samples = algo.ask()
    algo.tell(sphere(samples))
    x0 = samples[np.argmin(sphere(samples))]
    steps = np.abs(algo.ask() - x0)  # vertex k moves gene k by the scale × box width (8)
    np.testing.assert_allclose(steps, np.diag(np.full(4, 0.25 * 8.0)))


def test_bad_sample_count_is_a_clear_error():
    space = SearchSpace(3, (3,), GaussianPrior())
    with pytest.raises(ValueError, match="n_sample_points must be at least 1"):
        PymooNelderMead(space, np.random.SeedSequence(0), n_sample_points=0)


def test_engine_alone_matches_its_contract():
    """Asked points are new and inside the box until a contraction; tell advances."""
    space = SearchSpace(3, (3,), GaussianPrior())
    algo = PymooNelderMead(space, np.random.SeedSequence(1), batch=100)
    engine = algo.algorithm
    first = engine.ask()
    assert first.shape == (20, 3)
    engine.tell(sphere(first))
    simplex = engine.ask()
    assert simplex.shape == (3, 3), "x0 is already evaluated: only the D new vertices"
    assert np.all(np.abs(simplex) <= 4.0)
    engine.tell(sphere(simplex))
    assert engine.ask().shape == (1, 3)
    assert engine.n_iter == 3 and engine.has_next()


def test_sampling_is_the_adapters_prior():
    prior = GaussianPrior(mean=1.0, std=2.0)
    algo = PymooNelderMead(SearchSpace(5, (5,), prior), np.random.SeedSequence(2), batch=100)
    assert isinstance(algo.algorithm.sampling, PriorSampling)
    x = algo.ask()
    assert x.shape == (20, 5) and np.all((x >= 1 - 8) & (x <= 1 + 8))

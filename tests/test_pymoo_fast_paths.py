"""The exact stand-ins for pymoo's slow helpers: the same numbers as pymoo, the same runs."""

import numpy as np
import pymoo.algorithms.soo.nonconvex.es as pymoo_es
import pymoo.algorithms.soo.nonconvex.ga_niching as pymoo_niching
import pymoo.algorithms.soo.nonconvex.pso as pymoo_pso
import pymoo.util.misc as pymoo_misc
import pytest
from bench.algorithms import pymoo_fast_paths as fast_paths
from bench.algorithms.pymoo_fast_paths import (
    PYMOO_ES_INTERMEDIATE_RECOMB,
    PYMOO_NORM_EUCL_DIST,
    es_intermediate_recomb,
    norm_eucl_dist,
    pair_distances,
    pymoo_fast_paths,
)
from pymoo.core.problem import Problem

from bench.registry import registry
from bench.testing import ProbeSphere

DIM = 300  # longer than numpy's pairwise-summation block (128), so its order matters


@pytest.fixture(params=["one block", "blocks of 3 rows"])
def blocks(request, monkeypatch):
    """Distances in one block of rows, and in many small ones."""
    if request.param != "one block":
        monkeypatch.setattr(fast_paths, "BLOCK_NUMBERS", 3 * DIM)


def test_es_recombination_draws_the_same_partners_as_pymoo():
    sigma = np.random.default_rng(0).lognormal(size=(7, DIM))
    ours, theirs = np.random.default_rng(4), np.random.default_rng(4)
    expected = PYMOO_ES_INTERMEDIATE_RECOMB(sigma, random_state=theirs)
    np.testing.assert_array_equal(es_intermediate_recomb(sigma, random_state=ours), expected)
    assert ours.random() == theirs.random(), "the generators must be left in the same state"


def _points(rng, *shape):
    return rng.normal(size=shape) * rng.uniform(0.1, 3.0, size=shape[-1])


@pytest.mark.parametrize("shapes", [((6, DIM), (9, DIM)), ((DIM,), (9, DIM)),
                                    ((6, DIM), (DIM,)), ((DIM,), (DIM,)), "self"])
def test_box_normalised_distances_equal_pymoos_bit_for_bit(shapes, blocks):
    rng = np.random.default_rng(1)
    low = -rng.uniform(1, 5, size=DIM)
    problem = Problem(n_var=DIM, n_obj=1, xl=low, xu=-low * 1.5)
    if shapes == "self":
        a = b = _points(rng, 11, DIM)
    else:
        a, b = _points(rng, *shapes[0]), _points(rng, *shapes[1])
    expected = PYMOO_NORM_EUCL_DIST(problem, a, b)
    got = norm_eucl_dist(problem, a, b)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_array_equal(got, expected)


def test_distances_of_a_set_to_itself_equal_pymoos_cdist(blocks):
    rng = np.random.default_rng(2)
    x = _points(rng, 12, DIM)
    x[5] = x[6]  # a degenerate simplex: two equal vertices, distance exactly 0
    expected = pymoo_misc.vectorized_cdist(x, x)
    np.testing.assert_array_equal(pair_distances(x, x), expected)
    np.testing.assert_array_equal(pair_distances(x[[3, 5]], x), expected[[3, 5]])


def _genomes_of_a_run(name: str, fast: bool, dim: int, budget: int) -> list[np.ndarray]:
    algo_cls = registry("algorithms").load(name)
    run_cls = type("Run", (algo_cls,), {"fast_paths": fast})
    problem = ProbeSphere(dim)
    algo = run_cls(problem.search_space, np.random.SeedSequence(9), batch=20)
    asked: list[np.ndarray] = []
    while sum(map(len, asked)) < budget:
        genomes = algo.ask()
        asked.append(genomes)
        algo.tell(problem.evaluate(genomes))
    assert name != "pymoo:nelder-mead" or algo.restarts > 0, "the run must reach a restart"
    return asked


@pytest.mark.parametrize("name", ["pymoo:es", "pymoo:pso", "pymoo:niche-ga", "pymoo:nelder-mead"])
def test_whole_runs_are_the_same_with_and_without_the_stand_ins(name):
    dim, budget = (12, 1500) if name == "pymoo:nelder-mead" else (40, 400)
    fast = _genomes_of_a_run(name, True, dim, budget)
    slow = _genomes_of_a_run(name, False, dim, budget)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


def test_pymoo_is_left_as_it_was_even_after_an_error():
    with pytest.raises(RuntimeError), pymoo_fast_paths():
        assert pymoo_es.es_intermediate_recomb is es_intermediate_recomb
        raise RuntimeError("inside pymoo")
    assert pymoo_es.es_intermediate_recomb is PYMOO_ES_INTERMEDIATE_RECOMB
    assert pymoo_pso.norm_eucl_dist is PYMOO_NORM_EUCL_DIST
    assert pymoo_niching.norm_eucl_dist is PYMOO_NORM_EUCL_DIST

"""The source operators have the distributions the studies define."""

import numpy as np
from bench.algorithms.operators import (
    blend_crossover,
    gaussian_mutation,
    gene_reset,
    tournament,
    uniform_crossover,
)


def test_blx_children_fill_the_extended_interval_uniformly():
    rng = np.random.default_rng(0)
    n, alpha = 200_000, 0.2
    a = np.zeros((n, 1))
    b = np.ones((n, 1))
    c1, c2 = blend_crossover(rng, a, b, alpha)
    for child in (c1, c2):
        assert child.min() >= -alpha - 1e-12 and child.max() <= 1 + alpha + 1e-12
        assert child.min() < -alpha + 0.01 and child.max() > 1 + alpha - 0.01
        # gamma ~ U[-alpha, 1 + alpha]: mean 0.5, variance (1 + 2 alpha)^2 / 12
        assert abs(child.mean() - 0.5) < 0.005
        assert abs(child.var() - (1 + 2 * alpha) ** 2 / 12) < 0.003
    np.testing.assert_allclose(c1 + c2, a + b)  # the two children mirror each other


def test_blx_with_equal_parents_returns_them():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 7))
    c1, c2 = blend_crossover(rng, x, x.copy(), 0.2)
    np.testing.assert_allclose(c1, x)
    np.testing.assert_allclose(c2, x)


def test_gaussian_mutation_rate_and_spread():
    rng = np.random.default_rng(2)
    x = np.zeros((1000, 500))
    y = gaussian_mutation(rng, x, sigma=1.0, indpb=0.1)
    changed = y != 0
    assert abs(changed.mean() - 0.1) < 0.003
    assert abs(y[changed].std() - 1.0) < 0.02 and abs(y[changed].mean()) < 0.02
    assert np.all(x == 0)  # input untouched


def test_gene_reset_rate_and_prior():
    rng = np.random.default_rng(3)
    x = np.full((1000, 500), 7.0)
    y = gene_reset(rng, x, rate=0.02)
    reset = y != 7.0
    assert abs(reset.mean() - 0.02) < 0.002
    assert abs(y[reset].mean()) < 0.05 and abs(y[reset].std() - 1.0) < 0.05


def test_uniform_crossover_swaps_half_the_genes():
    rng = np.random.default_rng(4)
    a, b = np.zeros((500, 400)), np.ones((500, 400))
    c1, c2 = uniform_crossover(rng, a, b)
    assert abs(c1.mean() - 0.5) < 0.005
    np.testing.assert_array_equal(c1 + c2, 1.0)


def test_tournament_pressure_matches_theory():
    """k aspirants drawn with replacement: P(rank r wins) = ((P-r+1)^k - (P-r)^k) / P^k."""
    rng = np.random.default_rng(5)
    pop, k = 10, 3
    loss = np.arange(pop, dtype=float)  # index = rank, 0 best
    wins = np.bincount(tournament(rng, loss, 200_000, k), minlength=pop) / 200_000
    ranks = np.arange(pop)
    expected = ((pop - ranks) ** k - (pop - ranks - 1) ** k) / pop**k
    np.testing.assert_allclose(wins, expected, atol=0.004)
    assert wins[0] > 0.27 and wins[-1] < 0.002


def test_blx_children_of_random_parents_stay_in_each_genes_extended_interval():
    rng = np.random.default_rng(6)
    alpha = 0.2
    a, b = rng.normal(size=(2000, 50)), rng.normal(size=(2000, 50))
    lo, hi, d = np.minimum(a, b), np.maximum(a, b), np.abs(a - b)
    for child in blend_crossover(rng, a, b, alpha):
        assert np.all(child >= lo - alpha * d - 1e-12) and np.all(child <= hi + alpha * d + 1e-12)
        # position within the extended interval is uniform: mean 1/2, variance 1/12
        u = (child - (lo - alpha * d)) / ((1 + 2 * alpha) * d)
        assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002


def test_tournament_of_one_has_no_selection_pressure():
    rng = np.random.default_rng(7)
    wins = np.bincount(tournament(rng, np.arange(10.0), 100_000, size=1), minlength=10) / 100_000
    np.testing.assert_allclose(wins, 0.1, atol=0.005)


def test_set_ga_crosses_seventy_percent_of_pairs_and_resets_two_percent_of_genes():
    from bench.algorithms.ga_set import SetGeneticAlgorithm

    from bench.testing import ProbeSphere

    pop, dim = 2000, 100
    ga = SetGeneticAlgorithm(ProbeSphere(dim).search_space, 8, population=pop, mutpb=0.0)
    ga.genomes = np.repeat(np.arange(pop, dtype=float)[:, None], dim, axis=1)  # row i is all i
    ga.loss = np.arange(pop, dtype=float)
    ga._next_generation()
    children = ga.genomes[ga.elite :]
    crossed = ~np.all(children == children[:, :1], axis=1)  # a crossed child mixes two rows
    pairs = crossed[0 : pop - 2 : 2] | crossed[1 : pop - 1 : 2]
    assert abs(pairs.mean() - 0.7) < 0.04  # a few crossed pairs had the same parent twice
    x = np.zeros((1000, 500))
    reset = ga._mutate(x) != 0.0
    assert abs(reset.mean() - 0.02) < 0.002


def _generations(ga, problem, asks: int) -> list[np.ndarray]:
    """The population after each of ``asks`` ask/tell rounds."""
    populations = []
    for _ in range(asks):
        ga.tell(problem.evaluate(ga.ask()))
        populations.append(ga.genomes.copy())
    return populations


def test_evaluating_copies_counts_generations_without_changing_the_search():
    from bench.algorithms.ga import GeneticAlgorithm

    from bench.runner import execute
    from bench.spec import RunSpec
    from bench.testing import ProbeSphere

    problem = ProbeSphere(6)
    kw = dict(population=20, cxpb=0.5, mutpb=0.1)
    skip = GeneticAlgorithm(problem.search_space, 3, **kw)
    every = GeneticAlgorithm(problem.search_space, 3, evaluate_copies=True, **kw)
    sizes = []
    for a, b in zip(_generations(skip, problem, 12), _generations(every, problem, 12), strict=True):
        np.testing.assert_array_equal(a, b)  # the same draws, the same populations
    assert skip.generation == every.generation == 11
    for _ in range(3):
        genomes = every.ask()
        sizes.append(len(genomes))
        every.tell(problem.evaluate(genomes))
    assert sizes == [20, 20, 20]
    # the paper preset: 100k evaluations are the initial population and 499 generations of 200
    paper = GeneticAlgorithm.presets["paper"]
    assert paper["evaluate_copies"] and paper["budget"] == paper["population"] * 500
    spec = RunSpec("sphere", "ga", 200, 0, {"dim": 4}, {"population": 20, "evaluate_copies": True})
    assert execute(spec).record["algorithm"]["params"]["evaluate_copies"] is True


def test_set_ga_paper_counts_500_generations_of_50():
    """The source's unit: one generation = 50 evaluations, 500 of them in 25,000.

    The elite was kept unevaluated, so a generation cost 49 and the paper budget ran
    about 510 generations.
    """
    from bench.algorithms.ga_set import SetGeneticAlgorithm

    from bench.runner import execute
    from bench.spec import RunSpec
    from bench.testing import ProbeSphere

    problem = ProbeSphere(6)
    kw = dict(population=10, elite=1)
    skip = SetGeneticAlgorithm(problem.search_space, 5, **kw)
    every = SetGeneticAlgorithm(problem.search_space, 5, evaluate_elite=True, **kw)
    for a, b in zip(_generations(skip, problem, 8), _generations(every, problem, 8), strict=True):
        np.testing.assert_array_equal(a, b)  # the same draws, the same populations
    spec = RunSpec("sphere", "ga-set", 25_000, 0, {"dim": 8}, preset="paper")
    curve = execute(spec).curve
    assert len(curve) == 500 and set(np.diff(curve["evaluations"], prepend=0)) == {50}

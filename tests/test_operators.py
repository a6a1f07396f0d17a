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

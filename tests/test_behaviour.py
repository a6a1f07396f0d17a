"""On a cheap analytic problem, the optimisers beat random sampling, with margins, every seed."""

import numpy as np
import pytest
from bench.problems.analytic import Sphere

from bench.registry import registry
from bench.testing import run_once

SEEDS = (1, 2, 3)


def _best(name, problem, budget, seed):
    return run_once(registry("algorithms").load(name), problem, budget, seed).best_fitness


@pytest.mark.parametrize(
    ("name", "dim", "budget", "factor"),
    [
        # measured at these sizes: random ~58-66, ga ~11-12, ga-set ~7-8, pymoo:ga ~6-9
        ("ga", 64, 3000, 0.4),
        ("ga-set", 64, 3000, 0.4),
        ("pymoo:ga", 64, 3000, 0.4),
        # CMA-ES reaches the optimum on a sphere; random stays far from it
        ("pymoo:cmaes", 16, 1500, 0.01),
        # CMA-ME spreads its effort over the grid (here the first two genes); it still beats random
        # (worst CMA-ME seed ~3.6 against the luckiest random seed ~5.7)
        ("cma-me", 16, 1500, 0.75),
    ],
)
def test_optimisers_beat_random_sampling_on_the_sphere(name, dim, budget, factor):
    problem = Sphere(dim=dim)
    random = [_best("random", problem, budget, s) for s in SEEDS]
    found = [_best(name, problem, budget, s) for s in SEEDS]
    assert max(found) < factor * min(random), (name, found, random)


def test_random_sampling_improves_only_slowly():
    """The baseline itself: best of n prior samples, far from a 64-gene optimum."""
    problem = Sphere(dim=64)
    best = [_best("random", problem, 3000, s) for s in SEEDS]
    assert np.all(np.array(best) > 30)

"""Every registered algorithm passes the same contract checks (bench.testing)."""

import numpy as np
import pytest

from bench.algorithm import Algorithm, OrderError
from bench.registry import registry
from bench.testing import ProbeSphere, check_algorithm, run_once

ALGORITHMS = registry("algorithms").names()


@pytest.mark.parametrize("name", ALGORITHMS)
def test_contract(name):
    check_algorithm(registry("algorithms").load(name))


@pytest.mark.parametrize("name", ALGORITHMS)
def test_exact_budget_at_set_size(name):
    """D = 5,000 is a set of 50 DCGAN latents."""
    problem = ProbeSphere(dim=5000)
    algo_cls = registry("algorithms").load(name)
    batch = algo_cls(problem.search_space, 0).batch_size
    for budget in (2 * batch, 2 * batch + 7):
        ev = run_once(algo_cls, problem, budget, seed=2)
        assert ev.used == budget
        assert ev.best_genome.shape == (5000,)


class _Broken(Algorithm):
    """Asks for more than it declares."""

    @property
    def batch_size(self):
        return 2

    def _ask(self):
        return np.zeros((3, self.space.dim))

    def _tell(self, genomes, loss, measures):
        pass


def test_order_guard_and_declared_batch_are_enforced():
    algo = registry("algorithms").load("random")(ProbeSphere(4).search_space, 0, batch=5)
    with pytest.raises(OrderError):
        algo.tell(np.zeros(5))
    algo.ask()
    with pytest.raises(ValueError, match=r"expected shape \[5\]"):
        algo.tell(np.zeros(4))
    with pytest.raises(ValueError, match="declared batch_size is 2"):
        _Broken(ProbeSphere(4).search_space, 0).ask()


def test_contract_check_catches_an_unseeded_algorithm():
    """check_algorithm must fail an algorithm whose results ignore the seed."""

    class Unseeded(_Broken):
        def _ask(self):
            return np.ones((2, self.space.dim))

    with pytest.raises(AssertionError, match="different seeds"):
        check_algorithm(Unseeded)

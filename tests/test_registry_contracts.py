"""Every registered problem and generator passes its contract check (bench.testing)."""

import pytest

from bench.problem import MissingWeightsError
from bench.registry import registry
from bench.testing import check_generator, check_problem


@pytest.mark.parametrize("name", registry("problems").names())
def test_problem_contract(name):
    try:
        problem = registry("problems").load(name)()
    except MissingWeightsError as exc:
        # Only problems whose weights users must bring may skip; say which and why.
        pytest.skip(f"{name} needs weights a user supplies: {exc}")
    check_problem(problem, n=4)


@pytest.mark.parametrize("name", registry("generators").names())
def test_generator_contract(name):
    try:
        generator = registry("generators").load(name)()
    except MissingWeightsError as exc:
        pytest.skip(f"{name} needs weights a user supplies: {exc}")
    check_generator(generator.eval())

"""The Python API refuses what it cannot run, in one clear exception, before building anything."""

from __future__ import annotations

import numpy as np
import pytest
from bench.problems.analytic import Rastrigin, Sphere

from bench.evaluator import BudgetEvaluator
from bench.runner import execute
from bench.spec import RunSpec, SpecError
from bench.testing import check_algorithm, check_problem


def test_a_given_problem_of_another_class_is_refused():
    """It ran under the spec's run id and name: a Rastrigin recorded as 'sphere'."""
    spec = RunSpec("sphere", "random", 20, algo_params={"batch": 10})
    with pytest.raises(SpecError, match=r"is a Rastrigin \('rastrigin'\), but the spec names 'sp"):
        execute(spec, problem=Rastrigin())

    class Wrapped(Sphere):  # a subclass, or any class no entry point registers, may stand in
        pass

    record = execute(spec, problem=Wrapped(dim=4)).record
    assert record["problem"]["class"].endswith("Wrapped") and record["problem"]["dim"] == 4


def test_the_provenance_names_the_device_the_problem_used():
    """device='cuda:7' was written into the record of a CPU-only problem on a CPU machine."""
    spec = RunSpec("sphere", "random", 20, problem_params={"dim": 4}, algo_params={"batch": 10})
    record = execute(spec, device="cuda:7").record
    assert record["status"] == "finished" and record["provenance"]["machine"]["device"] == "cpu"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RunSpec("sphere", "random", 200.0), r"budget must be an int, got 200\.0 \(float\)"),
        (RunSpec("sphere", "random", "200"), r"budget must be an int, got '200' \(str\)"),
        (RunSpec("sphere", "random", True), r"budget must be an int, got True \(bool\)"),
        (RunSpec(Sphere(dim=4), "random", 200), r"problem must be a registered name .*a Sphere"),
        (RunSpec("sphere", Sphere, 200), r"algo must be a registered name .*the class Sphere"),
        (RunSpec("sphere", "random", 200, problem_params=[1]), r"problem_params must be a dict"),
    ],
)
def test_malformed_specs_are_one_spec_error(spec, message):
    with pytest.raises(SpecError, match=message):
        execute(spec)


def test_numpy_integers_are_ints_and_none_parameters_are_none():
    """np.int64 budgets failed in the JSON writer after the run; np.int64 seeds were refused."""
    spec = RunSpec("sphere", "random", np.int64(20), seed=np.int64(3), problem_params=None)
    assert (type(spec.budget), type(spec.seed), spec.problem_params) == (int, int, {})
    assert spec.run_id == RunSpec("sphere", "random", 20, seed=3).run_id
    result = execute(RunSpec("sphere", "random", np.int64(20), algo_params={"batch": 10}))
    assert result.record["status"] == "finished" and result.record["evaluations"] == 20


def test_complex_genomes_are_refused_by_the_evaluator():
    with pytest.raises(TypeError, match="must be real numbers, got complex ones"):
        BudgetEvaluator(Sphere(dim=3), 5)(np.array([[1 + 5j, 0, 0]]))


def test_contract_checks_say_what_they_take():
    with pytest.raises(AssertionError, match=r"takes a problem instance, not the class Sphere"):
        check_problem(Sphere)
    from bench.algorithms.random_sampling import RandomSampling

    with pytest.raises(AssertionError, match="dim must be an int of at least 1, got 0"):
        check_algorithm(RandomSampling, dim=0)


def test_a_problem_warms_up_before_the_clock_starts():
    """The face problem fitted its measure axes in its first evaluation: 78 s 'evaluating'."""
    import time

    class SlowToCalibrate(Sphere):
        warmed = False

        def warm_up(self):
            time.sleep(0.5)
            self.warmed = True

        def evaluate(self, genomes):
            assert self.warmed, "evaluated before warm_up"
            return super().evaluate(genomes)

    spec = RunSpec("sphere", "random", 20, problem_params={"dim": 4}, algo_params={"batch": 10})
    record = execute(spec, problem=SlowToCalibrate(dim=4)).record
    assert record["status"] == "finished"
    assert record["wall_seconds"] < 0.5 and record["eval_seconds"] < 0.5  # the sleep is outside


def test_a_spec_keeps_its_own_params_and_hashes_by_run_id():
    """A caller's dict changed after the spec was made changed the spec's run id."""
    params = {"dim": 8, "box": [1, 2]}
    spec = RunSpec("sphere", "ga", budget=100, problem_params=params)
    before = spec.run_id
    params["dim"] = 16
    params["box"].append(3)
    assert spec.run_id == before and spec.problem_params == {"dim": 8, "box": [1, 2]}
    same = RunSpec("sphere", "ga", budget=100, problem_params={"dim": 8, "box": [1, 2]})
    assert {spec: "a"}[same] == "a" and len({spec, same}) == 1


def test_nan_and_infinite_parameters_are_refused():
    """NaN, inf and None hashed to one run id once plain() wrote them as null."""
    for value in (float("nan"), float("inf"), [1.0, float("-inf")]):
        with pytest.raises(SpecError, match=r"algorithm parameter 'sigma' is .*give a finite"):
            execute(RunSpec("sphere", "ga", budget=200, algo_params={"sigma": value}))

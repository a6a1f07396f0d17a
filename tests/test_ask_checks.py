"""What ask() takes from an algorithm, what the evaluator takes from a problem, and how
bench.testing reports a broken contract: one clear error naming who broke which promise."""

from __future__ import annotations

import re

import numpy as np
import pytest
from bench.algorithms.random_sampling import RandomSampling

from bench.algorithm import Algorithm
from bench.evaluator import BudgetEvaluator
from bench.runner import execute
from bench.spec import RunSpec
from bench.testing import ProbeBox, ProbeSphere, check_algorithm, check_problem


class Plugin(Algorithm):
    """A well-behaved plugin: ``lam`` normal genomes per ask; subclasses break one promise."""

    lam = 6
    size: object = 6

    def __init__(self, space, seed) -> None:
        super().__init__(space, seed)

    @property
    def batch_size(self) -> int:
        return self.size

    def _ask(self) -> object:
        return self.rng.normal(size=(self.lam, self.space.dim))

    def _tell(self, genomes: np.ndarray, loss: np.ndarray, measures: np.ndarray | None) -> None:
        pass


class AllNan(Plugin):
    def _ask(self) -> np.ndarray:
        return np.full((self.lam, self.space.dim), np.nan)


class NanEverySecond(Plugin):
    def _ask(self) -> np.ndarray:
        genomes = self.rng.normal(size=(self.lam, self.space.dim))
        genomes[::2] = np.nan
        return genomes


class Infinite(Plugin):
    def _ask(self) -> np.ndarray:
        genomes = self.rng.normal(size=(self.lam, self.space.dim))
        genomes[0, 0] = -np.inf
        return genomes


class Strings(Plugin):
    def _ask(self) -> np.ndarray:
        return np.full((self.lam, self.space.dim), "x")


class Complex(Plugin):
    def _ask(self) -> np.ndarray:
        return self.rng.normal(size=(self.lam, self.space.dim)) * (1 + 1j)


class Flat(Plugin):
    def _ask(self) -> np.ndarray:
        return self.rng.normal(size=self.space.dim)


class Ragged(Plugin):
    def _ask(self) -> list:
        return [[0.0] * self.space.dim, [0.0]]


class FloatBatch(Plugin):
    size = 6.0


class WrongTell(Plugin):
    def _tell(self, genomes: np.ndarray, loss: np.ndarray) -> None:  # no measures
        pass


def _ask(cls: type[Plugin], problem=None) -> np.ndarray:
    return cls((problem or ProbeBox(4)).search_space, 0).ask()


# 1. non-finite genomes


@pytest.mark.parametrize(
    ("cls", "count"), [(AllNan, "6 of 6"), (NanEverySecond, "3 of 6"), (Infinite, "1 of 6")]
)
def test_ask_refuses_nonfinite_genomes_even_inside_bounds(cls, count):
    """np.clip keeps NaN: a box must not let a NaN genome through to the problem."""
    with pytest.raises(ValueError, match=rf"^{cls.__name__}\.ask\(\) returned {count} genomes "):
        _ask(cls)
    with pytest.raises(ValueError, match="NaN or infinite"):
        _ask(cls, ProbeSphere(4))  # and without bounds


def test_a_nan_genome_fails_the_run_with_one_line(monkeypatch):
    def nan_ask(self):
        return np.full((self.batch, self.space.dim), np.nan)

    monkeypatch.setattr(RandomSampling, "_ask", nan_ask)
    box = ProbeBox(4)
    result = execute(RunSpec("sphere", "random", budget=200), problem=box)
    assert result.record["status"] == "failed"
    assert result.record["error"]["type"] == "ValueError"
    assert result.record["error"]["message"] == (
        "RandomSampling.ask() returned 100 of 100 genomes with NaN or infinite genes; "
        "an algorithm must propose finite genomes"
    )
    assert result.record["evaluations"] == 0 and box.outside == 0


# 2. check_algorithm names the real cause


def test_probe_box_counts_nan_genomes_as_outside():
    box = ProbeBox(3)
    genomes = np.full((4, 3), 0.8)
    genomes[1, 2] = genomes[3, 0] = np.nan
    box.evaluate(genomes)
    assert box.outside == 2


@pytest.mark.parametrize("cls", [AllNan, NanEverySecond, Infinite])
def test_check_algorithm_reports_nonfinite_genomes(cls):
    with pytest.raises(AssertionError, match="genomes with NaN or infinite genes") as info:
        check_algorithm(cls)
    assert cls.__name__ in str(info.value) and "\n" not in str(info.value)


def test_check_algorithm_catches_nan_from_an_algorithm_that_overrides_ask():
    class OwnAsk(AllNan):
        def ask(self) -> np.ndarray:  # bypasses Algorithm.ask's checks
            genomes = self._ask()
            self._pending = genomes
            return genomes

    with pytest.raises(AssertionError, match="6 of 6 genomes with NaN or infinite genes"):
        check_algorithm(OwnAsk)


# 3. what _ask returns


@pytest.mark.parametrize(
    ("cls", "got"),
    [
        (Strings, r"got an array of strings of shape \[6, 4\]"),
        (Complex, r"got an array of complex numbers of shape \[6, 4\]"),
        (Ragged, "got a list that is no array of numbers"),
    ],
)
def test_ask_wants_a_real_float_array(cls, got):
    expected = rf"^{cls.__name__}\.ask\(\): _ask\(\) must return a real float array \[N, 4\]"
    with pytest.raises(TypeError, match=expected) as info:
        _ask(cls)
    assert info.match(got)
    with pytest.raises(AssertionError, match=expected[1:]):
        check_algorithm(cls, dim=4)


def test_ask_of_the_wrong_shape_names_the_algorithm_and_the_shape():
    with pytest.raises(ValueError, match=r"^Flat\.ask\(\): expected shape \[N, 4\], got \[4\]$"):
        _ask(Flat)
    with pytest.raises(AssertionError, match=r"Flat\.ask\(\): expected shape \[N, 8\], got \[8\]"):
        check_algorithm(Flat)


# 4. the evaluator says what a problem returned


@pytest.mark.parametrize(
    ("returned", "got"),
    [
        (None, "got None"),
        (3.5, r"got a scalar \(3\.5\)"),
        (np.zeros(3), r"got an array of shape \[3\]"),
        (["x"] * 5, "got a list of length 5 that is no array of numbers"),
    ],
)
def test_evaluator_says_what_the_problem_returned(returned, got):
    class Broken(ProbeSphere):
        def evaluate(self, genomes):
            return returned

    with pytest.raises(
        ValueError, match=r"^Broken\.evaluate\(\) fitness: expected shape \[5\]"
    ) as e:
        BudgetEvaluator(Broken(2), 10)(np.zeros((5, 2)))
    assert e.match(got)
    with pytest.raises(AssertionError, match=r"Broken\.evaluate\(\) fitness: .*" + got):
        check_problem(Broken(2), n=4)


# 5. a float batch size is refused everywhere


def test_a_float_batch_size_is_refused_by_ask_the_runner_and_the_check(monkeypatch):
    message = re.escape("FloatBatch.batch_size must be a positive int, got 6.0 (float)")
    with pytest.raises(TypeError, match=message):
        _ask(FloatBatch)
    with pytest.raises(AssertionError, match=message):
        check_algorithm(FloatBatch)
    monkeypatch.setattr(RandomSampling, "batch_size", property(lambda self: float(self.batch)))
    record = execute(RunSpec("sphere", "random", budget=200)).record
    assert record["status"] == "failed"
    assert record["error"]["message"] == (
        "RandomSampling.batch_size must be a positive int, got 100.0 (float)"
    )


def test_numpy_integer_batch_sizes_are_ints():
    class NumpyBatch(Plugin):
        size = np.int64(6)

    check_algorithm(NumpyBatch)


# 6. the checks raise AssertionError only


def test_a_tell_of_the_wrong_signature_fails_the_check_with_an_assertion():
    with pytest.raises(AssertionError, match=r"_tell\(genomes \[n, D\], loss \[n\], measures") as e:
        check_algorithm(WrongTell)
    assert e.match("TypeError: .*_tell")


def test_check_problem_turns_a_missing_genome_shape_into_an_assertion():
    class NoShape(ProbeSphere):
        def __init__(self):
            pass

    with pytest.raises(AssertionError, match="NoShape must set genome_shape") as e:
        check_problem(NoShape())
    assert e.match("AttributeError")


def test_check_problem_turns_short_fitness_into_an_assertion():
    class Short(ProbeSphere):
        def evaluate(self, genomes):
            return super().evaluate(genomes)[:-1]

    with pytest.raises(AssertionError, match=r"expected shape \[4\] .*got an array of shape \[3\]"):
        check_problem(Short(2), n=4)


def test_the_checks_still_pass_good_code():
    check_algorithm(Plugin)
    check_problem(ProbeSphere(3))

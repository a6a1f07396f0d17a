"""What a problem declares (bounds, genome_shape, worst_fitness) is checked where its search
space is made, by ``check_problem``, and, for a worst fitness on the wrong side, while it runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.algorithm import Algorithm
from bench.problem import GaussianPrior, Problem, SearchSpace
from bench.registry import registered
from bench.runner import execute
from bench.spec import RunSpec, SpecError
from bench.testing import ProbeSphere, check_problem


class Boxed(ProbeSphere):
    """``ProbeSphere`` with the bounds given to it (right or wrong)."""

    def __init__(self, bounds: object = (1.0, 2.0), dim: int = 4):
        super().__init__(dim)
        self.bounds = bounds


BAD_BOUNDS = {
    "reversed": ((2.0, 1.0), "low must be less than high"),
    "empty box": ((1.0, 1.0), "low must be less than high"),
    "three numbers": ((1.0, 2.0, 3.0), r"\(low, high\)"),
    "[D, 2] array": (np.tile([1.0, 2.0], (4, 1)), "an array of shape \\[4, 2\\]"),
    "nan": ((float("nan"), 2.0), "finite"),
    "inf": ((0.0, float("inf")), "finite"),
    "strings": (("0", "1"), "one box for every gene"),
    "booleans": ((False, True), "one box for every gene"),
    "a number": (1.0, r"\(low, high\)"),
}


@pytest.mark.parametrize("kind", BAD_BOUNDS)
def test_wrong_bounds_are_refused_where_the_search_space_is_made(kind):
    bounds, why = BAD_BOUNDS[kind]
    with pytest.raises(ValueError, match=rf"^Boxed.bounds .*{why}") as e:
        Boxed(bounds).search_space  # noqa: B018 - the property checks
    assert "\n" not in str(e.value) and "bounds = (" in str(e.value)  # says what to write


@pytest.mark.parametrize("bounds", [(1, 2), [1.0, 2.0], (np.float32(1.0), np.int64(2))])
def test_two_real_numbers_make_one_box_of_floats(bounds):
    space = Boxed(bounds).search_space
    assert space.bounds == (1.0, 2.0) and all(type(b) is float for b in space.bounds)


BAD_PER_GENE = {
    "another shape": ((np.full(3, 1.0), 2.0), r"low has shape \[3\]; per-gene bounds take the "
                      r"genome's shape \[4\], or one number"),
    "low above high in one gene": ((np.array([1.0, 1.0, 3.0, 1.0]), 2.0),
                                   r"of gene 2: \(3.0, 2.0\); low must be less than high in "
                                   r"every gene \(1 gene\(s\) are not\)"),
    "nan in one gene": ((0.0, [1.0, float("nan"), 1.0, 1.0]), "of gene 1: .* must be finite"),
    "words": ((["a", "b", "c", "d"], 1.0), "low must be a number or an array of numbers"),
}


@pytest.mark.parametrize("kind", BAD_PER_GENE)
def test_wrong_per_gene_bounds_say_which_gene_or_shape(kind):
    bounds, why = BAD_PER_GENE[kind]
    with pytest.raises(ValueError, match=rf"^Boxed.bounds .*{why}") as e:
        Boxed(bounds).search_space  # noqa: B018 - the property checks
    assert "\n" not in str(e.value)


def test_per_gene_bounds_become_flat_read_only_arrays():
    low = np.array([[0.0, 1.0, 2.0], [-1.0, -2.0, -3.0]])
    sets = Boxed((low, 5.0))
    sets.genome_shape = (2, 3)  # a set of 2 latents of 3 genes
    space = sets.search_space
    space_low, space_high = space.bounds
    assert space_low.shape == space_high.shape == (6,)
    assert np.array_equal(space_low, low.ravel()) and np.all(space_high == 5.0)
    assert not space_low.flags.writeable and not space_high.flags.writeable
    low[0, 0] = 9.0  # the problem's own array may change later; the space keeps its copy
    assert space_low[0] == 0.0


def test_every_algorithm_family_stays_in_boxes_per_gene():
    """The GAs and MAP-Elites through ask()'s clipping, pymoo's algorithms through their box."""
    from bench.testing import ProbeBox

    class PerGeneBox(ProbeBox):
        def __init__(self, dim: int = 6):
            super().__init__(dim, per_gene=True)

    for algo in ("random", "ga", "ga-set", "pymoo:de", "pymoo:cmaes", "pymoo:nelder-mead"):
        box = PerGeneBox()
        with registered(problems={"per-gene-box": PerGeneBox}):
            result = execute(RunSpec("per-gene-box", algo, budget=400, seed=1), problem=box)
        assert result.record["status"] == "finished", (algo, result.record.get("error"))
        assert box.outside == 0, f"{algo}: {box.outside} genomes outside their genes' boxes"
        low, high = box.bounds
        assert np.all((result.best_genome >= low) & (result.best_genome <= high)), algo


def test_a_search_space_made_by_hand_checks_its_bounds_too():
    with pytest.raises(ValueError, match=r"^SearchSpace.bounds .*low must be less than high"):
        SearchSpace(dim=2, genome_shape=(2,), prior=GaussianPrior(), bounds=(2.0, 1.0))


def test_check_problem_refuses_wrong_bounds():
    with pytest.raises(AssertionError, match=r"Boxed.bounds .*low must be less than high"):
        check_problem(Boxed((2.0, 1.0)))


def test_check_problem_tries_genomes_inside_the_bounds():
    class InsideOnly(Boxed):
        def evaluate(self, genomes):
            assert ((genomes >= 1.0) & (genomes <= 2.0)).all(), "a genome outside the box"
            return super().evaluate(genomes)

    check_problem(InsideOnly((1.0, 2.0)))


class Prior(Algorithm):
    """Normal genomes, 4 per ask; ``space`` may be tampered with after construction."""

    batch_size = 4

    def _ask(self) -> np.ndarray:
        return self.rng.normal(size=(4, self.space.dim))

    def _tell(self, genomes, loss, measures) -> None:
        pass


def test_ask_checks_the_genomes_after_clipping_them_into_the_bounds():
    algo = Prior(Boxed().search_space, 0)
    object.__setattr__(algo.space, "bounds", (float("nan"), 2.0))  # past every check
    with pytest.raises(ValueError, match=r"Prior.ask\(\).*after clipping"):
        algo.ask()


@pytest.mark.parametrize("algo", ["random", "pymoo:de"])
def test_a_run_on_wrong_bounds_is_a_usage_error_that_names_the_problem(algo):
    class ArrayBounds(Boxed):
        def __init__(self, dim: int = 4):
            super().__init__((np.full(dim, 3.0), np.full(dim, 2.0)), dim)  # low above high

    with registered(problems={"array-bounds": ArrayBounds}):
        with pytest.raises(SpecError, match=r"^problem 'array-bounds': ArrayBounds.bounds"):
            execute(RunSpec("array-bounds", algo, budget=20))


# genome_shape


class Shaped(ProbeSphere):
    def __init__(self, shape: object):
        self.genome_shape = shape
        self.nan_every = 0


@pytest.mark.parametrize(
    ("shape", "got"),
    [
        ((4.5,), r"\(4.5,\)"),
        (("8",), "'8'"),
        ((0,), r"\(0,\)"),
        ((True,), r"\(True,\)"),
        (4, "4"),
        ((), r"\(\)"),
    ],
)
def test_a_genome_shape_of_anything_but_positive_ints_is_refused(shape, got):
    with pytest.raises(
        ValueError, match=rf"^Shaped.genome_shape must be a tuple of positive ints.*{got}"
    ):
        Shaped(shape).dim  # noqa: B018 - the property checks
    with pytest.raises(ValueError, match=r"^Shaped.genome_shape"):
        Shaped(shape).search_space  # noqa: B018
    with pytest.raises(AssertionError, match=r"Shaped.genome_shape must be a tuple of positive"):
        check_problem(Shaped(shape))


def test_numpy_ints_make_a_genome_shape_of_python_ints():
    problem = Shaped((np.int64(2), 3))
    assert problem.dim == 6 and type(problem.dim) is int
    assert problem.search_space.genome_shape == (2, 3)
    assert all(type(n) is int for n in problem.search_space.genome_shape)


def test_an_unhinted_dimension_of_the_wrong_type_is_a_usage_error():
    class NoHint(ProbeSphere):
        def __init__(self, dim=4):  # no hint: --set passes it as given
            super().__init__(dim)

    with registered(problems={"no-hint": NoHint}):
        for dim in (4.5, "8"):
            spec = RunSpec("no-hint", "random", budget=20, problem_params={"dim": dim})
            with pytest.raises(SpecError, match=r"^problem 'no-hint': NoHint.genome_shape"):
                execute(spec)


# worst_fitness


class Scored(ProbeSphere):
    """Maximise ``-sphere``: fitness is at most 0."""

    sense = "max"

    def __init__(self, worst: object = -1e6, dim: int = 4):
        super().__init__(dim)
        self.worst_fitness = worst

    def evaluate(self, genomes):
        return -super().evaluate(genomes)


@pytest.mark.parametrize("worst", [float("nan"), float("inf"), -float("inf"), "2", True])
def test_a_worst_fitness_that_is_no_finite_number_is_refused(worst):
    with pytest.raises(ValueError, match=r"^Scored.worst_fitness must be None or a finite number"):
        Scored(worst).search_space  # noqa: B018
    with pytest.raises(AssertionError, match=r"Scored.worst_fitness must be None or a finite"):
        check_problem(Scored(worst))


def test_check_problem_refuses_a_worst_fitness_better_than_sampled_fitness():
    with pytest.raises(AssertionError, match=r"Scored.worst_fitness 1e.09 is better than .*'max'"):
        check_problem(Scored(1e9))
    check_problem(Scored(-1e6))  # below every fitness: right
    check_problem(Scored(None))


def test_a_worst_fitness_on_the_wrong_side_fails_the_run_at_the_first_batch():
    with registered(problems={"scored": Scored}):
        bad = execute(RunSpec("scored", "random", budget=200, problem_params={"worst": 1e9}))
        good = execute(RunSpec("scored", "random", budget=200, problem_params={"worst": -1e6}))
    assert bad.record["status"] == "failed"
    message = bad.record["error"]["message"]
    assert "Scored.worst_fitness 1e+09 is better than a fitness evaluate() returned" in message
    assert good.record["status"] == "finished"


def test_a_fitness_a_rounding_error_past_the_worst_is_no_contradiction():
    problem = Scored(-2.0)
    loss = problem.loss(np.array([-2.0 - 1e-9, -1.0]))
    assert np.array_equal(loss, [2.0 + 1e-9, 1.0])


def test_the_record_of_a_checked_problem_is_unchanged(tmp_path):
    with registered(problems={"scored": Scored}):
        result = execute(RunSpec("scored", "random", budget=200))
    assert result.record["status"] == "finished" and result.record["problem"]["dim"] == 4
    json.dumps(result.record["problem"], allow_nan=False)


def test_problem_base_class_keeps_its_defaults():
    assert Problem.bounds is None and Problem.worst_fitness is None


def test_infinite_fitness_is_an_invalid_evaluation_not_a_contradiction():
    """inf is what the worst fitness stands in for: check_worst refused a problem returning it."""
    import numpy as np

    from bench.testing import ProbeSphere

    class InfSometimes(ProbeSphere):
        worst_fitness = 1e6

        def evaluate(self, genomes):
            fitness = super().evaluate(genomes)
            fitness[genomes[:, 0] > 0] = np.inf
            return fitness

    problem = InfSometimes(4)
    problem.check_worst(np.array([np.inf, -np.inf, np.nan, 3.0]))
    np.testing.assert_array_equal(problem.loss(np.array([np.inf, 1.0])), [np.inf, 1.0])
    from bench.testing import check_problem

    check_problem(problem)  # refused it: 'worst_fitness 1e+06 is better than ... (inf)'


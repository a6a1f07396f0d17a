"""MAP-Elites and pyribs' emitters: the grid, the source emitter, CMA-MAE, and coverage."""

import subprocess
import sys

import numpy as np
import pytest
from bench.algorithms.map_elites import (
    OBJECTIVE_FLOOR,
    CrossoverEmitter,
    MapElites,
    fallback_measure_space,
)
from bench.algorithms.pyribs_emitters import CmaMae, CmaMe
from measured_problems import MeasuredSphere

from bench.archive import grid_archive
from bench.evaluator import BudgetEvaluator
from bench.registry import registry
from bench.runner import search
from bench.testing import ProbeMeasures, ProbeSphere, run_once


def _run(algo, problem, budget):
    ev = BudgetEvaluator(problem, budget)
    search(algo, ev)
    return ev


def test_grid_comes_from_the_problem_measures():
    problem = MeasuredSphere(dim=8)
    algo = MapElites(problem.search_space, 0)
    _run(algo, problem, 300)
    archive = algo.archive
    assert tuple(archive.dims) == (20, 20)
    assert list(archive.lower_bounds) == [-2.0, 0.0] and list(archive.upper_bounds) == [2.0, 3.0]
    elites = archive.data()
    np.testing.assert_allclose(elites["measures"], problem.measures(elites["solution"]))
    np.testing.assert_allclose(-elites["objective"], problem.evaluate(elites["solution"]))


def test_fallback_grid_on_a_problem_without_measures_is_the_first_two_genes():
    problem = ProbeSphere(dim=6)
    space = fallback_measure_space(problem.search_space)
    assert space.names == ("gene 0", "gene 1") and space.bins == (50, 50)
    assert space.ranges == ((-3.0, 3.0), (-3.0, 3.0))
    assert fallback_measure_space(ProbeSphere(dim=1).search_space).dim == 1
    algo = MapElites(problem.search_space, 0)
    _run(algo, problem, 200)
    elites = algo.archive.data()
    # stored as the archive takes them: clipped into the grid's range
    np.testing.assert_array_equal(elites["measures"], np.clip(elites["solution"][:, :2], -3, 3))


def test_crossover_emitter_mixes_two_elites_and_resets_genes_from_the_prior():
    dim, n = 400, 500
    archive = grid_archive(MeasuredSphere.measure_space, dim, seed=1)
    archive.add(np.zeros((1, dim)), [0.0], [[-1.0, 1.0]])
    archive.add(np.full((1, dim), 10.0), [0.0], [[1.0, 2.0]])
    emitter = CrossoverEmitter(archive, batch_size=n, indpb=0.05, seed=2)
    children = emitter.ask()
    assert children.shape == (n, dim)
    reset = (children != 0.0) & (children != 10.0)
    assert abs(reset.mean() - 0.05) < 0.005
    assert abs(children[reset].mean()) < 0.05 and abs(children[reset].std() - 1.0) < 0.05
    # parents are drawn independently: half the pairs are one elite twice; the others swap genes
    from_ten = (children == 10.0).sum(axis=1) / (~reset).sum(axis=1)
    mixed = (from_ten > 0.0) & (from_ten < 1.0)
    assert 0.4 < mixed.mean() < 0.6
    assert abs(from_ten[mixed].mean() - 0.5) < 0.02


def test_paper_preset_makes_one_child_per_step_after_the_initial_population():
    problem = MeasuredSphere(dim=8)
    params = {k: v for k, v in MapElites.presets["paper"].items() if k != "budget"}
    algo = MapElites(problem.search_space, 0, **params)
    assert algo.batch_size == 50
    sizes = []
    for _ in range(4):
        genomes = algo.ask()
        sizes.append(len(genomes))
        fitness, measures = problem.evaluate_with_measures(genomes)
        algo.tell(fitness, measures)
    assert sizes == [50, 1, 1, 1]
    assert MapElites.presets["paper"]["budget"] == 25_000


def test_cma_mae_threshold_starts_at_the_worst_initial_objective():
    problem = MeasuredSphere(dim=8)
    algo = CmaMae(problem.search_space, 3, emitters=2, batch=8)
    genomes = algo.ask()
    loss, measures = problem.evaluate_with_measures(genomes)
    algo.tell(loss, measures)
    archive = algo.scheduler.archive
    assert archive.learning_rate == 0.01
    assert archive.threshold_min == pytest.approx(-loss.max())
    assert algo.scheduler.result_archive is not archive
    _run(algo, problem, 400)
    assert len(algo.archive) >= len(archive) - 1  # the result archive keeps every improvement


class _NaNRows(ProbeSphere):
    """ProbeSphere whose first batch has NaN fitness in the given rows (``rows=None``: all)."""

    def __init__(self, dim, rows):
        super().__init__(dim)
        self.rows, self.calls = rows, 0

    def evaluate(self, genomes):
        fitness = super().evaluate(genomes)
        self.calls += 1
        if self.calls == 1:
            fitness[slice(None) if self.rows is None else self.rows] = np.nan
        return fitness


class _MeasuredNaNRows(MeasuredSphere):
    """MeasuredSphere, a worst fitness declared; NaN fitness in rows 0, 5, ... of batch one."""

    def __init__(self):
        super().__init__(dim=8, worst_fitness=1000.0)
        self.calls = 0

    def evaluate(self, genomes):
        fitness = super().evaluate(genomes)
        self.calls += 1
        if self.calls == 1:
            fitness[::5] = np.nan
        return fitness


@pytest.mark.parametrize(
    ("problem", "every"),
    [(_NaNRows(8, rows=[0]), 50), (_MeasuredNaNRows(), 5), (ProbeMeasures(8, nan_every=4), 4)],
    ids=["nan-fitness-no-worst", "nan-fitness-declared-worst", "nan-measures"],
)
def test_cma_mae_threshold_leaves_out_the_rows_the_evaluator_replaced(problem, every):
    """One NaN set threshold_min to -1e150 (or to minus the worst loss) and ruined the search."""
    algo = CmaMae(problem.search_space, 3, emitters=2, batch=8)
    ev = BudgetEvaluator(problem, 1000)
    genomes = algo.ask()
    result = ev(genomes)
    assert len(genomes) == 50
    algo.tell(result.loss, result.measures)
    finite_loss = np.sum((genomes - 0.5) ** 2, axis=1)[np.arange(50) % every != 0]
    assert algo.scheduler.archive.threshold_min == pytest.approx(-finite_loss.max())
    elites = algo.archive.data()
    assert len(elites["objective"]) and np.all(elites["objective"] > OBJECTIVE_FLOOR)
    assert np.all(elites["objective"] >= -finite_loss.max()), "no replaced row is an elite"
    search(algo, ev)  # and the run goes on to the end of its budget
    assert ev.used == 1000


class _WorstNaNRows(_NaNRows):
    """_NaNRows with a declared worst fitness and no measures: the stand-in looks genuine."""

    worst_fitness = 1000.0


def test_the_evaluators_valid_mask_reaches_the_algorithm():
    """A replaced row that the values cannot tell apart is left out because tell() is told."""
    problem = _WorstNaNRows(8, rows=[0])
    assert problem.worst == 1000.0 and problem.measure_space is None
    algo = CmaMae(problem.search_space, 3, emitters=2, batch=8)
    ev = BudgetEvaluator(problem, 1000)
    genomes = algo.ask()
    result = ev(genomes)
    assert result.loss[0] == 1000.0 and not result.valid[0] and result.valid[1:].all()
    algo.tell(result.loss, result.measures, result.valid)
    finite_loss = np.sum((genomes[1:] - 0.5) ** 2, axis=1)
    assert algo.scheduler.archive.threshold_min == pytest.approx(-finite_loss.max())
    search(algo, ev)  # the runner passes the mask on every tell()
    assert ev.used == 1000 and algo.told_valid is not None


def test_a_first_population_without_a_valid_row_is_drawn_again():
    problem = _NaNRows(8, rows=None)
    algo = CmaMae(problem.search_space, 4, emitters=2, batch=8)
    ev = BudgetEvaluator(problem, 1000)
    first = algo.ask()
    algo.tell(ev(first).loss)
    assert algo.scheduler is None, "no archive from a population without one valid row"
    second = algo.ask()
    assert second.shape == first.shape and not np.array_equal(first, second)
    algo.tell(ev(second).loss)
    expected = -np.sum((second - 0.5) ** 2, axis=1).max()
    assert algo.scheduler.archive.threshold_min == pytest.approx(expected)


@pytest.mark.parametrize("name", ["map-elites", "map-elites-isoline", "cma-me", "cma-mae"])
def test_nan_measures_make_an_evaluation_invalid_and_keep_it_out_of_every_archive(name):
    """pyribs refused a NaN measure next to a finite fitness, and every QD algorithm crashed."""
    problem = ProbeMeasures(8, nan_every=4)
    algo = registry("algorithms").load(name)(problem.search_space, 0)
    ev = BudgetEvaluator(problem, 500)
    genomes = algo.ask()
    result = ev(genomes)
    nan_rows = np.arange(len(genomes)) % 4 == 0
    np.testing.assert_array_equal(result.valid, ~nan_rows)
    assert np.all(result.fitness[nan_rows] == problem.worst), "fitness: the problem's worst"
    assert np.isnan(result.measures[nan_rows]).all(), "measures: all NaN, the mark"
    np.testing.assert_array_equal(result.measures[~nan_rows], genomes[~nan_rows][:, [0, -1]])
    algo.tell(result.loss, result.measures)
    search(algo, ev)
    assert ev.used == 500 and ev.nonfinite == problem.nan_rows
    assert np.isfinite(ev.best_fitness) and ev.best_fitness < problem.worst
    evaluations, cells = ev.archive.snapshots[0]  # the passive archive after the first batch
    assert evaluations == len(genomes) and len(cells["found_at"])
    assert np.all(cells["found_at"] % 4 != 1), "evaluations 1, 5, 9, ... had NaN measures"
    elites = algo.archive.data()
    assert np.all(elites["objective"] > OBJECTIVE_FLOOR), "no invalid row is an elite"
    measures = problem.measure_space.clip(elites["solution"][:, [0, -1]])  # as stored
    np.testing.assert_allclose(elites["measures"], measures)


def test_cma_me_uses_a_diagonal_es_only_for_large_genomes():
    assert CmaMe(ProbeSphere(512).search_space, 0).es == "cma_es"
    assert CmaMe(ProbeSphere(5000).search_space, 0).es == "sep_cma_es"
    assert CmaMe(ProbeSphere(5000).search_space, 0, es="lm_ma_es").es == "lm_ma_es"
    with pytest.raises(ValueError, match="unknown es 'cma'"):
        CmaMe(ProbeSphere(8).search_space, 0, es="cma")


def _coverage(name, seed, budget=4000):
    algo_cls = registry("algorithms").load(name)
    return run_once(algo_cls, MeasuredSphere(dim=16), budget, seed).archive.stats()["coverage"]


def test_map_elites_fills_more_of_the_grid_than_random_sampling():
    """Random latents crowd near mean 0 / spread 1; measured ~0.15 vs ~0.23 coverage."""
    seeds = (1, 2, 3)
    random = [_coverage("random", s) for s in seeds]
    for name, factor in (("map-elites", 1.25), ("map-elites-isoline", 3.0)):
        covered = [_coverage(name, s) for s in seeds]
        assert min(covered) > factor * max(random), (name, covered, random)


WARM_CHECK = """
from ribs.emitters.opt import CMAEvolutionStrategy, SeparableCMAEvolutionStrategy
from bench.algorithms.pyribs_emitters import CmaMe
from bench.runner import execute
from bench.spec import RunSpec

compiled = {}
first_ask = CmaMe._ask

def ask(self):  # note, at each run's first ask, whether pyribs' numba code is compiled
    es = CMAEvolutionStrategy if self.es == "cma_es" else SeparableCMAEvolutionStrategy
    if self.space.dim > 3:  # not warm_up's own tiny instance
        compiled.setdefault(self.es, bool(es._transform_and_check_sol.signatures))
    return first_ask(self)

CmaMe._ask = ask
for dim in (16, 1100):  # full CMA-ES, then the separable one (above FULL_CMA_MAX_DIM)
    record = execute(RunSpec("sphere", "cma-me", budget=300, problem_params={"dim": dim})).record
    assert record["status"] == "finished", record["error"]
print(compiled)
"""


def test_pyribs_compiles_before_a_runs_clock_starts():
    # pyribs JIT-compiles its CMA-ES update at first use (4.6 s of the first cma-me run's
    # algorithm time on one thread, for a run that takes 0.02 s); the runner's call of
    # warm_up() must have done it before the first timed ask, in a fresh process
    out = subprocess.run(
        [sys.executable, "-c", WARM_CHECK], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "{'cma_es': True, 'sep_cma_es': True}"

"""The passive archive: every evaluated solution of every algorithm, on the problem's grid."""

import numpy as np
import pytest
from bench.algorithms.ga import GeneticAlgorithm
from bench.algorithms.random_sampling import RandomSampling
from measured_problems import MeasuredScore, MeasuredSphere

import bench.runner
from bench.archive import PassiveArchive, qd_score_offset
from bench.evaluator import BudgetEvaluator
from bench.problem import MeasureSpace
from bench.results import flat_row
from bench.runner import execute, search
from bench.spec import RunSpec
from bench.testing import ProbeSphere

GRID = MeasureSpace(("a", "b"), ((0.0, 1.0), (0.0, 1.0)), (10, 10))


def test_qd_score_uses_the_fixed_offset_and_keeps_the_best_per_cell():
    archive = PassiveArchive(GRID, offset=-2.0)  # objective -loss, loss <= 2
    loss = np.array([0.5, 0.25, 1.5, 3.0])
    measures = np.array([[0.05, 0.05], [0.06, 0.04], [0.95, 0.95], [0.5, 0.5]])
    archive.add(loss, measures)
    # cells: (0, 0) keeps loss 0.25; (9, 9) loss 1.5; (5, 5) loss 3.0
    expected = (2.0 - 0.25) + (2.0 - 1.5) + (2.0 - 3.0)
    stats = archive.stats()
    assert stats["elites"] == 3
    assert stats["coverage"] == pytest.approx(3 / 100)
    assert stats["qd_score"] == pytest.approx(expected)
    # the stored "solution" is the 1-based evaluation number, not the genome
    assert sorted(archive.archive.data("solution").tolist()) == [2.0, 3.0, 4.0]


def test_measures_far_outside_the_range_go_to_the_nearest_edge_cell():
    """3e8 on [0, 1] overflowed pyribs' int32 cell index into the other edge."""
    archive = PassiveArchive(GRID)
    archive.add(np.array([0.1, 0.2, 0.3]), np.array([[3e8, 0.5], [-3e8, 0.5], [1.5, 0.5]]))
    cells = sorted(map(tuple, archive.archive.int_to_grid_index(archive.archive.data("index"))))
    assert cells == [(0, 5), (9, 5)]  # 1.5 and 3e8 share the high edge cell; -3e8 the low one
    assert sorted(archive.archive.data("solution").tolist()) == [1.0, 2.0]


def test_invalid_rows_are_counted_but_not_offered():
    archive = PassiveArchive(GRID)
    loss = np.array([0.1, 0.2, 0.3])
    measures = np.array([[0.1, 0.1], [0.5, np.nan], [0.9, 0.9]])
    archive.add(loss, measures, valid=np.array([True, True, False]))
    assert archive.stats()["elites"] == 1
    archive.add(np.array([0.0]), np.array([[0.3, 0.3]]))
    assert sorted(archive.archive.data("solution").tolist()) == [1.0, 4.0]


def test_offset_comes_from_the_worst_fitness_in_loss_terms():
    assert qd_score_offset(MeasuredSphere(worst_fitness=None)) == 0.0
    assert qd_score_offset(MeasuredSphere(worst_fitness=4.0)) == -4.0
    assert qd_score_offset(MeasuredScore(worst_fitness=-10.0)) == -10.0  # loss = -score
    assert PassiveArchive.for_problem(ProbeSphere(4)) is None


def test_every_algorithm_gets_measures_and_a_curve_with_qd_columns():
    problem = MeasuredSphere(dim=8, worst_fitness=100.0)
    algo = GeneticAlgorithm(problem.search_space, np.random.SeedSequence(1), population=20)
    told = []
    original = algo._tell
    algo._tell = lambda g, loss, m: (told.append(m), original(g, loss, m))
    ev = BudgetEvaluator(problem, 205)
    search(algo, ev)
    assert ev.with_measures and ev.archive is not None
    assert all(m is not None and m.shape[1] == 2 for m in told), "a GA must get measures too"
    coverage = [row["coverage"] for row in ev.curve]
    qd = [row["qd_score"] for row in ev.curve]
    assert coverage == sorted(coverage) and qd == sorted(qd), "the archive only ever improves"
    assert ev.archive.stats()["elites"] > 1
    assert qd[-1] > 0  # offset -100: every elite adds (100 - loss) > 0


def test_nonfinite_evaluations_stay_out_of_the_archive():
    problem = MeasuredSphere(dim=8, nan_every=2)
    ev = BudgetEvaluator(problem, 100)
    search(RandomSampling(problem.search_space, 3, batch=10), ev)
    assert ev.nonfinite == 50
    numbers = ev.archive.archive.data("solution").astype(int)
    assert np.all(numbers % 2 == 0), "rows 0, 2, 4, ... of each batch (odd numbers) were NaN"


def test_run_record_states_the_offset_and_the_scores(monkeypatch):
    """No registered problem has measures yet, so the runner is handed the test problem."""
    problem = MeasuredSphere(dim=8, worst_fitness=50.0)
    monkeypatch.setattr(bench.runner, "build_problem", lambda spec: problem)
    result = execute(RunSpec("sphere", "random", budget=300, seed=4))
    archive = result.record["archive"]
    assert archive["qd_score_offset"] == -50.0
    assert archive["bins"] == [20, 20] and archive["measures"] == ["mean gene", "gene spread"]
    assert 0 < archive["coverage"] <= 1 and archive["qd_score"] > 0
    assert result.curve["coverage"].iloc[-1] == archive["coverage"]
    assert result.curve["qd_score"].iloc[-1] == pytest.approx(archive["qd_score"])
    row = flat_row(result.record)
    assert row["qd_score"] == archive["qd_score"] and row["qd_score_offset"] == -50.0


def test_problems_without_measures_have_no_archive_and_no_measure_calls():
    result = execute(RunSpec("sphere", "random", budget=200, problem_params={"dim": 4}))
    assert "archive" not in result.record
    assert "coverage" not in result.curve.columns

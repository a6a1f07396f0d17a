"""The ECDF's fitness targets: evenly spaced, and whole numbers where the fitness counts."""

import numpy as np
import pandas as pd

from bench.campaign import Plan, run_campaign
from bench.leaderboard import build_leaderboard
from bench.leaderboard.figures import TARGETS, fitness_targets, hitting_times
from bench.leaderboard.runs import load_runs
from bench.registry import registered
from bench.testing import ProbeSphere


class CountedGenes(ProbeSphere):
    """Genes above 0.5, to minimise: a whole-number fitness from 0 to ``dim``."""

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """``[N, D]`` → ``[N]`` counts, as floats."""
        return np.sum(genomes > 0.5, axis=1).astype(np.float64)


def _runs(tmp_path, problem: str, dim: int):
    plan = Plan(
        problems=[problem], algorithms=["random", "ga"], seeds=[0, 1], budget=400,
        problem_params={problem: {"dim": dim}},
        algo_params={"random": {"batch": 20}, "ga": {"population": 20}},
    )
    run_campaign(plan, tmp_path / problem, progress=False)
    runs, _ = load_runs(tmp_path / problem)
    return runs


def test_a_counted_fitness_gets_every_whole_level_once(tmp_path):
    with registered(problems={"counted-genes": CountedGenes}):
        runs = _runs(tmp_path, "counted-genes", 24)
        targets = fitness_targets(runs)
        first, best = targets[0], runs["final"].min()
        assert np.array_equal(targets, np.arange(first, best - 1, -1)), targets
        assert best < first <= 24 and len(targets) <= TARGETS
        build_leaderboard(tmp_path / "counted-genes", tmp_path / "board")
        assert (tmp_path / "board" / "figures" / "ecdf-counted-genes.png").is_file()


def test_a_fractional_fitness_keeps_evenly_spaced_targets(tmp_path):
    runs = _runs(tmp_path, "sphere", 8)
    targets = fitness_targets(runs)
    assert len(targets) == TARGETS and not np.all(targets == np.round(targets))
    assert np.allclose(np.diff(targets), np.diff(targets)[0])
    curve = pd.DataFrame({"evaluations": [20, 40], "best": [targets[0], targets[-1]]})
    assert hitting_times(curve, targets, "min")[[0, -1]].tolist() == [20.0, 40.0]

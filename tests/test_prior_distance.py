"""Where best genomes lie against the prior: records, ``bench show`` and leaderboards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.campaign import Plan, run_campaign
from bench.leaderboard.build import compute
from bench.leaderboard.markdown_page import far_from_prior_notes
from bench.prior_distance import FAR_RMS_Z, far_threshold, genome_vs_prior, is_far
from bench.problem import GaussianPrior, Problem
from bench.registry import registered
from bench.results import BEST_GENOME, RECORD
from bench.runner import execute
from bench.spec import RunSpec


class Downhill(Problem):
    """Minimise the mean gene: no optimum, so a search that can grow its steps leaves the prior."""

    sense = "min"
    prior = GaussianPrior()

    def __init__(self, dim: int = 32):
        self.genome_shape = (dim,)

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        return genomes.mean(axis=1)


@pytest.mark.parametrize("dim", [100, 5000])
def test_a_draw_from_the_prior_lies_about_one_std_out(dim):
    rng = np.random.default_rng(0)
    prior = GaussianPrior(mean=2.0, std=3.0)
    figures = genome_vs_prior(prior.sample(rng, 1, dim)[0], prior)
    assert abs(figures["rms_z"] - 1.0) < 4 / np.sqrt(2 * dim)
    assert figures["beyond_3_std"] < 0.02
    assert figures["genes"] == dim
    assert figures["prior"] == {"mean": 2.0, "std": 3.0}
    grown = genome_vs_prior(2.0 + 1.6 * (prior.sample(rng, 1, dim)[0] - 2.0), prior)
    assert abs(grown["rms_z"] - 1.6) < 8 / np.sqrt(2 * dim)  # 1.6 times the prior's spread


def test_non_finite_genes_give_no_figures():
    figures = genome_vs_prior(np.array([0.0, np.nan]), GaussianPrior())
    assert figures["rms_z"] is None and figures["max_abs_z"] is None


def test_a_run_records_where_its_best_genome_lies(tmp_path, capsys):
    result = execute(RunSpec("sphere", "ga", budget=200, seed=1, problem_params={"dim": 6}))
    figures = result.record["best_vs_prior"]
    z = result.best_genome  # the sphere's prior is N(0, 1)
    assert figures["rms_z"] == pytest.approx(float(np.sqrt(np.mean(z**2))))
    assert figures["max_abs_z"] == pytest.approx(float(np.max(np.abs(z))))


def _campaign(folder):
    plan = Plan(
        problems=["downhill"],
        algorithms=["random", "pymoo:cmaes"],
        seeds=[0, 1],
        budget={"downhill": 300},
        algo_params={"random": {"batch": 20}, "pymoo:cmaes": {"popsize": 20, "batch": 20}},
    )
    run_campaign(plan, folder, progress=False)
    return folder


def test_leaderboards_name_algorithms_whose_best_genomes_leave_the_prior(tmp_path):
    with registered(problems={"downhill": Downhill}):
        board = compute(_campaign(tmp_path / "c"), tmp_path / "board")
        runs = board.runs
        for row in runs.itertuples():
            record = json.loads((tmp_path / "c" / "runs" / row.run_id / RECORD).read_text())
            assert row.prior_rms == record["best_vs_prior"]["rms_z"]
        rms = runs.groupby("algo")["prior_rms"].median()
        assert rms["pymoo:cmaes"] > FAR_RMS_Z  # CMA-ES grows its steps down a slope
        assert rms["random"] < FAR_RMS_Z  # the best of 300 prior draws stays near 1
        (note,) = far_from_prior_notes(board, board.problems[0])
        assert f"pymoo:cmaes ({rms['pymoo:cmaes']:.2f})" in note
        assert "random" not in note.split("; the others")[0]
        assert f"seldom reaches {far_threshold(32):.2f}" in note  # 32 genes: 1.40, not 1.25
        table = board.problems[0].table.set_index("algo")
        assert table.loc["pymoo:cmaes", "prior_rms"] == pytest.approx(rms["pymoo:cmaes"])


def _forget_prior_figures(folder):
    for run in (folder / "runs").iterdir():  # as runs recorded before best_vs_prior
        record = json.loads((run / RECORD).read_text())
        del record["best_vs_prior"]
        (run / RECORD).write_text(json.dumps(record))


def test_records_from_before_are_measured_from_their_best_genome(tmp_path):
    plan = Plan(
        problems=["sphere"], algorithms=["random", "ga"], seeds=[0, 1], budget=100,
        problem_params={"sphere": {"dim": 6}}, algo_params={"ga": {"population": 20}},
    )  # fmt: skip
    folder = tmp_path / "c"
    run_campaign(plan, folder, progress=False)
    _forget_prior_figures(folder)
    board = compute(folder, tmp_path / "board")
    for row in board.runs.itertuples():
        genome = np.load(folder / "runs" / row.run_id / BEST_GENOME)
        assert row.prior_rms == pytest.approx(float(np.sqrt(np.mean(genome**2))))
        assert board.records[row.run_id]["best_vs_prior"]["from"] == "leaderboard"


def test_records_from_before_of_a_problem_from_outside_the_suite_are_not_guessed(tmp_path):
    with registered(problems={"downhill": Downhill}):  # its prior could be set per instance
        folder = _campaign(tmp_path / "c")
        _forget_prior_figures(folder)
        board = compute(folder, tmp_path / "board")
    assert board.runs["prior_rms"].isna().all()
    assert far_from_prior_notes(board, board.problems[0]) == []


def test_short_genomes_are_held_to_what_prior_draws_of_their_length_reach():
    assert far_threshold(5000) == far_threshold(100) == FAR_RMS_Z
    assert far_threshold(10) == pytest.approx(1.72, abs=0.01)  # chi-square, 99.9 %
    rng = np.random.default_rng(np.random.SeedSequence(5))
    draws = [genome_vs_prior(g, GaussianPrior()) for g in rng.standard_normal((20_000, 10))]
    assert 5 <= sum(is_far(f) for f in draws) <= 45  # about 0.1 % of 20,000: 20
    assert sum(f["rms_z"] >= FAR_RMS_Z for f in draws) > 1000  # a fixed 1.25 flags ~10 %


class Mapped(Downhill):
    def fed_genomes(self, genomes):
        raise RuntimeError("device-side assert triggered")


def test_a_failing_fed_genomes_keeps_the_finished_run():
    with registered(problems={"mapped": Mapped}):
        record = execute(RunSpec("mapped", "random", budget=200, seed=0)).record
    assert record["status"] == "finished" and record["best_fitness"] is not None
    assert "best_vs_prior" not in record
    assert record["best_vs_prior_error"]["type"] == "RuntimeError"


def test_far_genomes_are_flagged_by_bench_show(tmp_path, capsys):
    from bench.cli import main

    with registered(problems={"downhill": Downhill}):
        code = main(
            ["run", "--problem", "downhill", "--algo", "pymoo:cmaes", "--budget", "300",
             "--set", "popsize=20", "--set", "batch=20", "--out", str(tmp_path)]
        )
    assert code in (0, None)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("prior"))
    assert "far from the prior" in line


def test_on_the_sphere_growing_latents_gains_nothing():
    from bench.problems.diversity import DiversityMnistRmse

    rng = np.random.default_rng(np.random.SeedSequence(3))
    genomes = rng.standard_normal((4, 5 * 100))
    scales = np.repeat(rng.uniform(1.5, 3.0, size=(4, 5)), 100, axis=1)  # per latent
    free = DiversityMnistRmse(k=5)
    assert (free.evaluate(genomes * scales) < free.evaluate(genomes) - 0.01).all()  # the gain
    sphere = DiversityMnistRmse(k=5, sphere=True)
    assert sphere.evaluate(genomes * scales) == pytest.approx(sphere.evaluate(genomes), abs=1e-5)
    fed = sphere.fed_genomes(genomes * scales).reshape(4, 5, 100)
    assert np.linalg.norm(fed, axis=2) == pytest.approx(np.full((4, 5), 10.0))
    assert sphere.describe()["sphere"] and not free.describe()["sphere"]


def test_a_run_on_the_sphere_records_the_latents_the_generator_saw():
    spec = RunSpec(
        "diversity-mnist-rmse", "pymoo:cmaes", budget=60, seed=0,
        problem_params={"k": 5, "sphere": True}, algo_params={"popsize": 20, "batch": 20},
    )  # fmt: skip
    record = execute(spec).record
    assert record["status"] == "finished", record.get("error")
    assert record["best_vs_prior"]["rms_z"] == pytest.approx(1.0, abs=1e-9)
    assert record["problem"]["sphere"] is True

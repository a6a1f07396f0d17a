"""Classes registered in a notebook or script (``bench.registry.registered``), no packaging."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.algorithm import Algorithm
from bench.campaign import CampaignError, Plan, load_campaign, run_campaign
from bench.distributed import on_cluster
from bench.problem import GaussianPrior, Problem
from bench.registry import DuplicateNameError, RegistryError, registered, registry
from bench.runner import execute
from bench.spec import RunSpec


class PriorSampler(Algorithm):
    """Samples of the problem's prior, ``lam`` at a time."""

    def __init__(self, space, seed, lam: int = 10):
        super().__init__(space, seed)
        self.lam = lam

    @property
    def batch_size(self) -> int:
        return self.lam

    def _ask(self) -> np.ndarray:
        return self.space.prior.sample(self.rng, self.lam, self.space.dim)

    def _tell(self, genomes, loss, measures) -> None:
        pass


class Abs(Problem):
    """Sum of absolute genes, minimised."""

    sense = "min"
    prior = GaussianPrior()

    def __init__(self, dim: int = 4):
        self.genome_shape = (dim,)

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        return np.abs(genomes).sum(axis=1)


def test_registered_algorithm_runs_and_says_where_it_came_from():
    with registered(algorithms={"prior-sampler": PriorSampler}):
        spec = RunSpec("sphere", "prior-sampler", budget=60, seed=3, algo_params={"lam": 20})
        first = execute(spec)
        again = execute(spec)
    assert first.record["status"] == "finished", first.record["error"]
    assert first.record["evaluations"] == 60
    assert first.record["best_fitness"] == again.record["best_fitness"]  # same seed, same run
    source = first.record["provenance"]["registered"]["algorithm"]
    assert source["target"] == f"{__name__}:PriorSampler"
    assert "registered in-process" in source["source"]
    assert "prior-sampler" not in registry("algorithms")  # gone after the block


def test_registered_problem_and_algorithm_run_a_campaign_in_process(tmp_path):
    plan = Plan(["abs", "sphere"], ["prior-sampler", "random"], [0, 1], budget=200)
    with registered(problems={"abs": Abs}, algorithms={"prior-sampler": PriorSampler}):
        summary = run_campaign(plan, tmp_path / "c", progress=False)
        table = load_campaign(tmp_path / "c")
    assert summary.failed == 0 and summary.ran == 8
    assert set(table["status"]) == {"finished"}
    records = [json.loads(p.read_text()) for p in (tmp_path / "c").rglob("record.json")]
    classes = {r["problem"]["class"] for r in records}
    assert f"{__name__}.Abs" in classes
    assert "abs" not in registry("problems")


def test_a_wrong_registration_is_refused_and_leaves_nothing_behind():
    with pytest.raises(RegistryError, match="an algorithm registration must name a subclass"):
        with registered(problems={"abs": Abs}, algorithms={"bad": Abs}):
            pass
    assert "abs" not in registry("problems")  # registered before the bad one, removed again
    with pytest.raises(DuplicateNameError, match="'ga' is taken by latent-bench"):
        with registered(algorithms={"ga": PriorSampler}):
            pass
    assert registry("algorithms").load("ga") is not PriorSampler
    with pytest.raises(RegistryError, match="letters, digits"):
        with registered(algorithms={"my/es": PriorSampler}):
            pass


def test_a_cluster_refuses_in_process_registrations_up_front():
    """A worker's registry has only entry points: every run would fail there as unknown."""
    with registered(algorithms={"prior-sampler": PriorSampler}):
        run_many = on_cluster(client=None)  # refused before the client is used
        specs = [RunSpec("sphere", "prior-sampler", budget=20)]
        with pytest.raises(CampaignError, match="'prior-sampler' registered in this process"):
            list(run_many(specs))


def test_a_cluster_refuses_an_in_process_generator_too():
    """A run naming it failed on every worker as 'unknown generator'."""
    from bench.generators.zoo import dcgan_mnist

    with registered(generators={"my-gen": dcgan_mnist}):
        run_many = on_cluster(client=None)
        params = {"k": 5, "generator": "my-gen"}
        specs = [RunSpec("diversity-mnist-rmse", "random", budget=20, problem_params=params)]
        with pytest.raises(CampaignError, match="'my-gen' registered in this process"):
            list(run_many(specs))


def test_the_cluster_refusal_leaves_a_new_campaign_folder_unwritten(tmp_path):
    plan = Plan(["sphere"], ["prior-sampler"], [0], budget=20)
    with registered(algorithms={"prior-sampler": PriorSampler}):
        with pytest.raises(CampaignError, match="registered in this process"):
            run_campaign(plan, tmp_path / "c", progress=False, run_many=on_cluster(client=None))
    assert not (tmp_path / "c" / "campaign.json").exists()


def test_a_folder_grown_in_python_says_so_when_resumed_from_the_command_line(tmp_path, capsys):
    from bench.cli import main

    plan = Plan(problems=["sphere"], algorithms=["random", "prior-sampler"], seeds=[0],
                budget=20, problem_params={"sphere": {"dim": 4}})  # fmt: skip
    with registered(algorithms={"prior-sampler": PriorSampler}):
        run_campaign(plan, tmp_path / "c", progress=False)
    assert main(["campaign", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "unknown algorithm 'prior-sampler'" in err and err.count("\n") == 1, err
    assert "runs of prior-sampler used a class registered in-process" in err
    assert "run_campaign(read_plan(folder), folder)" in err
    assert main(["campaign", "--problems", "sphere", "--algos", "nope", "--budget", "5",
                 "--out", str(tmp_path / "d")]) == 2  # fmt: skip
    assert "registered in-process" not in capsys.readouterr().err  # a typo is only a typo

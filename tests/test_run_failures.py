"""What a run records when a plugin misbehaves: failed runs, not tracebacks or silent garbage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from bench.problems import analytic

from bench.cli import main
from bench.leaderboard.provenance import gather
from bench.results import RECORD

RUN = ["run", "--problem", "sphere", "--algo", "random", "--budget", "40", "--no-progress"]
RUN += ["--set", "dim=4", "--set", "batch=10"]


def _only_record(folder: Path) -> dict:
    (run,) = [p for p in folder.iterdir() if (p / RECORD).is_file()]
    return json.loads((run / RECORD).read_text())


def test_a_problem_that_cannot_be_built_is_a_failed_run_in_bench_run(tmp_path, capsys, monkeypatch):
    """A KeyError in a plugin constructor gave a traceback and no record; campaigns had one."""

    def broken(self, *args, **kwargs):
        raise KeyError("missing")

    monkeypatch.setattr(analytic.Sphere, "__init__", broken)
    assert main([*RUN, "--out", str(tmp_path / "runs")]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "error      KeyError: 'missing'" in out, (out, err)
    record = _only_record(tmp_path / "runs")
    assert record["status"] == "failed" and record["error"]["type"] == "KeyError"
    assert "Traceback" in record["error"]["traceback"]  # kept in the record to debug the plugin
    assert record["provenance"]["registered"]["problem"]["name"] == "sphere"
    # a campaign records the same; its summary names the algorithm and the error's type
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "2"]
    assert main([*args, "--budget", "40", "--out", str(tmp_path / "c"), "--no-progress"]) == 1
    assert "  sphere × random (2 runs): KeyError: 'missing'" in capsys.readouterr().out


def test_a_misspelt_sense_fails_the_run_instead_of_maximising(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(analytic.Sphere, "sense", "minimize")
    assert main([*RUN, "--out", str(tmp_path)]) == 1
    record = _only_record(tmp_path)
    assert record["status"] == "failed" and record["evaluations"] == 0
    assert record["error"]["message"] == "Sphere.sense is 'minimize'; it must be 'min' or 'max'"


def test_describe_keeps_numbers_as_numbers(tmp_path, monkeypatch):
    """NumPy scalars and arrays in describe() were written as their str: '1.5', '[0 1 2]'."""
    described = {"scale": np.float32(1.5), "w": np.arange(3), "file": Path("/tmp/f")}
    monkeypatch.setattr(analytic.Sphere, "describe", lambda self: described)
    assert main([*RUN, "--out", str(tmp_path)]) == 0
    problem = _only_record(tmp_path)["problem"]
    assert (problem["scale"], problem["w"], problem["file"]) == (1.5, [0, 1, 2], "/tmp/f")


def test_records_name_the_plugin_and_the_leaderboard_counts_its_versions(tmp_path):
    assert main([*RUN, "--out", str(tmp_path)]) == 0
    registered = _only_record(tmp_path)["provenance"]["registered"]
    assert registered["algorithm"]["target"] == "bench.algorithms.random_sampling:RandomSampling"
    assert registered["algorithm"]["source"].startswith("latent-bench ")

    def record(version: str) -> dict:
        plugin = {"name": "my-es", "target": "myplug.algos:ES", "source": f"myplug {version}"}
        own = {"name": "sphere", "target": "x:Y", "source": "latent-bench 0.1.0"}
        return {"provenance": {"registered": {"problem": own, "algorithm": plugin}}}

    runs = pd.DataFrame({"problem": ["sphere"] * 3, "budget": [40] * 3, "seed": [0, 1, 2]})
    runs["wall_seconds"] = 1.0
    records = {"a": record("0.1.0"), "b": record("0.2.0"), "c": record("0.2.0")}
    packages = gather(runs, records)["packages"]
    assert packages["myplug"] == {"0.1.0": 1, "0.2.0": 2} and "latent-bench" not in packages


def test_a_run_without_a_valid_evaluation_is_failed_with_no_best(tmp_path, monkeypatch):
    """All NaN: it "finished" with best 1.79e308 (the stand-in worst); the board averaged it."""
    import warnings

    from bench.campaign import Plan, run_campaign
    from bench.leaderboard import build_leaderboard

    evaluate = analytic.Sphere.evaluate

    def nan_when_told(self, genomes):
        if os.environ.get("ALL_NAN") == "1":
            return np.full(len(genomes), np.nan)
        return evaluate(self, genomes)

    monkeypatch.setattr(analytic.Sphere, "evaluate", nan_when_told)
    plan = Plan(["sphere"], ["random", "ga"], [0, 1, 2], 100, {"sphere": {"dim": 4}},
                {"random": {"batch": 10}, "ga": {"population": 10}})
    random_params = {"random": plan.algo_params["random"]}
    random_only = Plan(**{**plan.to_dict(), "algorithms": ["random"], "algo_params": random_params})
    run_campaign(random_only, tmp_path / "c", progress=False)
    monkeypatch.setenv("ALL_NAN", "1")
    summary = run_campaign(plan, tmp_path / "c", progress=False, force=True)
    assert (summary.ran, summary.failed) == (3, 3)
    runs = sorted((tmp_path / "c" / "runs").iterdir())
    records = {run: json.loads((run / RECORD).read_text()) for run in runs}
    nan_runs = {run: r for run, r in records.items() if r["spec"]["algo"] == "ga"}
    assert len(nan_runs) == 3
    for run, record in nan_runs.items():
        counts = (record["status"], record["evaluations"], record["nonfinite"])
        assert counts == ("failed", 100, 100)
        assert record["best_fitness"] is None and not (run / "best_genome.npy").exists()
        assert record["error"]["type"] == "NoValidEvaluation"
        assert "none of the 100 evaluations was valid" in record["error"]["message"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the mean of 1.8e308s overflowed
        board = build_leaderboard(tmp_path / "c", tmp_path / "board")
    (sphere,) = board.problems
    table = sphere.table.set_index("algo")
    assert (table.loc["ga", "failed"], table.loc["random", "finished"]) == (3, 3)
    assert sphere.best == "random"

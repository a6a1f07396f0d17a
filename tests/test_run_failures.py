"""What a run records when a plugin misbehaves: failed runs, not tracebacks or silent garbage."""

from __future__ import annotations

import json
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

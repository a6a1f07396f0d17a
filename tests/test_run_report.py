"""The per-run report hook: a problem's own figures about the best genome, in the record."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bench.runner
from bench.problem import Problem
from bench.results import RECORD, flat_row, load_run_folders
from bench.runner import execute
from bench.spec import RunSpec


class ShiftedSphere(Problem):
    """Sphere around ``centre``; its report measures the best genome's distance to the centre."""

    sense = "min"

    def __init__(self, dim: int = 4, fail: bool = False, not_a_dict: bool = False):
        self.genome_shape = (dim,)
        self.centre = np.linspace(-1.0, 1.0, dim)
        self.fail, self.not_a_dict = fail, not_a_dict
        self.reported: list[np.ndarray] = []

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        return ((genomes - self.centre) ** 2).sum(axis=1)

    def report(self, genomes: np.ndarray) -> dict:
        self.reported.append(genomes.copy())
        if self.fail:
            raise RuntimeError("the judge is out for lunch")
        if self.not_a_dict:
            return [1, 2]  # type: ignore[return-value]
        dist = np.linalg.norm(genomes[0] - self.centre)
        return {
            "distance": np.float32(dist),  # NumPy scalars are stored as plain numbers
            "close": np.bool_(dist < 10.0),
            "label": "shifted",
            "missing": None,
            "per_gene": np.abs(genomes[0] - self.centre),  # arrays become lists, not columns
        }


def _run(monkeypatch, problem: Problem, budget: int = 60):
    monkeypatch.setattr(bench.runner, "build_problem", lambda spec: problem)
    return execute(RunSpec("sphere", "random", budget=budget, seed=2, algo_params={"batch": 20}))


def test_report_of_the_best_genome_is_recorded_and_flattened(monkeypatch, tmp_path):
    problem = ShiftedSphere()
    result = _run(monkeypatch, problem)
    record = result.record
    assert record["status"] == "finished" and "report_error" not in record
    assert len(problem.reported) == 1  # once, on the best genome only
    np.testing.assert_array_equal(problem.reported[0], result.best_genome[None])
    report = record["report"]
    assert report["distance"] == pytest.approx(np.sqrt(record["best_fitness"]), rel=1e-6)
    assert type(report["distance"]) is float and report["close"] is True
    assert report["per_gene"] == pytest.approx(list(np.abs(result.best_genome - problem.centre)))
    folder = result.save(tmp_path / "runs" / "r1")
    assert json.loads((folder / RECORD).read_text())["report"] == report
    row = flat_row(record)
    assert row["report_distance"] == report["distance"] and row["report_close"] is True
    assert row["report_label"] == "shifted" and row["report_missing"] is None
    assert "report_per_gene" not in row
    table = load_run_folders([folder])
    assert table.loc[0, "report_distance"] == report["distance"]
    assert list(table.columns[-4:]) == [
        "report_close", "report_distance", "report_label", "report_missing"
    ]


@pytest.mark.parametrize(
    ("kwargs", "error_type", "message"),
    [
        ({"fail": True}, "RuntimeError", "out for lunch"),
        ({"not_a_dict": True}, "TypeError", "returned list, not a dict"),
    ],
)
def test_a_failing_report_is_kept_as_data(monkeypatch, kwargs, error_type, message):
    result = _run(monkeypatch, ShiftedSphere(**kwargs))
    record = result.record
    assert record["status"] == "finished" and record["error"] is None
    assert record["evaluations"] == 60 and record["best_fitness"] is not None
    assert "report" not in record
    assert record["report_error"]["type"] == error_type
    assert message in record["report_error"]["message"]
    assert not any(key.startswith("report_") for key in flat_row(record))


def test_default_report_is_empty_and_failed_runs_get_none(monkeypatch):
    from bench.testing import ProbeSphere

    assert _run(monkeypatch, ProbeSphere(4)).record["report"] == {}

    class Exploding(ShiftedSphere):
        def evaluate(self, genomes):
            raise RuntimeError("boom")

    problem = Exploding()
    record = _run(monkeypatch, problem).record
    assert record["status"] == "failed" and "report" not in record and problem.reported == []

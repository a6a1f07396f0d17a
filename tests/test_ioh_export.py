"""Improvements evaluation by evaluation, and their export as IOHprofiler data.

The export is read back with iohinspector, IOHprofiler's own Python reader, so the
files are checked against the format's reference, not against our writer.
"""

import json

import iohinspector
import numpy as np
import pandas as pd
import pytest

from bench.campaign import Plan, run_campaign
from bench.cli import main
from bench.evaluator import BudgetEvaluator
from bench.ioh_export import traced_runs, write_ioh
from bench.problem import Problem
from bench.registry import registered
from bench.results import IMPROVEMENTS, load_record, read_curve, read_improvements
from bench.spec import SpecError
from bench.testing import ProbeSphere

WORST = np.finfo(np.float64).max


class Scripted(Problem):
    """Hands out the given fitness values in order, one per genome."""

    def __init__(self, values, sense):
        self.genome_shape = (2,)
        self.sense = sense
        self.values = np.asarray(values, dtype=np.float64)
        self.given = 0

    def evaluate(self, genomes):
        out = self.values[self.given : self.given + len(genomes)].copy()
        self.given += len(genomes)
        return out


class Score(ProbeSphere):
    """A problem to maximise: minus the sphere."""

    sense = "max"

    def evaluate(self, genomes):
        return -super().evaluate(genomes)


def _brute_force(values, sense):
    """Evaluation 1 and each later one strictly better than all before it."""
    worst = WORST if sense == "min" else -WORST
    clean = np.where(np.isfinite(values), values, worst)
    loss = clean if sense == "min" else -clean
    return [
        (i + 1, float(clean[i]), bool(np.isfinite(values[i])))
        for i in range(len(loss))
        if i == 0 or loss[i] < loss[:i].min()
    ]


@pytest.mark.parametrize("sense", ["min", "max"])
def test_improvements_are_those_of_every_single_evaluation(sense):
    values = [np.nan, 5, 7, 3, 3, 4, 1, np.nan, 0.5, 2, 9, 9, -1]
    problem = Scripted(values, sense)
    evaluator = BudgetEvaluator(problem, budget=len(values))
    for size in (3, 4, 1, 5):  # improvements inside batches and at their edges
        evaluator(np.zeros((size, 2)))
    expected = _brute_force(np.array(values), sense)
    assert evaluator.improvements == expected
    assert evaluator.improvements[-1][1] == evaluator.best_fitness
    if sense == "min":
        assert [e for e, _, _ in expected] == [1, 2, 4, 7, 9, 13]
    else:
        assert [e for e, _, _ in expected] == [1, 2, 3, 11]
    assert [v for _, _, v in expected] == [False] + [True] * (len(expected) - 1)


def _campaign(tmp_path):
    plan = Plan(
        problems=["sphere", "score"], algorithms=["random", "ga"], seeds=[0, 1], budget=300,
        problem_params={"sphere": {"dim": 6}, "score": {"dim": 6}},
        algo_params={"random": {"batch": 25}, "ga": {"population": 20}},
    )
    run_campaign(plan, tmp_path / "c", progress=False)
    return tmp_path / "c"


@pytest.fixture
def campaign(tmp_path):
    with registered(problems={"score": Score}):
        yield _campaign(tmp_path)


def _folders(campaign):
    return sorted(p for p in (campaign / "runs").iterdir() if (p / "record.json").is_file())


def test_a_run_keeps_its_improvements_in_step_with_its_curve(campaign):
    for folder in _folders(campaign):
        record, table = load_record(folder), read_improvements(folder)
        steps = table["evaluation"].to_numpy()
        assert steps[0] == 1 and (np.diff(steps) > 0).all() and steps[-1] <= 300
        assert table["fitness"].iloc[-1] == record["best_fitness"]
        gains = -np.diff(table["fitness"]) if record["problem"]["sense"] == "min" else np.diff(
            table["fitness"]
        )
        assert (gains > 0).all(), "every row after the first must improve on the one before"
        for row in read_curve(folder).itertuples():  # the curve's best at each batch's end
            last = table[table["evaluation"] <= row.evaluations]["fitness"].iloc[-1]
            assert last == row.best, (folder.name, row.evaluations)


def test_iohinspector_reads_back_every_run(campaign, tmp_path):
    runs, left_out = traced_runs(campaign)
    assert len(runs) == 8 and left_out == []
    export = write_ioh(runs, tmp_path / "ioh")
    assert export.functions == {"score": 1, "sphere": 2}
    manager = iohinspector.DataManager()
    manager.add_folder(str(tmp_path / "ioh"))
    overview = manager.overview.to_pandas()
    assert len(overview) == 8
    for data_set in manager.data_sets:
        name = data_set.function.name
        assert data_set.function.id == export.functions[name]
        assert data_set.function.maximization == (name == "score")
        assert data_set.suite == "latent-bench"
    by_key = {(r.problem, r.algo, r.seed): r for r in runs}
    for data_set in manager.data_sets:
        algo, problem = data_set.algorithm.name, data_set.function.name
        (scenario,) = data_set.scenarios
        assert scenario.dimension == 6
        loaded = scenario.load(monotonic=False).to_pandas()
        for run in scenario.runs:
            ours = by_key[problem, algo, run.id - 1]  # seeds 0, 1 in order
            record = load_record(campaign / "runs" / ours.run_id)
            assert run.evals == record["evaluations"] == 300
            assert run.best.y == record["best_fitness"]
            genome = np.load(campaign / "runs" / ours.run_id / "best_genome.npy")
            assert np.array_equal(np.array(run.best.x), genome)
            rows = loaded[loaded["run_id"] == run.id]
            table = read_improvements(campaign / "runs" / ours.run_id)
            expected_steps = table["evaluation"].tolist()
            expected_y = table["fitness"].tolist()
            if expected_steps[-1] < 300:  # the run's length closes its block
                expected_steps.append(300)
                expected_y.append(expected_y[-1])
            assert rows["evaluations"].tolist() == expected_steps
            assert rows["raw_y"].tolist() == expected_y  # every digit survives
            assert run.best.evals == table["evaluation"].iloc[-1]
    readme = (tmp_path / "ioh" / "README.md").read_text()
    assert "| 1 | score | max | 6 | 4 |" in readme and "| 2 | sphere | min | 6 | 4 |" in readme


def test_large_genomes_leave_their_position_out(campaign, tmp_path, monkeypatch):
    monkeypatch.setattr("bench.ioh_export.MAX_POSITION_GENES", 5)
    runs, _ = traced_runs(campaign, problems=("sphere",), algos=("ga",))
    assert {(r.problem, r.algo) for r in runs} == {("sphere", "ga")}
    write_ioh(runs, tmp_path / "ioh")
    data = json.loads((tmp_path / "ioh" / "ga" / "IOHprofiler_f1_sphere.json").read_text())
    assert [run["best"]["x"] for run in data["scenarios"][0]["runs"]] == [[], []]


def test_runs_without_improvements_are_left_out_with_the_reason(campaign, tmp_path, capsys):
    old = _folders(campaign)[0]
    (old / IMPROVEMENTS).unlink()  # as a run recorded before 2 December 2026
    runs, left_out = traced_runs(campaign)
    assert len(runs) == 7 and len(left_out) == 1
    assert old.name in left_out[0] and "bench verify" in left_out[0]
    assert main([*"export-ioh".split(), str(campaign), "--out", str(tmp_path / "ioh")]) == 0
    out = capsys.readouterr().out
    assert "left out" in out and "exported   7 runs" in out
    assert old.name in (tmp_path / "ioh" / "README.md").read_text()


def test_unusable_sources_and_outputs_are_usage_errors(campaign, tmp_path, capsys):
    board = tmp_path / "board"
    (board / "tables").mkdir(parents=True)
    pd.DataFrame({"run_id": ["x"]}).to_parquet(board / "tables" / "runs.parquet")
    with pytest.raises(SpecError, match=r"bench verify .* --out DIR"):
        traced_runs(board)
    with pytest.raises(SpecError, match="holds no recorded run"):
        traced_runs(tmp_path / "nowhere")
    with pytest.raises(SpecError, match="has problem sphre; its runs have: score, sphere"):
        traced_runs(campaign, problems=("sphre",))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    runs, _ = traced_runs(campaign)
    with pytest.raises(SpecError, match="not an empty folder"):
        write_ioh(runs, taken)
    assert main(["export-ioh", str(board), "--out", str(tmp_path / "o")]) == 2
    assert main(["export-ioh", str(campaign), "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.count("bench: error:") == 2 and "Traceback" not in err
    for folder in _folders(campaign):
        (folder / IMPROVEMENTS).unlink()
    assert main(["export-ioh", str(campaign), "--out", str(tmp_path / "none")]) == 1
    assert "exported   nothing" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()


def _best_at(table, grid):
    """Best so far at each grid count from (evaluations, best) steps; NaN before the first."""
    idx = np.searchsorted(table.iloc[:, 0].to_numpy(), grid, side="right") - 1
    return np.where(idx >= 0, table.iloc[:, 1].to_numpy()[np.clip(idx, 0, None)], np.nan)


def test_the_board_times_runs_by_their_improvements_and_exports_them(campaign, tmp_path):
    from bench.leaderboard.figures import anytime_table, evaluation_grid
    from bench.leaderboard.runs import load_runs

    runs, _ = load_runs(campaign)
    sphere = runs[runs["problem"] == "sphere"]
    grid = evaluation_grid(300)
    assert np.array_equal(grid, np.round(grid)) and grid[-1] == 300

    def medians(read):
        out = {}
        for algo, g in sphere.groupby("algo"):
            values = [_best_at(read(campaign / "runs" / r), grid) for r in g["run_id"]]
            out[algo] = np.median(np.stack(values)[:, 1:], axis=0)  # from evaluation 1 on
        return out

    table = anytime_table(sphere)
    exact = medians(read_improvements)
    for algo, median in exact.items():
        ours = table[table["algo"] == algo]["median"].to_numpy()
        assert np.allclose(ours[1:], median), algo
    batched = medians(lambda f: read_curve(f)[["evaluations", "best"]])
    assert any(not np.allclose(exact[a], batched[a], equal_nan=True) for a in exact), (
        "improvements should time the runs more finely than batches"
    )
    # one run without improvements: every run falls back to its batches
    (campaign / "runs" / sphere["run_id"].iloc[0] / IMPROVEMENTS).unlink()
    fallback = anytime_table(sphere)
    for algo, median in batched.items():
        ours = fallback[fallback["algo"] == algo]["median"].to_numpy()
        assert np.allclose(ours[1:], median, equal_nan=True), algo


def test_a_board_exports_as_its_runs_do(campaign, tmp_path):
    from bench.leaderboard import build_leaderboard

    board = tmp_path / "board"
    build_leaderboard(campaign, board)
    assert "bench export-ioh" in (board / "README.md").read_text()
    assert "<code>bench verify" in (board / "index.html").read_text()
    from_board, _ = traced_runs(board)
    from_runs, _ = traced_runs(campaign)
    write_ioh(from_board, tmp_path / "a")
    write_ioh(from_runs, tmp_path / "b")
    for dat in sorted((tmp_path / "b").rglob("*.dat")):
        assert dat.read_text() == (tmp_path / "a" / dat.relative_to(tmp_path / "b")).read_text()
    for meta in sorted((tmp_path / "b").rglob("*.json")):
        ours = json.loads(meta.read_text())
        theirs = json.loads((tmp_path / "a" / meta.relative_to(tmp_path / "b")).read_text())
        for run in ours["scenarios"][0]["runs"]:
            run["best"]["x"] = []  # a board keeps no genomes
        assert ours == theirs
    assert len(list((tmp_path / "a").rglob("*.dat"))) == 4  # 2 algorithms × 2 problems

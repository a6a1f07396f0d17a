"""Archive snapshots: their points, their storage as changes, old files, and ``bench archive``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.archive import PassiveArchive, snapshot_cells, snapshot_points, snapshot_summary
from bench.campaign import Plan, run_campaign
from bench.cli import main
from bench.evaluator import BudgetEvaluator
from bench.leaderboard import build_leaderboard, figures
from bench.problem import MeasureSpace
from bench.registry import registered
from bench.results import ARCHIVE, read_archive
from bench.runner import execute
from bench.spec import RunSpec
from bench.testing import ProbeMeasures


def _fill(archive: PassiveArchive, budget: int, batch: int, seed: int = 0) -> None:
    """Offer ``budget`` random evaluations in batches of ``batch`` (the last one cut)."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < budget:
        n = min(batch, budget - done)
        archive.add(rng.random(n), rng.uniform(-3, 3, (n, 2)))
        done += n


@pytest.mark.parametrize(
    ("budget", "batch", "expected"),
    [
        (25_000, 1, [1, *range(1000, 25_001, 1000)]),
        (25_000, 50, [50, *range(1000, 25_001, 1000)]),
        (500, 1, [1, *range(20, 501, 20)]),
        (500, 50, list(range(50, 501, 50))),  # every batch reaches a point
        (100, 1, [1, *range(4, 101, 4)]),
        (100, 50, [50, 100]),
    ],
)
def test_snapshots_follow_the_first_batch_and_every_4_percent(budget, batch, expected):
    evaluator = BudgetEvaluator(ProbeMeasures(), budget)
    _fill(evaluator.archive, budget, batch)
    assert [n for n, _ in evaluator.archive.snapshots] == expected


def test_snapshot_points_include_the_studys_iterations():
    points = snapshot_points(25_000)
    assert points[:3] == [1, 1000, 2000] and len(points) == 26
    assert {12_000, 25_000} <= set(points)
    assert snapshot_points(7) == [1, 2, 3, 4, 5, 6, 7]  # small budgets: no repeats
    assert snapshot_points(1001)[-1] == 1001 and snapshot_points(0) == []


def _old_layout(archive: PassiveArchive) -> dict[str, np.ndarray]:
    """The arrays as files written before stored them: every filled cell at every snapshot."""
    parts = [cells for _, cells in archive.snapshots]
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("index", "objective", "found_at")}
    out["snapshot"] = np.repeat(np.arange(len(parts)), [len(p["index"]) for p in parts])
    new = archive.snapshot_arrays()
    return {**{k: new[k] for k in ("bins", "ranges", "offset", "evaluations")}, **out}


def test_the_file_stores_changes_and_rebuilds_every_snapshot():
    archive = PassiveArchive.for_problem(ProbeMeasures(), 2000)
    _fill(archive, 2000, 10)
    arrays = archive.snapshot_arrays()
    assert len(arrays["evaluations"]) == 26
    old = _old_layout(archive)
    assert len(arrays["index"]) < len(old["index"]) / 3, "changes only, not every cell each time"
    for position, (_, cells) in enumerate(archive.snapshots):
        for data in (arrays, old):  # the new layout and files written before read alike
            rebuilt = snapshot_cells(data, position)
            order = np.argsort(cells["index"])
            for key in ("index", "objective", "found_at"):
                np.testing.assert_array_equal(rebuilt[key], cells[key][order])
    last = snapshot_summary(arrays, "min")[-1]
    assert last["cells"] == archive.stats()["elites"]
    assert last["qd_score"] == pytest.approx(archive.stats()["qd_score"])
    assert last["coverage"] == pytest.approx(archive.stats()["coverage"])
    assert snapshot_summary(arrays, "min") == snapshot_summary(old, "min")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A saved run with an archive (ProbeMeasures × random) and one without (sphere)."""
    out = tmp_path_factory.mktemp("runs")
    with registered(problems={"probe-measures": ProbeMeasures}):
        spec = RunSpec("probe-measures", "random", budget=100, algo_params={"batch": 10})
        measured = execute(spec, progress=False).save(out / "measured")
    plain = RunSpec("sphere", "random", 20, problem_params={"dim": 4}, algo_params={"batch": 10})
    return {"measured": measured, "plain": execute(plain, progress=False).save(out / "plain")}


def test_the_command_prints_the_snapshots_and_draws_the_nearest(runs, tmp_path, capsys):
    png = tmp_path / "figs" / "map.png"
    assert main(["archive", str(runs["measured"]), "--at", "0,47,100", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line[:1] in "* " and line[2:3] == " "]
    rows = [line.split() for line in table]  # the heading starts "  evaluations"
    assert [int(r[-5]) for r in rows] == list(range(10, 101, 10))
    assert [int(r[1]) for r in rows if r[0] == "*"] == [10, 50, 100]  # nearest to 0, 47, 100
    assert "first gene, last gene" in out and "snapshots at 10, 50, 100 evaluations" in out
    with Image.open(png) as image:
        assert image.size[0] > 3 * 150  # three panels side by side


def test_the_command_defaults_to_first_middle_and_last(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["archive", str(runs["measured"])]) == 0
    assert "snapshots at 10, 50, 100 evaluations" in capsys.readouterr().out
    assert (tmp_path / "measured-archive.png").is_file()


def test_the_command_reads_an_old_three_snapshot_file(runs, tmp_path, capsys):
    archive = PassiveArchive.for_problem(ProbeMeasures(), 100)
    archive._checkpoints = [1, 50, 100]  # as runs snapshotted before
    _fill(archive, 100, 10)
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "record.json").write_text((runs["measured"] / "record.json").read_text())
    np.savez_compressed(folder / ARCHIVE, **_old_layout(archive))
    assert main(["archive", str(folder), "--out", str(tmp_path / "old.png")]) == 0
    out = capsys.readouterr().out
    assert "snapshots at 10, 50, 100 evaluations" in out
    assert f"{archive.stats()['elites']:>6}" in out.splitlines()[-2]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["{plain}"], "has no archive.npz: only runs on a problem with measures"),
        (["{measured}", "--at", "0,101"], "--at 101 is beyond the run's budget of 100"),
        (["{measured}", "--out", "map.txt"], "--out map.txt: give a file ending in one of"),
        (["{measured}/nowhere"], "does not exist; give a run folder"),
        (["{measured}/.."], "is not a run folder (no record.json)"),
    ],
)
def test_command_errors_are_one_line(runs, capsys, argv, words):
    argv = [a.format(**{k: str(v) for k, v in runs.items()}) for a in argv]
    assert main(["archive", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_malformed_counts_are_usage_errors(runs, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["archive", str(runs["measured"]), "--at", "0,-5"])
    assert exit_.value.code == 2 and "0 or more" in capsys.readouterr().err


def test_the_leaderboard_caption_names_the_counts_drawn(runs, tmp_path):
    record_runs = pd.DataFrame([{
        "algo": "random", "status": "finished", "qd_score": 1.0, "seed": 0, "sense": "min",
        "path": str(runs["measured"]), "run_id": "r",
    }])  # fmt: skip
    path, caption, _ = figures.archive_figure(record_runs, {}, tmp_path / "a.png")
    assert path is not None and path.is_file()
    assert "random seed 0 (10, 50 and 100 evaluations)" in caption
    data = read_archive(runs["measured"])
    assert figures.default_snapshots(data["evaluations"]) == [0, 4, 9]
    assert figures.default_snapshots(np.array([50, *range(1000, 25_001, 1000)]))[1] == 12
    assert figures.default_snapshots(np.array([50, 12_500, 25_000])) == [0, 1, 2]
    assert figures.default_snapshots(np.array([20, 40, 60])) == [0, 1, 2]  # 40, not 20 again
    assert figures.default_snapshots(np.array([50, 100])) == [0, 1]


def test_the_leaderboard_pages_say_which_counts_they_show(tmp_path):
    with registered(problems={"probe-measures": ProbeMeasures}):
        plan = Plan(["probe-measures"], ["random"], [0, 1, 2], 60, {}, {"random": {"batch": 20}})
        run_campaign(plan, tmp_path / "c", progress=False)
        board = build_leaderboard(tmp_path / "c", tmp_path / "lb")
    markdown = (board.out / "README.md").read_text()
    html = (board.out / "problem-probe-measures.html").read_text()
    assert "(20, 40 and 60 evaluations)." in markdown and "start, middle" not in markdown
    assert "(20, 40 and 60 evaluations)" in html


def test_a_failed_run_says_it_failed_not_that_its_problem_keeps_no_archive(runs, tmp_path, capsys):
    folder = tmp_path / "failed"
    folder.mkdir()
    record = json.loads((runs["measured"] / "record.json").read_text())
    record.update(status="failed", error={"type": "ValueError", "message": "x", "traceback": ""})
    (folder / "record.json").write_text(json.dumps(record))
    assert main(["archive", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a failed run (ValueError), which saves no archive.npz" in err


def _grid(bins: int, cells: list[tuple[int, int, int]]) -> dict[str, np.ndarray]:
    """Archive arrays of a ``bins × bins`` grid on [0, 1]²: ``(snapshot, i, j)`` cells filled."""
    index = np.array([i * bins + j for _, i, j in cells])
    return {
        "bins": np.array([bins, bins]),
        "ranges": np.array([[0.0, 1.0], [0.0, 1.0]]),
        "offset": np.array(0.0),
        "evaluations": np.array([10, 20]),
        "index": index,
        "objective": -np.linspace(0.1, 0.9, len(cells)),
        "found_at": np.arange(1, len(cells) + 1),
        "snapshot": np.array([s for s, _, _ in cells]),
    }


def test_the_zoom_spans_every_drawn_filled_cell_with_a_margin(tmp_path):
    data = _grid(100, [(0, 40, 70), (0, 41, 71), (1, 42, 75)])
    first = figures.ArchiveRow("first", data, [0], ["mean", "max"])
    both = figures.ArchiveRow("both", data, [0, 1], ["mean", "max"])
    # cells 40..41 × 70..71, two cells more each side: [0.38, 0.44] × [0.68, 0.74]
    np.testing.assert_allclose(figures.filled_extent([first]), [(0.38, 0.44), (0.68, 0.74)])
    np.testing.assert_allclose(figures.filled_extent([both]), [(0.38, 0.45), (0.68, 0.78)])
    edge = figures.ArchiveRow("edge", _grid(100, [(0, 0, 99)]), [0], [])
    np.testing.assert_allclose(figures.filled_extent([edge]), [(0.0, 0.03), (0.97, 1.0)])
    empty = figures.ArchiveRow("empty", _grid(100, [(1, 5, 5)]), [0], [])
    assert figures.filled_extent([empty]) is None


def test_the_leaderboard_zooms_a_small_map_only(tmp_path):
    small = figures.ArchiveRow("ga", _grid(100, [(0, 40, 70), (1, 42, 75)]), [0, 1], ["a", "b"])
    caption = figures._zoom_caption([small])
    assert caption.startswith("The same panels zoomed to the cells filled in any of them (0.7% ")
    assert "a 0.38 to 0.45 (of 0 to 1) and b 0.68 to 0.78 (of 0 to 1)" in caption
    wide = figures.ArchiveRow("ga", _grid(10, [(0, 1, 1), (1, 8, 8)]), [0, 1], ["a", "b"])
    assert figures._zoom_caption([wide]) == ""  # the filled cells span the whole grid
    path = figures.draw_archive([small], "min", tmp_path / "z.png", zoom=True)
    with Image.open(path) as image:
        assert image.size[0] > 2 * 150


def test_the_command_zooms_on_request(runs, tmp_path, capsys):
    png = tmp_path / "zoom.png"
    assert main(["archive", str(runs["measured"]), "--zoom", "--out", str(png)]) == 0
    assert "evaluations, zoomed to the filled cells)" in capsys.readouterr().out
    assert png.is_file()


class WideProbe(ProbeMeasures):
    """``ProbeMeasures`` on a grid so wide that N(0, 1) genes fill a small middle of it."""

    measure_space = MeasureSpace(
        names=("first gene", "last gene"), ranges=((-50.0, 50.0), (-50.0, 50.0)), bins=(100, 100)
    )


def test_the_leaderboard_pages_add_a_zoomed_heatmap_of_a_small_map(tmp_path):
    problems = {"probe-wide": WideProbe, "probe-measures": ProbeMeasures}
    with registered(problems=problems):
        plan = Plan(list(problems), ["random"], [0, 1], 60, {}, {"random": {"batch": 20}})
        run_campaign(plan, tmp_path / "c", progress=False)
        board = build_leaderboard(tmp_path / "c", tmp_path / "lb")
    assert "archive-zoom-probe-measures" not in board.figures  # its map spans its grid
    zoom = board.figures["archive-zoom-probe-wide"]
    assert zoom == "figures/archive-zoom-probe-wide.png" and (board.out / zoom).is_file()
    caption = board.captions["archive-zoom-probe-wide"]
    assert "zoomed to the cells filled in any of them" in caption and "(of -50 to 50)" in caption
    markdown = (board.out / "README.md").read_text()
    assert f"![Archive heatmaps, zoomed: probe-wide]({zoom})" in markdown
    assert zoom in (board.out / "problem-probe-wide.html").read_text()


def _cluster(stray: bool) -> dict[str, np.ndarray]:
    """A 100 × 100 grid with 15 × 15 cells filled at 40..54 × 70..84, and perhaps (99, 99)."""
    cells = [(0, i, j) for i in range(40, 55) for j in range(70, 85)]
    return _grid(100, cells + ([(1, 99, 99)] if stray else []))


def test_a_stray_cell_far_from_the_rest_is_left_out_of_the_zoom_and_named():
    plain = figures.ArchiveRow("ga", _cluster(stray=False), [0, 1], ["a", "b"])
    strayed = figures.ArchiveRow("cmaes", _cluster(stray=True), [0, 1], ["a", "b"])
    expected = [(0.38, 0.57), (0.68, 0.87)]  # 40..54 and 70..84, two cells more each side
    np.testing.assert_allclose(figures.filled_extent([plain]), expected)
    np.testing.assert_allclose(figures.filled_extent([plain, strayed]), expected)
    assert figures.stray_cells([plain]) == 0 and figures.stray_cells([plain, strayed]) == 1
    caption = figures._zoom_caption([plain, strayed])
    assert "; 1 stray cell more than 5 cells from the rest lie outside" in caption
    # cells next to the rest are never stray, however few: the view walks out to them
    near = _grid(100, [(0, i, j) for i in range(40, 55) for j in range(70, 85)] + [(1, 58, 86)])
    row = figures.ArchiveRow("near", near, [0, 1], [])
    np.testing.assert_allclose(figures.filled_extent([row]), [(0.38, 0.61), (0.68, 0.89)])
    assert figures.stray_cells([row]) == 0


def test_colours_leave_out_one_extreme_cell_and_say_so():
    fitness = np.r_[np.linspace(0.55, 0.65, 300), 1.0]
    (low, high), extend = figures._colour_limits(fitness)
    assert 0.55 < low < 0.552 and 0.648 < high < 0.65 and extend == "both"  # 3 cells a side
    (low, high), extend = figures._colour_limits(np.array([0.2, 0.3, 0.9]))
    assert (low, high, extend) == (0.2, 0.9, "neither")  # few cells: every one in the scale

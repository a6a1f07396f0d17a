"""The leaderboard of a small real campaign with failed and pending runs."""

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_campaign import make_campaign
from measured_problems import MeasuredSphere
from PIL import Image

from bench.archive import snapshot_cells
from bench.campaign import Plan, load_campaign, run_campaign
from bench.cli import main
from bench.leaderboard import build_leaderboard
from bench.registry import Entry, registry
from bench.results import read_archive

PROVENANCE = ("commit", "packages", "weights (sha256)", "budget", "seeds", "hardware")


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    campaign = make_campaign(tmp_path_factory.mktemp("campaign") / "c")
    return build_leaderboard(campaign, tmp_path_factory.mktemp("board") / "lb")


class Links(HTMLParser):
    """Every href/src of a page, the number of tables and the text."""

    def __init__(self):
        super().__init__()
        self.links, self.tables, self.text = [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tables += tag == "table"
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Links:
    page = Links()
    page.feed(path.read_text())
    return page


def test_unfinished_runs_are_counted_not_dropped(board):
    sphere, rastrigin = (r.table.set_index("algo") for r in board.problems)
    cols = ["planned", "finished", "failed", "pending"]
    assert sphere.loc["ga", cols].tolist() == [3, 0, 3, 0]
    assert sphere.loc["ga", "verdict"] == "no finished runs"
    assert sphere.loc["random", cols].tolist() == [3, 3, 0, 0]
    assert rastrigin.loc["ga", cols].tolist() == [3, 1, 0, 2]
    assert rastrigin.loc["cma-me", cols].tolist() == [3, 0, 0, 3]
    runs = pd.read_csv(board.out / "tables" / "runs.csv")
    assert len(runs) == 18
    assert runs["status"].value_counts().to_dict() == {"finished": 10, "failed": 3, "pending": 5}
    assert "dlib_distance" not in runs and "baseline" not in runs  # face columns: no face here


def test_pages_say_which_runs_are_missing_and_why(board):
    sphere = "".join(parse(board.out / "problem-sphere.html").text)
    assert sphere.count("ga, seed") == 3 and "budget 30 is smaller than one batch" in sphere
    rastrigin = "".join(parse(board.out / "problem-rastrigin.html").text)
    assert "ga, seed 1: pending" in rastrigin and "cma-me, seed 2: pending" in rastrigin
    md = (board.out / "README.md").read_text()
    assert "10 finished" in md and "3 failed" in md and "5 pending" in md
    assert "- ga, seed 0: failed: SpecError: budget 30" in md
    # a block is a problem: ga has no finished run on sphere, cma-me none on rastrigin
    assert "0 complete blocks, 2 with missing runs left out" in md
    assert "no Friedman test: fewer than 2 complete blocks" in md


def test_statistics_use_finished_runs_only(board):
    sphere = board.problems[0]
    runs = board.runs[(board.runs.problem == "sphere") & (board.runs.status == "finished")]
    medians = runs.groupby("algo")["best_fitness"].median()
    table = sphere.table.set_index("algo")
    assert table.loc["random", "median"] == pytest.approx(medians["random"])
    assert table.loc["cma-me", "median"] == pytest.approx(medians["cma-me"])
    assert sphere.best == medians.idxmin()
    assert sphere.omnibus.test == "Kruskal–Wallis"  # 3 runs: KS untestable, so not shown normal
    assert set(table["verdict"]) <= {"best", "not significant", "no finished runs"}


def test_algo_time_is_the_median_share_of_wall_time_in_ask_and_tell(board):
    runs = board.runs[(board.runs.problem == "sphere") & (board.runs.status == "finished")]
    share = (runs["algo_seconds"] / runs["wall_seconds"]).groupby(runs["algo"]).median()
    table = board.problems[0].table.set_index("algo")
    assert 0 < table.loc["random", "algo_time"] < 1
    assert table.loc["random", "algo_time"] == pytest.approx(share["random"])
    assert np.isnan(table.loc["ga", "algo_time"])  # no finished run
    page = "".join(parse(board.out / "problem-sphere.html").text)
    assert f"{share['random']:.1%}" in page and "own ask and tell" in page


def test_every_link_resolves_and_provenance_is_on_every_page(board):
    pages = sorted(board.out.glob("*.html"))
    names = [p.name for p in pages]
    assert names == ["index.html", "problem-rastrigin.html", "problem-sphere.html"]
    for page in pages:
        parsed = parse(page)
        # index: problems and win rates (no complete block, so no ranks table)
        assert parsed.tables >= (2 if page.name == "index.html" else 1)
        for link in parsed.links:
            assert not re.match(r"^[a-z]+://", link), f"{page.name} links outside: {link}"
            assert (board.out / link).is_file(), f"{page.name}: broken link {link}"
        if page.name == "index.html":  # every table of the overview is linked
            tables = {p.name for p in (board.out / "tables").glob("*.csv")}
            overview = {"runs.csv", "ranks.csv", "winrate.csv", "nemenyi.csv"} & tables
            assert overview <= {Path(link).name for link in parsed.links}
        text = "".join(parsed.text)
        for label in PROVENANCE:
            assert label in text, f"{page.name} lacks {label}"
    md = (board.out / "README.md").read_text()
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (board.out / link).exists(), f"README.md: broken link {link}"
    prov = json.loads((board.out / "provenance.json").read_text())
    assert prov["seeds"] == [0, 1, 2] and prov["budgets"] == {"sphere": 30, "rastrigin": 120}
    # every recorded run has provenance: 10 finished, and 3 that failed before they could start
    assert sum(prov["commits"].values()) == 13


def test_figures_and_tables_are_written(board):
    for name in ("anytime-sphere", "ecdf-sphere", "anytime-rastrigin", "ecdf-rastrigin"):
        with Image.open(board.out / "figures" / f"{name}.png") as im:
            assert im.size[0] > 200 and im.size[1] > 100
    assert "cd" not in board.figures  # no complete block: no diagram
    for stem in ("sphere", "rastrigin"):
        csv = pd.read_csv(board.out / "tables" / f"{stem}.csv")
        parquet = pd.read_parquet(board.out / "tables" / f"{stem}.parquet")
        assert list(csv["algo"]) == list(parquet["algo"])
    winrate = pd.read_csv(board.out / "tables" / "winrate.csv", index_col=0)
    # ga has one finished run (on rastrigin): too few for a chance, so no win rate
    assert winrate.loc["ga"].isna().all() and winrate["ga"].isna().all()
    assert winrate.loc["cma-me", "random"] + winrate.loc["random", "cma-me"] == pytest.approx(1)


def test_cli_writes_and_refuses(tmp_path, board, capsys):
    assert main(["leaderboard", str(board.campaign), "--out", str(tmp_path / "lb")]) == 0
    out = capsys.readouterr().out
    assert "18 planned runs (10 finished, 5 pending, 3 failed)" in out
    assert (tmp_path / "lb" / "index.html").is_file()
    assert main(["leaderboard", str(tmp_path)]) == 2
    assert "not a campaign folder" in capsys.readouterr().err
    assert main(["leaderboard", str(board.campaign), "--alpha", "2"]) == 2


def test_a_rebuild_replaces_the_whole_folder(tmp_path, board, capsys):
    out = tmp_path / "lb"
    argv = ["leaderboard", str(board.campaign), "--out", str(out)]
    assert main(argv) == 0
    stale = [out / "tables" / "pairwise-gone.csv", out / "figures" / "cd.png"]
    for path in stale:  # a problem no longer in the campaign, a diagram no longer drawn
        path.write_text("old")
    assert main(argv) == 0
    assert not any(p.exists() for p in stale) and (out / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lb"], "no staging folder left"
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    assert main(["leaderboard", str(board.campaign), "--out", str(foreign)]) == 2
    assert "holds files but no leaderboard" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep"


def test_title_and_note_head_the_overview_and_the_markdown(tmp_path, board):
    default = (board.out / "index.html").read_text()
    assert f"<h1>Leaderboard: {board.campaign.name}</h1>" in default
    note = "Run on 2 CPU cores; budgets <sized> to fit & 5 seeds."
    argv = ["leaderboard", str(board.campaign), "--out", str(tmp_path / "lb")]
    assert main([*argv, "--title", "Published board", "--note", note]) == 0
    html = (tmp_path / "lb" / "index.html").read_text()
    assert "<h1>Published board</h1>" in html and "<title>Published board</title>" in html
    assert "budgets &lt;sized&gt; to fit &amp; 5 seeds." in html  # escaped, not markup
    md = (tmp_path / "lb" / "README.md").read_text().splitlines()
    assert md[:3] == ["# Published board", "", note]


@pytest.fixture
def measured_problem(monkeypatch):
    """Register the tests' MeasuredSphere (a problem with a 20 × 20 grid) for this test."""
    problems = registry("problems")
    entry = Entry("measured-sphere", "measured_problems:MeasuredSphere", "tests")
    entry._loaded = MeasuredSphere
    monkeypatch.setitem(problems._entries, "measured-sphere", entry)
    return "measured-sphere"


def test_archive_snapshots_become_heatmaps(tmp_path, measured_problem):
    plan = Plan(
        problems=[measured_problem],
        algorithms=["random", "map-elites"],
        seeds=[0, 1, 2],
        budget=200,
        algo_params={"random": {"batch": 20}, "map-elites": {"batch": 20, "initial": 20}},
    )
    run_campaign(plan, tmp_path / "c", progress=False)
    runs = load_campaign(tmp_path / "c")
    data = read_archive(Path(runs["path"].iloc[0]))
    # the first batch, then every 4% of the budget (each batch's end that reaches one)
    assert data["evaluations"].tolist() == list(range(20, 201, 20))
    maps = [snapshot_cells(data, s)["index"] for s in range(len(data["evaluations"]))]
    assert len(maps[0]) <= len(maps[4]) <= len(maps[-1]) == runs["coverage"].iloc[0] * 400
    assert data["found_at"].max() <= 200
    board = build_leaderboard(tmp_path / "c", tmp_path / "lb")
    assert "archive-measured-sphere" in board.figures
    with Image.open(board.out / board.figures["archive-measured-sphere"]) as im:
        assert im.size[0] > 3 * 150  # three snapshots side by side
    table = board.problems[0].table
    assert {"qd_score", "coverage"} <= set(table.columns)
    assert table["coverage"].notna().all()
    assert "median-QD-score run" in (board.out / "problem-measured-sphere.html").read_text()


def test_single_runs_save_archive_snapshots_too(tmp_path, measured_problem, capsys):
    args = ["--problem", measured_problem, "--algo", "random", "--budget", "100"]
    assert main(["run", *args, "--set", "batch=30", "--out", str(tmp_path), "--no-progress"]) == 0
    (folder,) = tmp_path.iterdir()
    data = read_archive(folder)
    assert data["evaluations"].tolist() == [30, 60, 90, 100]  # the last batch is cut to 10


class ReportingSphere(MeasuredSphere):
    """MeasuredSphere whose runs report two figures about their best solution."""

    def report(self, genomes):
        mean = float(genomes[0].mean())
        return {"mean_gene": mean, "positive_mean": mean > 0, "note": "text is not a column"}


def test_report_values_become_leaderboard_columns(tmp_path, monkeypatch):
    entry = Entry("reporting-sphere", "test_leaderboard:ReportingSphere", "tests")
    entry._loaded = ReportingSphere
    monkeypatch.setitem(registry("problems")._entries, "reporting-sphere", entry)
    plan = Plan(["reporting-sphere"], ["random"], [0, 1, 2], 60, {}, {"random": {"batch": 20}})
    run_campaign(plan, tmp_path / "c", progress=False)
    board = build_leaderboard(tmp_path / "c", tmp_path / "lb")
    reports = [r["report"] for r in board.records.values()]
    row = board.problems[0].table.set_index("algo").loc["random"]
    assert row["report_mean_gene"] == pytest.approx(np.median([r["mean_gene"] for r in reports]))
    assert row["report_positive_mean"] == pytest.approx(
        np.mean([r["positive_mean"] for r in reports])
    )
    assert "report_note" not in board.problems[0].table.columns
    legend = "share of the runs reporting 'positive_mean' where it holds"
    assert legend in (board.out / "README.md").read_text()


def test_an_unreadable_record_is_shown_as_failed(tmp_path, board):
    campaign = tmp_path / "c"
    shutil.copytree(board.campaign, campaign)
    run = board.runs.query("problem == 'sphere' and algo == 'random' and seed == 1")
    (campaign / "runs" / run["run_id"].iloc[0] / "record.json").write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable run record"):
        lb = build_leaderboard(campaign, tmp_path / "lb")
    row = lb.problems[0].table.set_index("algo").loc["random"]
    assert row[["finished", "failed", "pending"]].tolist() == [2, 1, 0]
    assert "random, seed 1: failed: UnreadableRecord" in (lb.out / "README.md").read_text()


def test_gallery_with_images_for_some_problems_only(tmp_path):
    """A problem without pictures beside one with them (pandas fills the gap with NaN)."""
    import numpy as np

    from bench.images import save_grid
    from bench.leaderboard.build import build_leaderboard

    campaign = make_campaign(tmp_path / "c", broken=False)
    runs = sorted((campaign / "runs").iterdir())
    for run in runs:
        if json.loads((run / "record.json").read_text())["spec"]["problem"] != "rastrigin":
            continue
        save_grid([np.full((8, 8, 1), 200, np.uint8)], run / "best.png")
    board = build_leaderboard(campaign, tmp_path / "lb")
    assert all(v is None for v in board.gallery["sphere"].values())
    assert all((tmp_path / "lb" / v).is_file() for v in board.gallery["rastrigin"].values())


def test_pages_say_what_each_problem_and_algorithm_was_set_to(board):
    """The settings were only in tables/runs.csv: a reader saw rastrigin, not dim=8."""
    page = parse(board.out / "problem-rastrigin.html")
    text = " ".join(page.text)
    assert "Settings" in text and "problem: dim=8" in text
    assert "ga: population=40" in text and "cma-me: batch=10, emitters=2, initial=20" in text
    markdown = (board.out / "README.md").read_text()
    assert "- random: batch=10" in markdown and "- problem: dim=8" in markdown


def test_hitting_times_start_counting_at_the_first_valid_batch():
    """A first batch without a valid evaluation (best NaN) hid every later hit in the ECDF."""
    from bench.leaderboard.figures import hitting_times

    curve = pd.DataFrame({"evaluations": [1, 15, 29], "best": [np.nan, 40.0, 7.0]})
    assert hitting_times(curve, np.array([45.0, 10.0, 1.0]), "min").tolist() == [15, 29, np.inf]
    higher = pd.DataFrame({"evaluations": [1, 15, 29], "best": [np.nan, -20.0, -7.0]})
    assert hitting_times(higher, np.array([30.0, 10.0]), "max").tolist() == [15, 29]  # losses


def test_a_folder_of_bench_run_results_gets_a_leaderboard_when_budgets_are_equal(tmp_path, capsys):
    """It was refused outright: 'not a campaign folder'."""
    runs = tmp_path / "runs"
    for algo in ("random", "ga"):
        for seed in (0, 1):
            args = ["run", "--problem", "sphere", "--algo", algo, "--budget", "300"]
            assert main([*args, "--seed", str(seed), "--out", str(runs), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "lb")]) == 0
    assert "1 problem, 4 planned runs (4 finished)" in capsys.readouterr().out
    assert "| ga | 2 | 2 |" in (tmp_path / "lb" / "README.md").read_text()
    # the same spec twice would count twice; unequal budgets would compare unequal work
    shutil.copytree(next(runs.iterdir()), runs / "copy")
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "lb2")]) == 2
    assert "are the same run" in capsys.readouterr().err
    shutil.rmtree(runs / "copy")
    args = ["run", "--problem", "sphere", "--algo", "ga", "--budget", "400", "--out", str(runs)]
    assert main([*args, "--no-progress"]) == 0
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "lb3")]) == 2
    assert "have budgets 300 (4 runs), 400 (1 run)" in capsys.readouterr().err


def test_anytime_curves_are_a_table_with_the_studies_mean_and_std(board):
    """The studies averaged runs; the figure shows median and IQR only."""
    path = board.out / "tables" / "anytime-sphere.csv"
    table = pd.read_csv(path)
    assert list(table.columns) == [
        "algo", "evaluations", "runs", "median", "q25", "q75", "mean", "std",
    ]  # fmt: skip
    runs = board.runs[(board.runs["problem"] == "sphere") & (board.runs["status"] == "finished")]
    algo = str(runs["algo"].iloc[0])
    last = table[table["algo"] == algo].iloc[-1]
    finals = runs.loc[runs["algo"] == algo, "final"]
    assert last["evaluations"] == int(runs["budget"].max())
    assert last["runs"] == len(finals) and last["mean"] == pytest.approx(finals.mean())
    if len(finals) > 1:
        assert last["std"] == pytest.approx(finals.std())
    assert 'href="tables/anytime-sphere.csv"' in (board.out / "problem-sphere.html").read_text()


def test_provenance_names_the_uncommitted_files_runs_recorded():
    """"uncommitted changes" alone could not tell an edited module from a log file."""
    from bench.leaderboard.provenance import gather, provenance_lines

    runs = pd.DataFrame({"problem": ["sphere"] * 3, "budget": [10] * 3, "seed": [0, 1, 2],
                         "wall_seconds": [1.0] * 3})
    states = [
        {"commit": "abc", "dirty": True, "uncommitted": ["campaign.log"]},
        {"commit": "abc", "dirty": True},  # a record from before the list was kept
        {"commit": "abc", "dirty": False, "uncommitted": []},
    ]
    records = {str(i): {"provenance": state} for i, state in enumerate(states)}
    lines = dict(provenance_lines(gather(runs, records)))
    assert "abc (uncommitted changes: campaign.log) (1 run)" in lines["commit"]
    assert "abc (uncommitted changes) (1 run)" in lines["commit"]
    assert "abc (1 run)" in lines["commit"]

"""Campaign and leaderboard folders: damaged records, killed builds, usage errors, options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from leaderboard_campaign import make_campaign

from bench.campaign import Plan, load_campaign, run_campaign
from bench.cli import build_parser, main
from bench.leaderboard import build, build_leaderboard
from bench.leaderboard.runs import load_runs
from bench.results import RECORD, remove_orphaned_folders

TINY = Plan(
    problems=["sphere"],
    algorithms=["random"],
    seeds=[0, 1],
    budget=40,
    problem_params={"sphere": {"dim": 4}},
    algo_params={"random": {"batch": 10}},
)
TINY_TOML = """
budget = 40
seeds = 3
problems = ["sphere"]
algorithms = ["random"]

[problem.sphere]
dim = 4

[algo.random]
batch = 10
"""


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# 1. an unusable run record: failed (UnreadableRecord) for show, leaderboard, load and resume


@pytest.mark.parametrize("text", ["{bad", "[1, 2]"], ids=["not-json", "not-a-record"])
def test_an_unusable_record_is_one_failed_run_everywhere(tmp_path, capsys, text):
    campaign = tmp_path / "c4x"
    run_campaign(TINY, campaign, progress=False)
    damaged = sorted((campaign / "runs").iterdir())[0]
    (damaged / RECORD).write_text(text)
    path = str(damaged / RECORD)

    with pytest.warns(UserWarning, match="run record"):
        df = load_campaign(campaign)
    row = df.set_index("run_id").loc[damaged.name]
    assert (row["status"], row["error_type"]) == ("failed", "UnreadableRecord")
    assert path in row["error"] and row["problem"] == "sphere" and row["algo"] == "random"
    assert sorted(df["status"]) == ["failed", "finished"]

    with pytest.warns(UserWarning, match="run record"):
        runs, records = load_runs(campaign)  # the leaderboard's table
    assert list(runs["status"]) == list(df["status"]) and damaged.name not in records

    with pytest.warns(UserWarning, match="run record"):
        assert main(["show", str(campaign)]) == 0
    out = capsys.readouterr().out
    assert "errors of the 1 failed run(s)" in out and "UnreadableRecord: " in out and path in out

    with pytest.warns(UserWarning, match="run record"):  # resume skips it as failed...
        summary = run_campaign(TINY, campaign, progress=False)
    assert (summary.ran, summary.skipped_failed, summary.skipped_finished) == (0, 1, 1)
    assert (damaged / RECORD).read_text() == text
    with pytest.warns(UserWarning, match="run record"):  # ...and --retry-failed replaces it
        summary = run_campaign(TINY, campaign, progress=False, retry_failed=True)
    assert (summary.ran, summary.failed) == (1, 0)
    assert json.loads((damaged / RECORD).read_text())["status"] == "finished"
    assert set(load_campaign(campaign)["status"]) == {"finished"}


# 2. a killed leaderboard build leaves temporary folders that the next build removes


def test_a_rebuild_removes_the_folders_of_killed_builds_only(tmp_path, monkeypatch):
    campaign = make_campaign(tmp_path / "c1")
    dead, alive = _dead_pid(), os.getpid()
    left = {
        f".lbk-new-{dead}-k1ll3d_x": True,  # removed: its builder is gone
        f".lbk-old-{dead}-abcd1234": True,
        f".lbk-new-{alive}-running": False,  # kept: a build still running
        f".lbk-new-7-new-{dead}-abcd1234": False,  # another leaderboard's (lbk-new-7)
        f".other-new-{dead}-abcd1234": False,
    }
    for name in left:
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("half")
    swapped = []
    swap_in = build._swap_in
    monkeypatch.setattr(
        build, "_swap_in", lambda new, out: (swapped.append(new), swap_in(new, out))
    )
    build_leaderboard(campaign, tmp_path / "lbk")
    build_leaderboard(campaign, tmp_path / "lbk")  # a rebuild: the old one is swapped out
    assert {p.name for p in tmp_path.iterdir() if p.name.startswith(".")} == {
        name for name, removed in left.items() if not removed
    }
    assert all(new.name.startswith(f".lbk-new-{alive}-") for new in swapped)
    assert (tmp_path / "lbk" / "provenance.json").is_file()


def test_orphaned_folders_need_a_process_id_and_a_suffix(tmp_path):
    dead = _dead_pid()
    for name in [f".x-new-{dead}-ab_12", ".x-new-abc", f".x-new-{dead}", f".x-new-{dead}-a-b"]:
        (tmp_path / name).mkdir()
    (tmp_path / f".x-new-{dead}-file").write_text("not a folder")
    assert remove_orphaned_folders(tmp_path, ".x-new-") == 1
    assert not (tmp_path / f".x-new-{dead}-ab_12").exists() and len(list(tmp_path.iterdir())) == 4


# 3. usage errors leave no empty --out folder


def _plan_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ps.toml"
    path.write_text(text)
    return str(path)


RUN = ["run", "--problem", "sphere", "--algo", "random", "--budget", "100"]
USAGE = {
    "unknown parameter": (
        lambda t: ["campaign", "--plan", _plan_file(t, TINY_TOML + "nosuch = 1\n")],  # [algo]
        "algorithm 'random' has no parameter 'nosuch'",
    ),
    "no budget": (
        lambda t: [
            "campaign",
            "--plan",
            _plan_file(t, TINY_TOML.replace("budget = 40\n", "") + "[budget]\n"),
        ],
        "plan has no budget for problem 'sphere' and no default budget",
    ),
    "no workers": (
        lambda t: ["campaign", "--plan", _plan_file(t, TINY_TOML), "--workers", "0"],
        "the number of workers must be at least 1, got 0",
    ),
    "run too large": (
        lambda t: [*RUN, "--set", "problem.dim=100000000000"],
        "does not fit in memory",
    ),
}


@pytest.mark.parametrize("case", list(USAGE))
def test_a_usage_error_leaves_no_out_folder(tmp_path, capsys, case):
    args, message = USAGE[case]
    argv = [*args(tmp_path), "--out", str(tmp_path / "p" / "x8"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "p").exists()
    (tmp_path / "p" / "x8").mkdir(parents=True)  # a folder that was there stays
    assert main(argv) == 2
    assert (tmp_path / "p" / "x8").is_dir()


# 4. --seeds with --plan replaces the plan's seeds, and says so


def test_seeds_replace_the_plans_and_say_so(tmp_path, capsys):
    plan = _plan_file(tmp_path, TINY_TOML)
    argv = ["campaign", "--plan", plan, "--seeds", "2", "--out", str(tmp_path / "c")]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "seeds      0, 1 (--seeds 2, instead of the plan's 0, 1, 2)\n" in out
    assert "2 runs planned" in out
    helps = {
        a.dest: a.help
        for a in build_parser()._subparsers._group_actions[0].choices["campaign"]._actions
    }
    assert "instead of the options above" not in helps["plan"] and "--seeds" in helps["plan"]
    assert "--plan" in helps["seeds"]


# 5. campaign --set gets the campaign's one-line hint, not the top-level usage


def test_campaign_set_points_to_plan_files(tmp_path, capsys):
    argv = ["campaign", "--problems", "sphere", "--algos", "random", "--budget", "40"]
    assert main([*argv, "--set", "dim=4", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bench: error: campaign takes no --set")
    assert "[problem.NAME]" in err and "[algo.NAME]" in err and "--plan" in err
    assert not (tmp_path / "c").exists()


def test_a_folder_of_single_runs_is_not_adopted_as_a_campaign(tmp_path, capsys):
    """It was: bench show then summarised the campaign and hid the earlier runs."""
    run = ["run", "--problem", "sphere", "--algo", "random", "--budget", "20", "--no-progress"]
    assert main([*run, "--set", "batch=10", "--out", str(tmp_path)]) == 0
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "1"]
    assert main([*args, "--budget", "20", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds 1 run(s) of `bench run` (00001-sphere-random-s0, ...), not a campaign" in err
    assert not (tmp_path / "campaign.json").exists() and not (tmp_path / "runs").exists()


def test_failed_runs_of_a_plain_campaign_record_the_device_they_ran_on(tmp_path, monkeypatch):
    """Only Dask workers read LATENT_BENCH_DEVICE; failed records here claimed it anyway."""
    monkeypatch.setenv("LATENT_BENCH_DEVICE", "cuda:7")
    (tmp_path / "plan.toml").write_text(
        'budget = 20\nseeds = [0]\nproblems = ["diversity-mnist-rmse"]\nalgorithms = ["random"]\n'
        f'[problem.diversity-mnist-rmse]\nweights = "{tmp_path / "missing.pt"}"\n'
    )
    args = ["campaign", "--plan", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "c")]
    assert main([*args, "--no-progress"]) == 1
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "c" / "runs").glob("*/record.json")]
    assert record["status"] == "failed" and record["provenance"]["machine"]["device"] == "cpu"

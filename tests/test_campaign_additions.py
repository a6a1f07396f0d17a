"""Growing a campaign: your algorithm beside a finished plan's, more seeds, more problems.

A plan that names everything a folder's plan does, with the same budgets and
parameters, only adds runs: it resumes without ``--force`` and runs only the new
ones. ``bench campaign --out DIR`` alone resumes the folder's own plan;
``--add-algos`` and ``--add-problems`` extend whichever plan runs.
"""

import json
from pathlib import Path

import pytest

from bench.campaign import (
    CampaignError,
    Plan,
    load_campaign,
    plan_additions,
    read_plan,
    run_campaign,
)
from bench.cli import main

PLANS = Path(__file__).resolve().parents[1] / "bench" / "plans"


def _plan(**kw) -> Plan:
    base = dict(
        problems=["sphere"],
        algorithms=["random"],
        seeds=[0, 1],
        budget=100,
        problem_params={"sphere": {"dim": 8}},
        algo_params={"random": {"batch": 20}},
    )
    base.update(kw)
    return Plan(**base)


def test_additions_are_what_the_new_plan_names_beyond_the_old():
    old = _plan()
    grown = _plan(algorithms=["random", "ga"], seeds=[0, 1, 2], problems=["sphere", "rastrigin"])
    assert plan_additions(old, grown) == {
        "problems": ["rastrigin"],
        "algorithms": ["ga"],
        "seeds": [2],
    }
    assert plan_additions(old, _plan()) == {"problems": [], "algorithms": [], "seeds": []}
    # the same budget, said another way, is the same runs
    assert plan_additions(old, _plan(budget={"default": 100})) is not None


@pytest.mark.parametrize(
    "changed",
    [
        {"budget": 200},
        {"budget": {"sphere": 50, "default": 100}},
        {"problem_params": {"sphere": {"dim": 9}}},
        {"algo_params": {"random": {"batch": 10}}},
        {"algo_params": {}},
        {"seeds": [1, 2]},
        {"algorithms": ["ga"]},
        {"problems": ["rastrigin"], "problem_params": {}},
    ],
)
def test_a_plan_that_changes_or_drops_a_run_adds_nothing(changed):
    assert plan_additions(_plan(), _plan(**changed)) is None


def test_new_algorithms_parameters_do_not_matter_old_ones_do():
    old = _plan()
    params = {"random": {"batch": 20}, "ga": {"population": 20}}
    mine = _plan(algorithms=["random", "ga"], algo_params=params)
    assert plan_additions(old, mine) == {"problems": [], "algorithms": ["ga"], "seeds": []}


def test_an_extended_plan_resumes_without_force_and_runs_only_the_new_runs(tmp_path):
    first = run_campaign(_plan(), tmp_path, progress=False)
    assert first.ran == 2
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    params = {"random": {"batch": 20}, "ga": {"population": 20}}
    grown = _plan(algorithms=["random", "ga"], algo_params=params)
    summary = run_campaign(grown, tmp_path, progress=False)
    assert (summary.total, summary.ran, summary.skipped_finished) == (4, 2, 2)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    assert {k: after[k] for k in before} == before  # the finished runs were not touched
    df = load_campaign(tmp_path)
    assert sorted(df["algo"]) == ["ga", "ga", "random", "random"]
    assert set(df["status"]) == {"finished"}
    assert read_plan(tmp_path).algorithms == ["random", "ga"]
    # the old plan now names fewer runs than the folder's: refused, saying how to resume
    with pytest.raises(
        CampaignError, match=r"runs this plan lacks \(2 of its 4: its algorithms ga too\)"
    ):
        run_campaign(_plan(), tmp_path, progress=False)


def test_a_changed_run_is_still_refused(tmp_path):
    run_campaign(_plan(), tmp_path, progress=False)
    with pytest.raises(
        CampaignError, match=r"whose runs this plan changes \(2 of its 2 runs; changed: budget\)"
    ):
        run_campaign(_plan(budget=200, algorithms=["random", "ga"]), tmp_path, progress=False)


def _campaign(*args: str) -> list[str]:
    return ["campaign", *args, "--no-progress"]


def test_cli_resumes_the_folders_plan_and_adds_algorithms(tmp_path, capsys):
    out = str(tmp_path / "c")
    base = ["--problems", "sphere", "--algos", "random", "--seeds", "2", "--budget", "200"]
    assert main(_campaign(*base, "--out", out)) == 0
    capsys.readouterr()
    assert main(_campaign("--out", out, "--add-algos", "ga")) == 0
    text = capsys.readouterr().out
    assert f"plan       {out}/campaign.json: the folder's own" in text
    assert "adds algorithms ga to the folder's plan: 2 more runs at its budgets" in text
    assert "4 runs planned; ran 2 (0 failed), skipped 2 finished" in text
    # more seeds and a problem, on the stored plan (ga included now)
    assert main(_campaign("--out", out, "--seeds", "3", "--add-problems", "rastrigin")) == 0
    text = capsys.readouterr().out
    assert "seeds      0, 1, 2 (--seeds 3, instead of the plan's 0, 1)" in text
    assert "adds problems rastrigin; seeds 2 to the folder's plan: 8 more runs" in text
    assert "12 runs planned; ran 8 (0 failed), skipped 4 finished" in text
    stored = json.loads((tmp_path / "c" / "campaign.json").read_text())["plan"]
    assert stored["problems"] == ["sphere", "rastrigin"]
    assert stored["algorithms"] == ["random", "ga"]
    assert main(_campaign("--out", out)) == 0
    assert "ran 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--add-algos", "random"], "--add-algos: random already in the plan"),
        (["--add-algos", "gaa"], "unknown algorithm 'gaa'; did you mean 'ga'?"),
        (["--add-problems", "sphere"], "--add-problems: sphere already in the plan"),
    ],
)
def test_cli_additions_refused_in_one_line(tmp_path, capsys, args, message):
    out = str(tmp_path / "c")
    base = ["--problems", "sphere", "--algos", "random", "--seeds", "1", "--budget", "100"]
    assert main(_campaign(*base, "--out", out)) == 0
    capsys.readouterr()
    assert main(_campaign("--out", out, *args)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_cli_without_a_plan_or_a_campaign_folder_says_what_it_needs(tmp_path, capsys):
    assert main(_campaign("--out", str(tmp_path / "none"))) == 2
    err = capsys.readouterr().err
    assert "or an --out folder that holds a campaign to resume" in err
    assert not (tmp_path / "none").exists()


def test_a_number_written_as_another_type_is_another_run_not_the_same(tmp_path):
    """``cxpb = 1`` hashes to another run id than ``1.0``: not the same runs."""
    ga = {"algorithms": ["ga"], "budget": 60}
    plan = _plan(**ga, algo_params={"ga": {"population": 20, "cxpb": 1}})
    run_campaign(plan, tmp_path, progress=False)
    other = _plan(**ga, algo_params={"ga": {"population": 20, "cxpb": 1.0}})
    assert plan_additions(plan, other) is None
    with pytest.raises(CampaignError, match=r"changed: a parameter's type, such as 1 for 1\.0"):
        run_campaign(other, tmp_path, progress=False)


def test_a_plan_that_adds_and_lacks_names_what_it_lacks(tmp_path):
    run_campaign(_plan(seeds=[0, 1, 2]), tmp_path, progress=False)
    both = _plan(seeds=[0, 1], algorithms=["random", "ga"], algo_params={"random": {"batch": 20}})
    with pytest.raises(
        CampaignError, match=r"runs this plan lacks \(1 of its 3: its seeds 2 too\)"
    ):
        run_campaign(both, tmp_path, progress=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"plan": {"problems": ["sphere"]}}', "holds a damaged plan (its keys: ['problems']"),
        ('{"plan": 3}', "holds a damaged plan (its plan: int, not a table"),
        ('{"other": 1}', "holds a damaged plan (no plan table"),
        ("{not json", "is unreadable"),
    ],
)
def test_a_damaged_campaign_file_is_named_on_resume(tmp_path, capsys, text, message):
    (tmp_path / "campaign.json").write_text(text)
    assert main(_campaign("--out", str(tmp_path))) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "__init__" not in err, err


def test_adding_a_problem_to_a_budget_table_without_default_says_how(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'problems = ["sphere"]\nalgorithms = ["random"]\nseeds = 1\n[budget]\nsphere = 100\n'
    )
    out = str(tmp_path / "c")
    assert main(_campaign("--plan", str(plan), "--out", out)) == 0
    capsys.readouterr()
    assert main(_campaign("--out", out, "--add-problems", "rastrigin")) == 2
    err = capsys.readouterr().err
    assert "no default budget for rastrigin; write a plan file whose [budget] table" in err
    # and a lone --budget on a folder says how to resume instead
    assert main(_campaign("--out", out, "--budget", "50")) == 2
    assert f"to resume {out}'s own plan give none of them" in capsys.readouterr().err


def test_notes_of_runs_reach_the_summary_and_the_leaderboard(tmp_path, capsys):
    """A GA whose budget is one population never searched: said, not only in its records."""
    from bench.leaderboard import build_leaderboard

    out = tmp_path / "c"
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'problems = ["sphere"]\nalgorithms = ["random", "ga"]\nseeds = 2\nbudget = 100\n'
        "[algo.ga]\npopulation = 100\n"
    )
    assert main(_campaign("--plan", str(plan), "--out", str(out))) == 0
    text = capsys.readouterr().out
    line = "sphere × ga (2 of 2 runs): the budget (100) is no more than one batch of 'ga' (100)"
    assert "notes of finished runs" in text and line in text
    assert "sphere × random" not in text.split("notes of finished runs")[1]
    board = build_leaderboard(out, tmp_path / "lb")
    assert f"- {line}" in (board.out / "README.md").read_text()
    assert "Notes the runs recorded" in (board.out / "problem-sphere.html").read_text()


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in PLANS.glob("*.toml"))
)
def test_a_plan_written_as_toml_reads_back_to_the_same_runs(tmp_path, name):
    from bench.campaign import load_plan, plan_toml
    from bench.commands.search import PLANS_DIR

    plan = load_plan(PLANS_DIR / f"{name}.toml")
    path = tmp_path / "again.toml"
    path.write_text(plan_toml(plan, "a comment\nof two lines"))
    again = load_plan(path)
    assert again.to_dict() == plan.to_dict()
    assert [s.run_id for s in again.specs()] == [s.run_id for s in plan.specs()]


def test_types_survive_the_toml_round_trip(tmp_path):
    from bench.campaign import load_plan, plan_toml

    plan = _plan(
        algorithms=["ga", "pymoo:de"],
        budget={"sphere": 300, "default": 100},
        algo_params={"ga": {"cxpb": 1.0, "population": 20, "name": 'a "q"'}, "pymoo:de": {}},
    )
    path = tmp_path / "p.toml"
    path.write_text(plan_toml(plan))
    again = load_plan(path)
    assert again.algo_params["ga"] == {"cxpb": 1.0, "population": 20, "name": 'a "q"'}
    assert isinstance(again.algo_params["ga"]["cxpb"], float)
    assert [s.run_id for s in again.specs()] == [s.run_id for s in plan.specs()]


def test_keys_and_strings_toml_has_no_bare_form_for_are_quoted_and_escaped():
    import tomllib

    from bench.campaign import plan_toml

    params = {"σ": 0.5, "x-y_1": 2, "note": "a\x7fb\tc"}  # Unicode key; DEL, a tab
    text = plan_toml(_plan(algo_params={"ga": params}))
    assert tomllib.loads(text)["algo"]["ga"] == params


def test_show_plan_prints_the_folders_plan(tmp_path, capsys):
    out = str(tmp_path / "c")
    base = ["--problems", "sphere", "--algos", "random", "--seeds", "1", "--budget", "100"]
    assert main(_campaign(*base, "--out", out)) == 0
    capsys.readouterr()
    assert main(["show", out, "--plan"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# The plan of the campaign in {out}.")
    assert 'budget = 100\nseeds = [0]\nproblems = ["sphere"]\nalgorithms = ["random"]\n' in text
    assert main(["show", str(tmp_path), "--plan"]) == 2
    assert "holds no campaign (campaign.json), so no plan" in capsys.readouterr().err

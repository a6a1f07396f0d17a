"""Variants: ``NAME@label`` compares settings of one problem or algorithm in one campaign."""

import json
import re
from pathlib import Path

import pytest

from bench.campaign import Plan, load_campaign, load_plan, plan_toml, read_plan, run_campaign
from bench.cli import main
from bench.leaderboard import build_leaderboard
from bench.registry import RegistryError, UnknownNameError, base_name, registered, registry
from bench.runner import execute
from bench.spec import RunSpec, SpecError
from bench.testing import ProbeSphere

PLAN = """
seeds = 2
problems = ["sphere", "sphere@d8"]
algorithms = ["random", "ga", "ga@pop10"]

[budget]
default = 300
"sphere@d8" = 200

[problem.sphere]
dim = 16

[problem."sphere@d8"]
dim = 8

[algo."ga@pop10"]
population = 10
"""


def test_a_label_names_its_entry_and_malformed_labels_say_why():
    problems, algorithms = registry("problems"), registry("algorithms")
    assert problems.entry("face@sphere") is problems.entry("face")
    assert algorithms.load("pymoo:de@pop100") is algorithms.load("pymoo:de")
    assert "ga@x" in algorithms and "gaa@x" not in algorithms and "ga@" not in algorithms
    assert base_name("pymoo:cmaes@pop200") == "pymoo:cmaes" and base_name("ga") == "ga"
    with pytest.raises(UnknownNameError, match=r"'fcae' \(in 'fcae@x'\); did you mean 'face'"):
        problems.entry("fcae@x")
    for bad, words in (
        ("ga@", "nothing follows @"),
        ("ga@a@b", "one @ per name; got 'a@b'"),
        ("ga@a b", "got 'a b'"),
        ("ga@" + "x" * 101, "at most 100 characters"),
    ):
        with pytest.raises(RegistryError, match=words):
            algorithms.entry(bad)
    with pytest.raises(RegistryError, match="generator name takes no @label"):
        registry("generators").entry("dcgan-faces@x")


def test_a_registered_name_cannot_hold_the_variant_separator():
    with pytest.raises(RegistryError, match="holds only ASCII letters"):
        with registered(problems={"probe@x": ProbeSphere}):
            pass


def test_a_labelled_run_is_its_entry_s_run_under_another_name():
    labelled = execute(RunSpec("sphere@d8", "ga@p10", 300, 3, {"dim": 8}, {"population": 10}))
    plain_run = execute(RunSpec("sphere", "ga", 300, 3, {"dim": 8}, {"population": 10}))
    record = labelled.record
    assert record["best_fitness"] == plain_run.record["best_fitness"]
    assert record["run_id"] != plain_run.record["run_id"]
    assert (record["spec"]["problem"], record["spec"]["algo"]) == ("sphere@d8", "ga@p10")
    registered_names = {k: v["name"] for k, v in record["provenance"]["registered"].items()}
    assert registered_names == {"problem": "sphere", "algorithm": "ga"}


def test_a_campaign_compares_variants_side_by_side(tmp_path):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(PLAN)
    plan = load_plan(plan_file)
    summary = run_campaign(plan, tmp_path / "c", progress=False)
    assert (summary.total, summary.failed) == (12, 0)
    df = load_campaign(tmp_path / "c")
    assert set(df["problem"]) == {"sphere", "sphere@d8"}
    assert set(df["algo"]) == {"random", "ga", "ga@pop10"}
    budgets = df.groupby("problem")["budget"].unique().map(list).to_dict()
    assert budgets == {"sphere": [300], "sphere@d8": [200]}
    records = [json.loads(p.read_text()) for p in (tmp_path / "c" / "runs").glob("*/record.json")]
    dims = {r["spec"]["problem"]: r["spec"]["problem_params"]["dim"] for r in records}
    assert dims == {"sphere": 16, "sphere@d8": 8}
    # the plan as `bench show --plan` prints it reads back to the same runs
    again = tmp_path / "again.toml"
    again.write_text(plan_toml(read_plan(tmp_path / "c")))
    assert {s.run_id for s in load_plan(again).specs()} == {s.run_id for s in plan.specs()}
    board = build_leaderboard(tmp_path / "c", tmp_path / "lb")
    assert {r.problem for r in board.problems} == {"sphere", "sphere@d8"}
    for result in board.problems:
        assert set(result.table["algo"]) == {"random", "ga", "ga@pop10"}
    assert (tmp_path / "lb" / "problem-sphere_d8.html").is_file()
    page = (tmp_path / "lb" / "README.md").read_text()
    assert "ga@pop10: population=10" in page and "problem: dim=8" in page


def test_two_variants_of_one_setting_are_refused():
    twins = Plan(["sphere", "sphere@b"], ["random"], [0], 100)
    with pytest.raises(SpecError, match="'sphere' and 'sphere@b' are one setting"):
        twins.validate()
    other_budget = Plan(["sphere", "sphere@b"], ["random"], [0], {"default": 100, "sphere@b": 50})
    other_budget.validate()  # a budget of its own is a setting of its own
    algos = Plan(["sphere"], ["ga@a", "ga@b"], [0], 100, algo_params={"ga@a": {"population": 8},
                                                                       "ga@b": {"population": 8}})
    with pytest.raises(SpecError, match=r"'ga@a' and 'ga@b' are one setting.*\[algo.\"ga@b\"\]"):
        algos.validate()


def test_bad_labels_on_the_command_line_are_usage_errors(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.replace('"sphere@d8"]', '"sphre@d8"]', 1))
    assert main(["campaign", "--plan", str(plan), "--out", str(tmp_path / "c")]) == 2
    assert "unknown problem 'sphre' (in 'sphre@d8'); did you mean 'sphere'?" in (
        capsys.readouterr().err
    )
    out = tmp_path / "r"
    assert main(["run", "--problem", "sphere", "--algo", "ga@", "--budget", "100",
                 "--out", str(out), "--no-progress"]) == 2
    assert "algorithm name 'ga@': nothing follows @" in capsys.readouterr().err
    assert main(["run", "--problem", "sphere@d4", "--algo", "random", "--set", "dim=4",
                 "--budget", "100", "--out", str(out), "--no-progress"]) == 0
    (run,) = out.iterdir()
    assert run.name.endswith("sphere@d4-random-s0")
    assert json.loads((run / "record.json").read_text())["spec"]["problem"] == "sphere@d4"


def test_the_readme_s_variant_example_is_a_valid_plan(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    (example,) = [b for b in blocks if "face@sphere" in b]
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text("budget = 1000\n" + example)
    plan = load_plan(plan_file)
    plan.validate()
    assert len({s.run_id for s in plan.specs()}) == len(plan) == 2 * 3 * 5

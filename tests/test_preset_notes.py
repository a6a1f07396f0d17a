"""Notes where a ``paper`` preset runs at another budget or on the other study's problem."""

from __future__ import annotations

from bench.cli import main
from bench.spec import RunSpec, preset_notes


def test_paper_presets_say_when_they_reproduce_nothing():
    assert preset_notes(RunSpec("face", "ga", 100_000, preset="paper")) == []
    assert preset_notes(RunSpec("diversity-mnist-rmse", "ga-set", 25_000, preset="paper")) == []
    assert preset_notes(RunSpec("sphere", "random", 25_000, preset="paper")) == []
    assert preset_notes(RunSpec("sphere", "ga", 1_000, preset="quick")) == []  # not a study's
    budget, study = preset_notes(RunSpec("diversity-mnist-ncc", "ga", 1_000, preset="paper"))
    assert "the study ran 100,000 evaluations with it, the budget here is 1,000" in budget
    assert "face-similarity study (seeds digest §1)" in study
    assert "diversity-mnist-ncc is a problem of the set-diversity study" in study
    (study,) = preset_notes(RunSpec("face", "map-elites", 25_000, preset="paper"))
    assert "(seeds digest §2); face is a problem of the face-similarity" in study


def test_a_campaign_prints_each_note_once(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'problems = ["sphere"]\nalgorithms = ["ga", "random"]\nseeds = [0, 1]\nbudget = 400\n'
        '[algo.ga]\npreset = "paper"\n[problem.sphere]\ndim = 4\n'
    )
    code = main(["campaign", "--plan", str(plan), "--out", str(tmp_path / "c"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("note       ga's paper preset: the study ran 100,000") == 1
    assert "random" not in out.split("campaign ")[0]  # no preset, no note


def test_the_set_diversity_paper_plan_is_the_study():
    """Seeds digest §2: 3 datasets × 2 metrics, 3 algorithms, 10 runs, 25,000 evaluations."""
    from bench.campaign import load_plan
    from bench.commands.search import PLANS_DIR

    plan = load_plan(PLANS_DIR / "set-diversity-paper.toml")
    plan.validate()
    specs = list(plan.specs())
    assert len(specs) == 6 * 3 * 10 and {s.budget for s in specs} == {25_000}
    assert {s.preset for s in specs} == {"paper"}
    assert not any(preset_notes(s) for s in specs)  # every preset at its study's budget


def test_the_published_mnist_cell_grows_into_the_whole_study():
    """set-diversity-mnist-rmse is a part of set-diversity-paper: its runs count there."""
    from bench.campaign import load_plan, plan_additions
    from bench.commands.search import PLANS_DIR

    cell = load_plan(PLANS_DIR / "set-diversity-mnist-rmse.toml")
    cell.validate()
    assert len(cell) == 9 and not any(preset_notes(s) for s in cell.specs())
    study = load_plan(PLANS_DIR / "set-diversity-paper.toml")
    added = plan_additions(cell, study)
    assert added is not None and added["algorithms"] == []
    assert len(added["problems"]) == 5 and added["seeds"] == list(range(3, 10))

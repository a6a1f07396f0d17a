"""Campaigns: equal budgets, resume after interrupts and kill -9, locks, plan changes."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN

from bench.campaign import (
    CampaignError,
    CampaignLock,
    Plan,
    load_campaign,
    load_plan,
    run_campaign,
)
from bench.cli import main
from bench.registry import UnknownNameError, registry
from bench.results import RECORD
from bench.spec import SpecError

WEIGHTS = Path(__file__).resolve().parents[1] / "generators" / "weights"


def _plan(**kw):
    base = dict(
        problems=["sphere", "rastrigin"],
        algorithms=["random", "ga"],
        seeds=[0, 1],
        budget=400,
        problem_params={"sphere": {"dim": 16}, "rastrigin": {"dim": 16}},
        algo_params={"ga": {"population": 40}},
    )
    base.update(kw)
    return Plan(**base)


def test_every_pairing_gets_the_same_budget_and_resume_skips(tmp_path):
    plan = _plan()
    first = run_campaign(plan, tmp_path, progress=False)
    assert (first.total, first.ran, first.failed) == (8, 8, 0)
    df = load_campaign(tmp_path)
    assert len(df) == 8 and set(df["status"]) == {"finished"}
    assert set(df["evaluations"]) == {400} and set(df["budget"]) == {400}
    assert df["run_id"].is_unique
    again = run_campaign(plan, tmp_path, progress=False)
    assert (again.ran, again.skipped_finished) == (0, 8)


def test_failed_runs_are_kept_and_rerun_only_on_request(tmp_path):
    plan = _plan(algo_params={"ga": {"population": 1000}})  # larger than the budget
    summary = run_campaign(plan, tmp_path, progress=False)
    assert summary.failed == 4
    df = load_campaign(tmp_path)
    failed = df[df["status"] == "failed"]
    assert set(failed["algo"]) == {"ga"}
    assert failed["error"].str.contains("smaller than one batch").all()
    assert run_campaign(plan, tmp_path, progress=False).skipped_failed == 4
    assert run_campaign(plan, tmp_path, progress=False, retry_failed=True).ran == 4


def test_changed_plan_is_refused_unless_forced(tmp_path):
    run_campaign(_plan(seeds=[0]), tmp_path, progress=False)
    with pytest.raises(CampaignError, match=r"runs this plan lacks .*its seeds 0 too"):
        run_campaign(_plan(seeds=[1]), tmp_path, progress=False)
    summary = run_campaign(_plan(seeds=[1]), tmp_path, progress=False, force=True)
    assert (summary.skipped_finished, summary.ran) == (0, 4)
    # seed 0's runs stayed on disk: a plan naming both seeds only adds runs, no --force
    summary = run_campaign(_plan(seeds=[0, 1]), tmp_path, progress=False)
    assert (summary.skipped_finished, summary.ran) == (8, 0)  # same specs keep their ids
    # listing the same names in another order is the same plan: it resumes, no --force
    reordered = _plan(seeds=[1, 0], problems=["rastrigin", "sphere"], algorithms=["ga", "random"])
    assert run_campaign(reordered, tmp_path, progress=False).skipped_finished == 8


def test_second_campaign_in_the_same_folder_is_refused(tmp_path):
    with CampaignLock(tmp_path), pytest.raises(CampaignError, match="in use by pid"):
        run_campaign(_plan(), tmp_path, progress=False)


def test_loader_shows_pending_runs(tmp_path):
    plan = _plan()
    run_campaign(_plan(seeds=[0]), tmp_path, progress=False)
    (tmp_path / "campaign.json").write_text(json.dumps({"plan": plan.to_dict()}))
    df = load_campaign(tmp_path)
    assert list(df["status"].value_counts().sort_index().items()) == [
        ("finished", 4),
        ("pending", 4),
    ]


def _unbuildable_plan(weights: Path) -> Plan:
    """Diversity runs whose generator weights are ``weights``, listed before two sphere runs."""
    return Plan(
        problems=["diversity-mnist-rmse", "sphere"],
        algorithms=["random"],
        seeds=[0, 1],
        budget=20,
        problem_params={
            "diversity-mnist-rmse": {"k": 5, "weights": str(weights)},
            "sphere": {"dim": 8},
        },
        algo_params={"random": {"batch": 10}},
    )


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_problem_that_cannot_be_built_fails_its_own_runs_only(tmp_path, capsys, damage):
    weights = tmp_path / "dcgan-mnist.pt"
    if damage == "corrupt":
        weights.write_bytes((WEIGHTS / "dcgan-mnist.pt").read_bytes()[:1000])
    plan = _unbuildable_plan(weights)
    summary = run_campaign(plan, tmp_path / "c", progress=False)
    assert (summary.ran, summary.failed) == (4, 2)
    df = load_campaign(tmp_path / "c").set_index("problem")
    assert list(df.loc["sphere", "status"]) == ["finished", "finished"]
    failed = df.loc["diversity-mnist-rmse"]
    assert list(failed["status"]) == ["failed", "failed"]
    if damage == "missing":  # the message says how to get the file
        assert set(failed["error_type"]) == {"MissingWeightsError"}
        assert failed["error"].str.contains("not found at .*bench train-generator").all()
    else:
        assert failed["error"].str.contains("central directory").all()
        record = json.loads((Path(failed["path"].iloc[0]) / RECORD).read_text())
        assert "Traceback" in record["error"]["traceback"]  # kept to debug the cause
    # the command ends with status 1 and names the cause once per problem and message
    (tmp_path / "plan.toml").write_text(
        'budget = 20\nseeds = [0, 1]\nproblems = ["diversity-mnist-rmse", "sphere"]\n'
        'algorithms = ["random"]\n[problem.diversity-mnist-rmse]\nk = 5\n'
        f'weights = "{weights}"\n[problem.sphere]\ndim = 8\n[algo.random]\nbatch = 10\n'
    )
    capsys.readouterr()
    out_dir = tmp_path / "cli"
    assert (
        main(
            [
                "campaign",
                "--plan",
                str(tmp_path / "plan.toml"),
                "--out",
                str(out_dir),
                "--no-progress",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "ran 4 (2 failed)" in out
    assert "errors of the 2 failed run(s)" in out
    assert out.count("diversity-mnist-rmse × random (2 runs): ") == 1
    # fixed cause, --retry-failed: the two runs run again and finish
    if damage == "missing":
        weights.write_bytes((WEIGHTS / "dcgan-mnist.pt").read_bytes())
        again = run_campaign(plan, tmp_path / "c", progress=False, retry_failed=True)
        assert (again.ran, again.failed, again.skipped_finished) == (2, 0, 2)


def test_show_counts_only_finished_runs_and_respects_the_sense(tmp_path, capsys, monkeypatch):
    from bench.problems import analytic

    plan = Plan(
        problems=["sphere"],
        algorithms=["random", "ga"],
        seeds=[0, 1],
        budget=200,
        problem_params={"sphere": {"dim": 8}},
        algo_params={"ga": {"population": 20}},
    )
    evaluate = analytic.Sphere.evaluate

    def fails_after_a_batch(self, genomes):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 1 and os.environ.get("FAIL_GA") == "1":
            raise RuntimeError("lost the device")
        return evaluate(self, genomes)

    monkeypatch.setattr(analytic.Sphere, "evaluate", fails_after_a_batch)
    monkeypatch.setattr(analytic.Sphere, "sense", "max")  # best is now the largest
    random_only = {**plan.to_dict(), "algorithms": ["random"], "algo_params": {}}
    run_campaign(Plan(**random_only), tmp_path, progress=False)
    monkeypatch.setenv("FAIL_GA", "1")
    run_campaign(plan, tmp_path, progress=False, force=True)
    df = load_campaign(tmp_path)
    ga = df[df["algo"] == "ga"]
    assert set(ga["status"]) == {"failed"} and ga["best_fitness"].notna().all()  # partial bests
    assert main(["show", str(tmp_path)]) == 0
    lines = {
        line.split()[0] if line.startswith(" ") else line.split()[1]: line.split()
        for line in capsys.readouterr().out.splitlines()[2:4]
    }
    random = df[df["algo"] == "random"]
    assert lines["ga"][-5:] == ["-", "-", "-", "-", "-"]  # best, median, mean, std, evals/s
    assert float(lines["random"][-5]) == pytest.approx(random["best_fitness"].max(), rel=1e-3)
    assert float(lines["random"][-4]) == pytest.approx(random["best_fitness"].median(), rel=1e-3)
    assert float(lines["random"][-2]) == pytest.approx(random["best_fitness"].std(), rel=1e-3)


def test_plan_file(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(
        'budget = 300\nseeds = 2\nproblems = "all"\nalgorithms = ["random"]\n'
        "[problem.sphere]\ndim = 8\n[algo.random]\nbatch = 50\n"
    )
    plan = load_plan(path)
    assert plan.problems == registry("problems").names() and plan.seeds == [0, 1]
    assert {"rastrigin", "sphere"} <= set(plan.problems)
    assert (
        plan.problem_params == {"sphere": {"dim": 8}} and plan.algo_params["random"]["batch"] == 50
    )
    path.write_text("budget = \n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_plan(path)
    path.write_text('budget = 10\nproblems = ["sphere"]\nalgorithms = ["gaa"]\n')
    with pytest.raises(UnknownNameError, match="did you mean 'ga'"):
        load_plan(path)
    for lists, message in [
        ('seeds = [0, 3, 3]\nproblems = ["sphere"]\nalgorithms = ["ga"]', "seeds listed more"
         " than once: 3;"),
        ('problems = ["sphere", "face", "sphere"]\nalgorithms = ["ga", "random", "ga"]',
         "problems listed more than once: 'sphere';"),
        ('problems = ["sphere"]\nalgorithms = ["ga", "random", "ga"]',
         "algorithms listed more than once: 'ga';"),
        ('seeds = [0, true]\nproblems = ["sphere"]\nalgorithms = ["ga"]',
         "seeds are Python ints from 0, got True"),
    ]:  # they were dropped silently, so the plan ran fewer runs than it listed
        path.write_text(f"budget = 10\n{lists}\n")
        with pytest.raises(SpecError, match=message):
            load_plan(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [0, 0]}, "seeds listed more than once: 0;"),
        ({"seeds": [0, True]}, "seeds are Python ints from 0, got True"),
        ({"seeds": [-1]}, "seeds are Python ints from 0, got -1"),
        ({"seeds": 3}, "non-empty list of integers"),
        ({"problems": ["sphere", "sphere"]}, "problems listed more than once: 'sphere';"),
        ({"algorithms": ["ga", "ga"]}, "algorithms listed more than once: 'ga';"),
    ],
)
def test_plan_from_python_is_checked_like_a_plan_file(change, message):
    """``Plan.validate`` (the Python API) and ``load_plan`` share one check of seeds and names."""
    with pytest.raises(SpecError, match=message):
        _plan(**change).validate()


def _start_campaign(folder):
    return subprocess.Popen(
        [
            str(BIN / "bench"),
            "campaign",
            "--problems",
            "sphere",
            "--algos",
            "random",
            "ga",
            "--seeds",
            "3",
            "--budget",
            "60000",
            "--out",
            str(folder),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background jobs with SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the child the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _finished(folder):
    runs = folder / "runs"
    return [p for p in runs.iterdir() if (p / RECORD).exists()] if runs.exists() else []


def _wait_for_runs(proc, folder, n, timeout=120):
    deadline = time.time() + timeout
    while len(_finished(folder)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "campaign too slow"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_loses_no_finished_run_and_resume_completes(tmp_path):
    folder = tmp_path / "c"
    proc = _start_campaign(folder)
    _wait_for_runs(proc, folder, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: json.loads((p / RECORD).read_text()) for p in _finished(folder)}
    assert len(done) >= 2 and all(r["status"] == "finished" for r in done.values())
    visible = [p for p in (folder / "runs").iterdir() if not p.name.startswith(".")]
    assert len(visible) == len(done), "a half-written run folder is visible"

    resumed = subprocess.run(proc.args, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipped {len(done)} finished" in resumed.stdout
    df = load_campaign(folder)
    assert len(df) == 6 and set(df["status"]) == {"finished"}
    assert not list((folder / "runs").glob(".tmp-*"))
    for run_id, record in done.items():  # finished runs were not repeated
        assert json.loads((folder / "runs" / run_id / RECORD).read_text()) == record

    # and the interrupted campaign equals an uninterrupted one, run for run
    straight = tmp_path / "straight"
    subprocess.run(
        [*proc.args[:-3], "--out", str(straight), "--no-progress"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    reference = load_campaign(straight).set_index("run_id")["best_fitness"]
    assert load_campaign(folder).set_index("run_id")["best_fitness"].equals(reference)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly(tmp_path):
    folder = tmp_path / "c"
    proc = _start_campaign(folder)
    _wait_for_runs(proc, folder, 1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (len(_finished(folder)), out, err)
    assert "re-run the same command to resume" in err
    assert "Traceback" not in err
    assert not list((folder / "runs").glob(".tmp-*"))


def test_budgets_may_differ_between_problems_not_algorithms(tmp_path):
    plan = _plan(budget={"default": 300, "rastrigin": 200}, seeds=[0])
    run_campaign(plan, tmp_path, progress=False)
    df = load_campaign(tmp_path)
    per_problem = df.groupby("problem")["evaluations"].unique().to_dict()
    assert per_problem["sphere"].tolist() == [300] and per_problem["rastrigin"].tolist() == [200]
    with pytest.raises(SpecError, match="no budget for problem 'sphere'"):
        _plan(budget={"rastrigin": 200}).validate()
    with pytest.raises(SpecError, match="'ackley', which is not in it"):
        _plan(budget={"default": 100, "ackley": 200}).validate()
    toml = tmp_path / "plan.toml"
    toml.write_text(
        'problems = ["sphere"]\nalgorithms = ["random"]\n[budget]\ndefault = 50\nsphere = 70\n'
    )
    assert next(load_plan(toml).specs()).budget == 70


PLAN_HEAD = 'budget = 100\nseeds = 1\nproblems = ["sphere"]\nalgorithms = ["random"]\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('budget = 100\nproblems = 5\nalgorithms = ["random"]', 'problems must be "all" or a list'),
        ('budget = 100\nproblems = [1, 2]\nalgorithms = ["random"]', "problems must be"),
        ('budget = 100\nproblems = [["sphere"]]\nalgorithms = ["random"]', "problems must be"),
        ('budget = 100\nproblems = ["sphere"]\nalgorithms = [{a = 1}]', "algorithms must be"),
        (PLAN_HEAD + "problem = 5", "'problem' must be a table of tables"),
        (PLAN_HEAD + "problem = {sphere = 5}", r"\[problem.sphere\] must be a table of parameters"),
        (PLAN_HEAD + "algo = {x = 5}", r"\[algo.x\] must be a table of parameters, got 5"),
        (PLAN_HEAD + 'algo = "random"', "'algo' must be a table of tables"),
        (PLAN_HEAD + "[algo.random]\npreset = 5", r"\[algo.random\] preset must be a preset's"),
        (
            PLAN_HEAD.replace("random", "pymoo:de")
            + '[algo."pymoo:de"]\nwhen = 1979-05-27T07:32:00Z',
            r'\[algo."pymoo:de"\] when is a datetime',
        ),
        (PLAN_HEAD + "[algo.random]\nbatch = {a = 1}", r"\[algo.random\] batch is a dict"),
        (PLAN_HEAD + "[problem.sphere]\ndim = nan", r"\[problem.sphere\] dim = nan is not a"),
        (PLAN_HEAD + "[algo.random]\nbatch = [1, [inf]]", r"batch = inf is not a finite number"),
        ('budget = {default = 100.5}\nproblems = ["sphere"]\nalgorithms = ["random"]', "budget"),
        ('budget = 100\nseeds = 2.0\nproblems = ["sphere"]\nalgorithms = ["random"]', "seeds"),
    ],
)
def test_a_plan_file_of_the_wrong_shape_is_a_usage_error(tmp_path, capsys, body, message):
    """Wrong types in a plan file name the file and the key, in one line with status 2."""
    path = tmp_path / "plan.toml"
    path.write_text(body + "\n")
    with pytest.raises(SpecError, match=message) as caught:
        load_plan(path)
    assert str(caught.value).startswith(f"plan file {path}: ")
    assert main(["campaign", "--plan", str(path), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err, err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [0.5, float("-inf")]])
def test_a_plan_refuses_non_finite_parameters(tmp_path, value):
    """NaN never equals itself, so a campaign with one could not even resume."""
    plan = _plan(algo_params={"ga": {"cxpb": value}})
    with pytest.raises(SpecError, match=r"\[algo.ga\] cxpb = -?(nan|inf) is not a finite number"):
        run_campaign(plan, tmp_path, progress=False)
    assert not (tmp_path / "campaign.json").exists()


def test_a_run_that_cannot_start_keeps_its_provenance(tmp_path):
    def missing_weights(spec):
        raise FileNotFoundError("no weights here")

    plan = Plan(problems=["sphere"], algorithms=["random"], seeds=[0], budget=100)
    assert run_campaign(plan, tmp_path, progress=False, run_fn=missing_weights).failed == 1
    (run,) = (tmp_path / "runs").iterdir()
    record = json.loads((run / RECORD).read_text())
    assert record["status"] == "failed" and record["error"]["type"] == "FileNotFoundError"
    assert record["finished"] >= record["started"]
    prov = record["provenance"]
    assert prov["schema_version"] == 1 and "commit" in prov and "dirty" in prov
    assert prov["packages"]["numpy"] and prov["machine"]["device"] == "cpu"
    assert prov["blas"] and prov["weights"] == {}


def test_damaged_run_records_are_failed_runs_everywhere(tmp_path, capsys):
    """show and load_campaign called them pending, the leaderboard failed, resume re-ran them."""
    plan = Plan(problems=["sphere"], algorithms=["random"], seeds=[0, 1], budget=400)
    run_campaign(plan, tmp_path, progress=False)
    first, second = sorted((tmp_path / "runs").iterdir())
    (first / RECORD).write_text("[1, 2]")
    (second / RECORD).write_text('{"spec": {"problem": "sphere"}, "status": "finished"}')
    (tmp_path / "runs" / "stray").mkdir()
    (tmp_path / "runs" / "stray" / RECORD).write_text("{}")
    with pytest.warns(UserWarning, match="malformed run record") as caught:
        df = load_campaign(tmp_path)
    assert len(caught) == 3 and list(df["status"]) == ["failed", "failed"]
    assert set(df["error_type"]) == {"UnreadableRecord"}
    with pytest.warns(UserWarning, match="malformed run record"):
        assert main(["show", str(tmp_path)]) == 0
    assert "sphere" in capsys.readouterr().out
    # a plain resume keeps them, like any failed run; --retry-failed runs them again
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "2"]
    args += ["--budget", "400", "--out", str(tmp_path), "--no-progress"]
    with pytest.warns(UserWarning, match="malformed run record"):
        assert main(args) == 1
    assert "skipped 0 finished and 2 failed" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="malformed run record"):
        assert main([*args, "--retry-failed"]) == 0
    assert "ran 2 (0 failed)" in capsys.readouterr().out


def test_a_campaign_folder_without_runs_shows_them_pending(tmp_path, capsys):
    (tmp_path / "campaign.json").write_text(json.dumps({"plan": _plan().to_dict()}))
    assert main(["show", str(tmp_path)]) == 0
    assert "sphere" in capsys.readouterr().out
    assert set(load_campaign(tmp_path)["status"]) == {"pending"}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"budget": "x"}, "holds a damaged plan: budget must be a positive integer"),
        ({"budget": -5}, "holds a damaged plan: budget must be a positive integer"),
        ({"seeds": "abc"}, "holds a damaged plan: seeds must be a non-empty list of integers"),
        ({"seeds": [0, "1"]}, "holds a damaged plan: seeds are Python ints from 0"),
        ({"problems": 5}, "holds a damaged plan: problems must be a list of names"),
        ({"algo_params": "ga"}, "holds a damaged plan: 'algo' must be a table of tables"),
    ],
)
def test_a_damaged_stored_plan_is_a_usage_error(tmp_path, capsys, damage, message):
    (tmp_path / "campaign.json").write_text(json.dumps({"plan": {**_plan().to_dict(), **damage}}))
    assert main(["show", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("blocker", ["runs", ".lock"])
def test_a_campaign_folder_with_a_file_or_folder_in_the_way(tmp_path, capsys, blocker):
    if blocker == "runs":
        (tmp_path / "runs").write_text("not a folder")
        message = f"{tmp_path / 'runs'} is a file, not a folder"
    else:
        (tmp_path / ".lock").mkdir()
        message = f"cannot open the lock file {tmp_path / '.lock'} (Is a directory)"
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--budget", "100"]
    assert main([*args, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_campaign_bar_shows_the_current_run_s_evaluations(tmp_path, capsys):
    """A bar of whole runs alone sat at 0/900 for the first 20-minute run: it looked stuck."""
    plan = Plan(problems=["sphere"], algorithms=["random"], seeds=[0], budget=300)
    run_campaign(plan, tmp_path / "c", progress=True)
    err = capsys.readouterr().err
    assert "1/1 [" in err  # the campaign's bar of runs
    assert "0/300 [" in err and "eval/s" in err  # and, under it, the run's evaluations


def test_resume_warns_about_runs_made_under_a_preset_s_earlier_settings(tmp_path):
    """ga-set's paper preset changed (its elite is evaluated again) under the same run ids."""
    plan = Plan(["sphere"], ["ga-set"], [0, 1], 150, algo_params={"ga-set": {"preset": "paper"}})
    folder = tmp_path / "c"
    run_campaign(plan, folder, progress=False)
    old = next((folder / "runs").iterdir()) / RECORD
    record = json.loads(old.read_text())
    del record["algorithm"]["params"]["evaluate_elite"]  # as the preset's runs recorded it
    old.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match=r"1 finished run\(s\) in .* ran ga-set's preset 'paper' "
                      r"with other settings than it has now \(evaluate_elite\)"):
        again = run_campaign(plan, folder, progress=False)
    assert again.ran == 0
    rerun = run_campaign(plan, folder, progress=False, rerun_changed=True)
    assert (rerun.ran, rerun.rerun_changed) == (1, 1)
    assert json.loads(old.read_text())["algorithm"]["params"]["evaluate_elite"] is True

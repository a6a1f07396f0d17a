"""The bench command as a user meets it: output, folders, and one-line usage errors."""

import json

import pytest
import torch

from bench.registry import registry


def test_list_shows_every_registered_name_with_a_description(bench_here):
    result = bench_here("list")
    assert result.returncode == 0, result.stderr
    for kind in ("problems", "algorithms", "generators"):
        assert f"{kind}:" in result.stdout
        for name in registry(kind).names():
            line = next(
                ln for ln in result.stdout.splitlines() if ln.strip().startswith(name + " ")
            )
            assert len(line.split(None, 1)[1]) > 10, line
    only = bench_here("list", "algorithms")
    assert "problems:" not in only.stdout and "presets: paper, quick" in only.stdout


def test_run_prints_summary_and_writes_a_numbered_folder(bench_cmd, tmp_path):
    args = (
        "run",
        "--problem",
        "sphere",
        "--algo",
        "ga",
        "--budget",
        "300",
        "--seed",
        "4",
        "--set",
        "population=20",
        "--set",
        "problem.dim=10",
        "--out",
        str(tmp_path),
    )
    result = bench_cmd(*args)
    assert result.returncode == 0, result.stderr
    assert "status     finished" in result.stdout
    assert "evals      300" in result.stdout
    assert "eval/s" in result.stderr  # the progress bar reports evaluations per second
    folder = tmp_path / "00001-sphere-ga-s4"
    record = json.loads((folder / "record.json").read_text())
    assert record["spec"]["algo_params"] == {"population": 20}
    assert record["spec"]["problem_params"] == {"dim": 10}
    assert bench_cmd(*args).returncode == 0
    assert (tmp_path / "00002-sphere-ga-s4").is_dir()
    shown = bench_cmd("show", str(folder))
    assert shown.returncode == 0 and "best" in shown.stdout
    both = bench_cmd("show", str(tmp_path))
    assert both.stdout.count("status     finished") == 2


def test_preset_supplies_the_budget(bench_cmd, tmp_path):
    result = bench_cmd(
        "run",
        "--problem",
        "sphere",
        "--algo",
        "ga",
        "--preset",
        "quick",
        "--out",
        str(tmp_path),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "budget 2000" in result.stdout and "preset quick" in result.stdout


def test_campaign_and_show(bench_cmd, tmp_path):
    out = tmp_path / "c"
    result = bench_cmd(
        "campaign",
        "--problems",
        "sphere",
        "rastrigin",
        "--algos",
        "random",
        "ga",
        "--seeds",
        "2",
        "--budget",
        "400",
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "8 runs planned; ran 8 (0 failed)" in result.stdout
    again = bench_cmd(
        "campaign",
        "--problems",
        "sphere",
        "rastrigin",
        "--algos",
        "random",
        "ga",
        "--seeds",
        "2",
        "--budget",
        "400",
        "--out",
        str(out),
        "--no-progress",
    )
    assert "ran 0" in again.stdout and "skipped 8 finished" in again.stdout
    shown = bench_cmd("show", str(out))
    assert shown.returncode == 0
    assert "sphere" in shown.stdout and "rastrigin" in shown.stdout
    header = shown.stdout.splitlines()[0].split()
    assert header[header.index("mean") + 1] == "std"  # spread over seeds, as the leaderboard's


def test_a_run_shows_what_set_changed(tmp_path, capsys):
    """Runs that differed only in --set (generator, weights, k) printed the same spec line."""
    from bench.cli import main

    args = ["run", "--problem", "sphere", "--algo", "ga", "--budget", "100", "--out"]
    assert main([*args, str(tmp_path), "--set", "dim=4", "--set", "population=20"]) == 0
    assert "set        problem.dim=4  algo.population=20" in capsys.readouterr().out


@pytest.fixture
def not_a_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    return path / "sub"


BAD = {
    "unknown problem": (["run", "--problem", "sphre", "--algo", "ga"], "did you mean 'sphere'"),
    "unknown algorithm": (
        ["run", "--problem", "sphere", "--algo", "randm"],
        "did you mean 'random'",
    ),
    "algorithm in capitals": (["run", "--problem", "sphere", "--algo", "GA"], "did you mean 'ga'"),
    "budget zero": (["run", "--problem", "sphere", "--algo", "ga", "--budget", "0"], "positive"),
    "budget negative": (
        ["run", "--problem", "sphere", "--algo", "ga", "--budget", "-3"],
        "positive",
    ),
    "budget below a batch": (
        ["run", "--problem", "sphere", "--algo", "ga", "--budget", "10"],
        "smaller than one batch of 'ga' (200 evaluations); raise the budget or lower the batch "
        "(option population)",
    ),
    "budget not a number": (
        ["run", "--problem", "sphere", "--algo", "ga", "--budget", "lots"],
        "expected an integer",
    ),
    "malformed set": (
        ["run", "--problem", "sphere", "--algo", "ga", "--set", "cxpb"],
        "malformed --set 'cxpb'",
    ),
    "unknown set key": (
        ["run", "--problem", "sphere", "--algo", "ga", "--set", "cxbp=0.5"],
        "no such parameter",
    ),
    "wrong set type": (
        ["run", "--problem", "sphere", "--algo", "ga", "--set", "population=big"],
        "expects int",
    ),
    "bad set prefix": (
        ["run", "--problem", "sphere", "--algo", "ga", "--set", "x.dim=3"],
        "prefix must be",
    ),
    "unknown preset": (
        ["run", "--problem", "sphere", "--algo", "ga", "--preset", "fast"],
        "no preset 'fast'",
    ),
    "unknown device": (
        ["run", "--problem", "sphere", "--algo", "ga", "--device", "gpu"],
        "unknown device 'gpu'; valid: cpu, cuda, cuda:N",
    ),
    "device of a CPU-only problem": (
        ["run", "--problem", "sphere", "--algo", "ga", "--device", "cuda:0"],
        "CUDA is not available" if not torch.cuda.is_available() else "runs on the CPU only",
    ),
    "campaign on an unknown device": (
        ["campaign", "--problems", "sphere", "--algos", "ga", "--budget", "500", "--out", "OUT",
         "--device", "tpu"],
        "unknown device 'tpu'",
    ),
    "missing plan": (
        ["campaign", "--plan", "/nonexistent/plan.toml", "--out", "OUT"],
        "no plan file /nonexistent/plan.toml; the embedded plans are: leaderboard, "
        "leaderboard-sphere, quickstart, set-diversity-mnist-rmse, set-diversity-paper",
    ),
    "negative seed": (
        ["run", "--problem", "sphere", "--algo", "ga", "--seed", "-1"],
        "argument --seed: expected a seed of 0 or more, got '-1'",
    ),
    "zero budget": (
        ["campaign", "--problems", "sphere", "--algos", "ga", "--budget", "0", "--out", "OUT"],
        "argument --budget: expected a positive integer",
    ),
    "zero batch": (
        ["train-generator", "dcgan-mnist", "--batch", "0", "--out", "OUT"],
        "argument --batch: expected a positive integer",
    ),
    "zero epochs": (
        ["train-generator", "dcgan-mnist", "--epochs", "0", "--out", "OUT"],
        "argument --epochs: expected a positive integer",
    ),
    "face resolution not a power of 2": (
        ["train-generator", "dcgan-faces", "--resolution", "100", "--out", "OUT"],
        "--resolution must be a power of 2 from 32, got 100",
    ),
    "same --set twice": (
        ["run", "--problem", "sphere", "--algo", "ga", "--set", "population=20",
         "--set", "population=30"],
        "--set population given twice (20 and 30)",
    ),
    "negative target seed": (
        ["run", "--problem", "face", "--algo", "ga", "--set", "target=seed:-1"],
        "target seed must be an integer from 0: 'seed:-1'",
    ),
    "zero kimg": (["train-generator", "stylegan2", "--kimg", "0"], "expected a positive number"),
    "negative minutes": (
        ["train-generator", "stylegan2", "--max-minutes", "-1"],
        "expected a positive number",
    ),
    "zero samples": (["export-generator", "stylegan2", "--samples", "0"], "positive integer"),
    "training on an unknown device": (
        ["train-generator", "dcgan-mnist", "--device", "tpu", "--out", "OUT"],
        "unknown device 'tpu'",
    ),
    "distance on an absent GPU": (
        ["distance", "A.jpg", "B.jpg", "--device", "cuda"],
        "CUDA is not available" if not torch.cuda.is_available() else "no such file",
    ),
    "unknown trainable generator": (
        ["export-generator", "nope"],
        "dcgan-faces, dcgan-fashion, dcgan-mnist, stylegan2",
    ),
    "garbage weight file": (
        ["run", "--problem", "diversity-mnist-rmse", "--algo", "random",
         "--set", "weights=GARBAGE"],
        "cannot read weights of 'dcgan-mnist' from",
    ),
    "garbage StyleGAN2 file": (
        ["run", "--problem", "face", "--algo", "ga", "--set", "generator=stylegan2-ffhq",
         "--set", "weights=GARBAGE"],
        "is not a readable torch file (UnpicklingError",
    ),
    "garbage crop weights": (
        ["calibrate-crop", "dcgan-faces", "--weights", "GARBAGE", "--samples", "5"],
        "cannot read weights of 'dcgan-faces' from",
    ),
    "pymoo option out of range": (
        ["run", "--problem", "sphere", "--algo", "pymoo:de", "--set", "pop_size=0"],
        "DE fails with the options pop_size=0",
    ),
    "pymoo option not a number": (
        ["run", "--problem", "sphere", "--algo", "pymoo:pso", "--set", "w=abc"],
        "PSO option w expects a number (default 0.9), got 'abc'",
    ),
    "cma popsize": (
        ["run", "--problem", "sphere", "--algo", "pymoo:cmaes", "--set", "popsize=0"],
        "popsize must be an integer of at least 2",
    ),
    "cma sigma above its cap": (
        ["run", "--problem", "sphere", "--algo", "pymoo:cmaes", "--set", "sigma=0.5"],
        "sigma=0.5 exceeds cma's cap on a coordinate's std, 0.333333 of the box",
    ),
    "seed as an option": (
        ["run", "--problem", "sphere", "--algo", "pymoo:cmaes", "--set", "seed=5"],
        "'seed' is the run's own",
    ),
    "unknown pyribs ranker": (
        ["run", "--problem", "sphere", "--algo", "cma-me", "--set", "ranker=bogus"],
        "unknown ranker 'bogus'. Valid: ",
    ),
    "campaign without plan": (["campaign", "--out", "OUT"], "needs --plan"),
    "unknown in campaign": (
        ["campaign", "--problems", "all", "--algos", "gx", "--budget", "500", "--out", "OUT"],
        "unknown algorithm 'gx'",
    ),
    "problem listed twice": (
        ["campaign", "--problems", "sphere", "sphere", "--algos", "ga", "--budget", "100",
         "--out", "OUT"],
        "problems listed more than once: 'sphere'; list each once",
    ),
    "show nothing": (["show", "/nonexistent"], "/nonexistent does not exist"),
    "show a file": (["show", "OUT_FILE"], "neither a run folder nor a campaign folder"),
}


def _bad_args(case: str, tmp_path) -> list[str]:
    """The command line of ``BAD[case]``, its placeholders filled in under ``tmp_path``."""
    args = BAD[case][0]
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("not a weight file\n")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    args = [str(garbage) if a == "OUT_FILE" else a for a in args]
    args = [a.replace("GARBAGE", str(garbage)) for a in args]
    return [*args, "--out", str(tmp_path / "o")] if args[0] == "run" else args


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gets_one_line_and_exit_2(bench_here, tmp_path, case):
    message = BAD[case][1]
    result = bench_here(*_bad_args(case, tmp_path))  # in this process: 43 starts saved
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1, result.stderr


# An argparse error, a registry lookup, a weight file read by torch, a pymoo option check.
INSTALLED = ["zero budget", "unknown in campaign", "garbage StyleGAN2 file",
             "pymoo option out of range"]


@pytest.mark.parametrize("case", INSTALLED)
def test_the_installed_command_refuses_as_the_in_process_one(bench_cmd, bench_here, tmp_path,
                                                             case):
    """The bad-input cases run in this process; the command itself says the same."""
    args = _bad_args(case, tmp_path)
    installed, here = bench_cmd(*args), bench_here(*args)
    assert installed.returncode == here.returncode == 2
    assert installed.stderr == here.stderr and BAD[case][1] in installed.stderr
    assert installed.stdout == here.stdout


def test_invalid_toml_plan(bench_cmd, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text("budget = [\n")
    result = bench_cmd("campaign", "--plan", str(plan), "--out", str(tmp_path / "c"))
    assert result.returncode == 2 and "not valid TOML" in result.stderr


@pytest.mark.parametrize("command", ["run", "campaign"])
def test_unwritable_output_folder(bench_cmd, not_a_folder, command):
    if command == "run":
        args = ["run", "--problem", "sphere", "--algo", "random", "--budget", "100"]
    else:
        args = ["campaign", "--problems", "sphere", "--algos", "random", "--budget", "100"]
    result = bench_cmd(*args, "--out", str(not_a_folder))
    assert result.returncode == 2
    assert "is not writable" in result.stderr and "Traceback" not in result.stderr


def test_locked_campaign_folder_is_refused(bench_cmd, tmp_path):
    from bench.campaign import CampaignLock

    with CampaignLock(tmp_path):
        result = bench_cmd(
            "campaign",
            "--problems",
            "sphere",
            "--algos",
            "random",
            "--budget",
            "100",
            "--out",
            str(tmp_path),
        )
    assert result.returncode == 2 and "in use by pid" in result.stderr


def test_campaign_on_a_named_device(bench_cmd, tmp_path):
    out = tmp_path / "c"
    args = ["campaign", "--problems", "sphere", "--algos", "random", "--seeds", "1"]
    res = bench_cmd(*args, "--budget", "200", "--out", str(out), "--device", "cpu", "--no-progress")
    assert res.returncode == 0, res.stderr
    (run,) = (out / "runs").iterdir()
    record = json.loads((run / "record.json").read_text())
    assert record["status"] == "finished" and record["provenance"]["machine"]["device"] == "cpu"


MORE_BAD = {
    "a parameter set two ways": (
        ["--algo", "ga", "--set", "problem.dim=5", "--set", "dim=6"],
        "--set dim given twice (problem.dim=5 and dim=6); set it once",
    ),
    "a parameter set three ways": (
        ["--algo", "ga", "--set", "algo.population=20", "--set", "algorithm.population=30",
         "--set", "population=40"],
        "--set population given twice (algo.population=20 and algorithm.population=30)",
    ),
    "an optional float given a word": (
        ["--algo", "cma-mae", "--budget", "400", "--set", "threshold_min=abc"],
        "algo parameter 'threshold_min' expects float, got 'abc'",
    ),
    "an optional float given nan": (
        ["--algo", "cma-mae", "--budget", "400", "--set", "threshold_min=nan"],
        "algo parameter 'threshold_min' expects float, got 'nan'",
    ),
    "a weight file given a number": (
        ["--algo", "random", "--set", "problem.weights=5"],
        "problem parameter 'weights' expects str, got 5",
    ),
    "an empty --out": (
        ["--algo", "random", "--budget", "100", "--out", ""],
        "--out needs a folder name, got an empty one",
    ),
    "a problem too large for memory": (
        ["--algo", "random", "--budget", "100", "--set", "problem.dim=100000000000"],
        "problem 'sphere' does not fit in memory: Unable to allocate 745. GiB",
    ),
}


@pytest.mark.parametrize("case", list(MORE_BAD))
def test_bad_run_options_get_one_line_and_exit_2(tmp_path, capsys, monkeypatch, case):
    """In-process, so quick: the run must stop before it spends any evaluation."""
    from bench.cli import main

    args, message = MORE_BAD[case]
    problem = "diversity-mnist-rmse" if "weight file" in case else "sphere"
    monkeypatch.chdir(tmp_path)  # an empty --out must not write into the current folder
    argv = ["run", "--problem", problem, "--out", str(tmp_path / "o"), *args, "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    # nothing written: at most the --out folder, checked writable before the problem is built
    assert all(p.name == "o" and not any(p.iterdir()) for p in tmp_path.iterdir())


def test_show_skips_damaged_records_with_one_line_each(bench_cmd, tmp_path):
    from bench.cli import main

    runs = tmp_path / "runs"
    args = ["run", "--problem", "sphere", "--algo", "random", "--budget", "100", "--no-progress"]
    assert main([*args, "--out", str(runs)]) == 0
    for name, text in [("a", "[1, 2]"), ("b", "{}"), ("c", '{"spec": {"problem": "sphere"}}')]:
        (runs / name).mkdir()
        (runs / name / "record.json").write_text(text)
    shown = bench_cmd("show", str(runs))
    assert shown.returncode == 0 and shown.stdout.count("status     finished") == 1
    warned = shown.stderr.splitlines()
    assert [line.split(f"{runs}/")[1].split("/")[0] for line in warned] == ["a", "b", "c"]
    assert all(line.startswith("bench: warning: skipping malformed run record") for line in warned)
    for name, reason in [("a", "a JSON list, not an object"), ("b", "no 'spec' object")]:
        alone = bench_cmd("show", str(runs / name))  # one run folder: nothing left to show
        assert alone.returncode == 2 and alone.stderr.count("\n") == 1, alone.stderr
        assert f"malformed run record {runs / name / 'record.json'}: {reason}" in alone.stderr
    (runs / "00001-sphere-random-s0" / "record.json").write_text("[]")
    none_left = bench_cmd("show", str(runs))
    assert none_left.returncode == 2 and "none of its 4 run record(s) is usable" in none_left.stderr
    assert "Traceback" not in none_left.stderr and len(none_left.stderr.splitlines()) == 5


def test_a_run_summary_shows_target_warnings_and_the_report(capsys, tmp_path):
    """The face verdict (beats the baseline?) and a two-faces note were in record.json only."""
    from bench.commands.search import _print_record

    record = {
        "spec": {"problem": "face", "algo": "ga", "seed": 0, "budget": 100},
        "status": "finished",
        "best_fitness": 0.77,
        "problem": {"sense": "min", "target_warnings": ["couple.jpg: 2 faces found"]},
        "report": {
            "facenet_distance": 0.7759, "baseline_distance": 0.8233, "beats_baseline": True,
            "facenet_embedding": [0.1] * 512,
        },
    }
    _print_record(record, tmp_path)
    out = capsys.readouterr().out
    assert "note       couple.jpg: 2 faces found" in out
    report = "facenet_distance 0.7759  baseline_distance 0.8233  beats_baseline yes\n"
    assert f"report     {report}" in out


def test_version_names_the_release_and_the_checkouts_commit(capsys):
    import re
    import subprocess
    import tomllib
    from pathlib import Path

    from bench.cli import main

    root = Path(__file__).resolve().parents[1]
    release = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"latent-bench {release}"), line
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    if head:  # a checkout: the commit its records carry
        assert f"(commit {head[:12]}" in line
    # the citation file cites the same release
    cited = re.search(r"^version: (\S+)$", (root / "CITATION.cff").read_text(), re.M)
    assert cited is not None and cited.group(1) == release

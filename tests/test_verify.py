"""``bench verify``: recorded runs run again, and what differs when they do not repeat."""

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.results import CURVE, IMPROVEMENTS, RECORD
from bench.spec import RunSpec
from bench.verify import (
    differences,
    fingerprint,
    improvements_parted_at,
    machine_parts,
    recorded_runs,
)

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "results" / "leaderboard"


def _one_run(tmp_path: Path, capsys) -> Path:
    """A finished sphere × ga run folder (300 evaluations, generations of 50)."""
    assert main(["run", "--problem", "sphere", "--algo", "ga", "--budget", "300",
                 "--set", "population=50",
                 "--seed", "3", "--out", str(tmp_path / "runs"), "--no-progress"]) == 0
    capsys.readouterr()
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


def _edit_record(folder: Path, change) -> None:
    record = json.loads((folder / RECORD).read_text())
    change(record)
    (folder / RECORD).write_text(json.dumps(record))


def test_a_run_repeats_and_an_edited_record_does_not(tmp_path, capsys):
    folder = _one_run(tmp_path, capsys)
    assert main(["verify", str(folder), "--no-progress", "--rtol", "0"]) == 0
    out = capsys.readouterr().out
    assert "verified   1 of 1 repeat (1 identical" in out and "identical" in out

    def worse(record):
        record["best_fitness"] *= 1.01
    _edit_record(folder, worse)
    assert main(["verify", str(folder), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "(-9.90e-03 relative)" in out and "parted at" not in out

    _edit_record(folder, lambda record: record.update(best_fitness=record["best_fitness"] / 1.01))
    curve = pd.read_parquet(folder / CURVE)
    curve.loc[3, "batch_mean"] += 1e-3  # the fourth batch's mean: parted there, same best
    curve.to_parquet(folder / CURVE, index=False)
    assert main(["verify", str(folder), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"parted at evaluation {int(curve.loc[3, 'evaluations'])}" in out


def test_another_blas_kernel_is_named_with_the_variable_that_brings_it_back(tmp_path, capsys):
    folder = _one_run(tmp_path, capsys)

    def other_cpu(record):
        assert record["provenance"]["blas"], "no BLAS recorded: nothing to compare"
        for lib in record["provenance"]["blas"]:
            lib["architecture"] = "Prescott"
        record["best_fitness"] += 1.0
    _edit_record(folder, other_cpu)
    assert main(["verify", str(folder), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "OpenBLAS " in out and "recorded Prescott" in out
    assert "hint       OPENBLAS_CORETYPE=Prescott bench verify" in out


def test_a_campaign_sample_repeats_and_is_kept_with_a_table(tmp_path, capsys):
    campaign = tmp_path / "c"
    assert main(["campaign", "--problems", "sphere", "rastrigin", "--algos", "random", "ga",
                 "--seeds", "2", "--budget", "200", "--out", str(campaign),
                 "--no-progress"]) == 0
    capsys.readouterr()
    out_dir = tmp_path / "again"
    args = ["verify", str(campaign), "--sample", "3", "--algo", "ga", "--out", str(out_dir)]
    assert main([*args, "--no-progress", "--rtol", "0"]) == 0
    out = capsys.readouterr().out
    assert "verify     3 of the 8 finished runs" in out and "3 identical" in out
    table = pd.read_csv(out_dir / "verify.csv")
    assert list(table["status"]) == ["identical"] * 3 and set(table["algo"]) == {"ga"}
    assert (table["recorded"] == table["rerun"]).all()
    assert len([p for p in out_dir.iterdir() if p.is_dir()]) == 3
    runs, _ = recorded_runs(campaign)
    assert set(table["run_id"]) <= {r.spec.run_id for r in runs}


def test_the_published_board_repeats_its_analytic_runs(capsys):
    """Every sphere and rastrigin run of random sampling, the GA and DE on the published board.

    None of them decomposes a matrix, so they repeat on any CPU; CMA-ES's runs may not
    where OpenBLAS picks other kernels than the board's host did (see README).
    """
    assert BOARD.is_dir(), "the published leaderboard is part of the repository"
    algos = ["random", "ga", "pymoo:de"]
    args = ["verify", str(BOARD), "--problem", "sphere", "rastrigin", "--algo", *algos]
    code = main([*args, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verified   30 of 30 repeat" in out


def test_a_run_whose_algorithm_is_not_here_fails_without_stopping_the_rest(tmp_path, capsys):
    folder = _one_run(tmp_path, capsys)
    gone = folder.parent / "99999-gone"
    gone.mkdir()
    record = json.loads((folder / RECORD).read_text())
    spec = RunSpec.from_dict({**record["spec"], "algo": "my-gone-es"})
    record.update(spec=spec.to_dict(), run_id=spec.run_id)
    (gone / RECORD).write_text(json.dumps(record))
    assert main(["verify", str(folder.parent), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "unknown algorithm 'my-gone-es'" in out
    assert "verified   1 of 2 repeat" in out and "1 failed" in out


def test_usage_errors_say_what_is_wrong_in_one_line(tmp_path, capsys):
    folder = _one_run(tmp_path, capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, words in (
        ([str(tmp_path / "nowhere")], "does not exist"),
        ([str(empty)], "holds no recorded run: give a run folder"),
        ([str(folder), "--problem", "sphre"], "of problem 'sphre'; there are: sphere"),
        ([str(folder), "--run", "zz"], "give at least 4 of its hex digits"),
        ([str(folder), "--run", "0000"], "no finished run has an id starting with '0000'"),
    ):
        assert main(["verify", *args]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(folder), "--rtol", "2"])
    assert exc.value.code == 2
    assert "expected a tolerance from 0 to below 1" in capsys.readouterr().err


def test_records_that_cannot_be_rerun_are_left_out_with_the_reason(tmp_path, capsys):
    folder = _one_run(tmp_path, capsys)
    _edit_record(folder, lambda record: record["spec"].update(seed=4))  # id no longer matches
    runs, left_out = recorded_runs(folder.parent)
    assert runs == [] and "its spec has id" in left_out[0]
    assert main(["verify", str(folder.parent)]) == 2
    assert "no finished run to verify" in capsys.readouterr().err


def test_only_what_both_records_name_is_compared():
    old = {  # a record of 30 November: no torch_math yet, other kernels, one OpenBLAS
        "commit": "2f55c9074a754d494c8a79e3b9b22075162f11df",
        "machine": {"cpu": "AMD EPYC", "cpu_count": 2, "device": "cpu", "torch_threads": 2},
        "blas": [{"internal_api": "openblas", "version": "0.3.30", "architecture": "Haswell",
                  "num_threads": 1}],
        "packages": {"numpy": "2.4.6", "cma": "4.4.0"},
    }
    new = {
        "commit": "4e9d99bdbff1aaaa", "dirty": True,
        "machine": {"cpu": "AMD EPYC", "cpu_count": 2, "device": "cpu", "torch_threads": 1},
        "blas": [{"internal_api": "openblas", "version": "0.3.30", "architecture": "SkylakeX",
                  "num_threads": 1},
                 {"internal_api": "openblas", "version": "0.3.15", "architecture": "Zen",
                  "num_threads": 1}],
        "torch_math": {"blas": "mkl", "mkl": "2024.2", "cpu_capability": "AVX512"},
        "packages": {"numpy": "2.4.6", "cma": "4.5.0", "ribs": "0.12.0"},
        "weights": {"generators/weights/x.pt": "ab" * 32},
    }
    found = {what: (then, now) for what, then, now in differences(fingerprint(old),
                                                                  fingerprint(new))}
    assert found == {
        "commit": ("2f55c9074a75", "4e9d99bdbff1 with uncommitted changes"),
        "torch threads": ("2", "1"),
        "OpenBLAS 0.3.30": ("Haswell", "SkylakeX"),
        "package cma": ("4.4.0", "4.5.0"),
    }
    line = "AMD EPYC × 2 CPUs, cpu, 2 torch threads, BLAS openblas 0.3.30 Haswell × 1"
    assert machine_parts(line) == {"CPU": "AMD EPYC × 2 CPUs", "device": "cpu",
                                   "torch threads": "2"}
    assert machine_parts("unknown") == {"machine": "unknown"}


def test_todays_code_gives_the_published_generator_figures(facenet_cache, data_dir, monkeypatch,
                                                           capsys):
    """A face run and a set-diversity run of the published board, run again (about 35 s).

    A change that moves what the DCGANs or FaceNet compute fails here, and says the board
    needs `make leaderboard` again. Random sampling and the set GA decompose no matrix,
    so their figures hold across CPU kinds to float32 rounding (1e-5 relative).
    """
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(facenet_cache))
    monkeypatch.setenv("LATENT_BENCH_DATA", str(data_dir))
    face_random, mnist_set_ga = "2445f5b2343df306", "4ecc01f4a01b726d"  # seed 0 of each
    args = ["verify", str(BOARD), "--run", face_random, mnist_set_ga, "--rtol", "1e-5"]
    assert main([*args, "--no-progress"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "face × random, seed 0: 0.737067" in out
    assert "diversity-mnist-rmse × ga-set, seed 0: 0.607068" in out
    assert "verified   2 of 2 repeat" in out


def test_runs_verified_on_dask_workers_repeat_as_they_do_here(tmp_path, capsys):
    campaign = tmp_path / "c"
    assert main(["campaign", "--problems", "rastrigin", "--algos", "random", "pymoo:de",
                 "--seeds", "2", "--budget", "300", "--out", str(campaign),
                 "--no-progress"]) == 0
    capsys.readouterr()
    args = ["verify", str(campaign), "--workers", "2", "--rtol", "0", "--out", str(tmp_path / "v")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "with 2 worker(s)" in out and "verified   4 of 4 repeat (4 identical" in out
    assert "torch threads" in out  # one thread a worker, two in the campaign: named, yet equal
    assert len(pd.read_csv(tmp_path / "v" / "verify.csv")) == 4


def test_an_edited_improvement_is_named_by_its_own_evaluation(tmp_path, capsys):
    folder = _one_run(tmp_path, capsys)
    steps = pd.read_parquet(folder / IMPROVEMENTS)
    batch_ends = set(pd.read_parquet(folder / CURVE)["evaluations"])
    inside = steps[~steps["evaluation"].isin(batch_ends) & (steps["evaluation"] > 50)].index[0]
    steps.loc[inside, "fitness"] *= 1 + 1e-3  # an improvement made less well, same best
    steps.to_parquet(folder / IMPROVEMENTS, index=False)
    assert main(["verify", str(folder), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"parted at evaluation {int(steps.loc[inside, 'evaluation'])}" in out


def test_improvements_part_where_one_run_improved_and_the_other_did_not():
    a = pd.DataFrame({"evaluation": [1, 5, 9], "fitness": [3.0, 2.0, 1.0]})
    assert improvements_parted_at(a, a.copy(), 0) is None
    assert improvements_parted_at(a, a.assign(evaluation=[1, 6, 9]), 0) == 5
    assert improvements_parted_at(a, a.assign(fitness=[3.0, 2.0, 1.0 + 1e-9]), 1e-6) is None
    assert improvements_parted_at(a, a.assign(fitness=[3.0, 2.0, 1.1]), 1e-6) == 9
    assert improvements_parted_at(a, a.iloc[:2], 0) == 9
    assert improvements_parted_at(a.iloc[:1], a, 0) == 5

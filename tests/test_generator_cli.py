"""bench train-generator / export-generator, and a set-diversity run end to end."""

import json

import pytest

from bench.results import RECORD


def test_train_generator_usage_errors(bench_cmd, tmp_path, monkeypatch):
    monkeypatch.delenv("LATENT_BENCH_DATA", raising=False)
    r = bench_cmd("train-generator", "dcgan-mnst", "--out", str(tmp_path))
    assert r.returncode == 2 and "did you mean 'dcgan-mnist'" in r.stderr
    assert "Traceback" not in r.stderr
    r = bench_cmd("train-generator", "dcgan-mnist", "--out", str(tmp_path / "t"))
    assert r.returncode == 2 and "--data-dir" in r.stderr
    r = bench_cmd(
        "train-generator", "dcgan-fashion", "--data-dir", str(tmp_path), "--out", str(tmp_path)
    )
    assert r.returncode == 2 and "fashion-mnist test images not found" in r.stderr
    r = bench_cmd("export-generator", "dcgan-mnist", "--train-dir", str(tmp_path / "none"))
    assert r.returncode == 2 and "run `bench train-generator dcgan-mnist` first" in r.stderr


@pytest.mark.slow
def test_train_one_epoch_then_resume_via_the_command(bench_cmd, tmp_path, data_dir):
    """A real (tiny) training run through the CLI on a data folder of 32 training MNIST images."""
    import gzip

    import numpy as np

    from bench.datasets import load_idx_split

    x, y = load_idx_split("mnist", "test", data_dir)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for stem, arr in (("t10k-images-idx3-ubyte", x[:2032]), ("t10k-labels-idx1-ubyte", y[:2032])):
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(n.to_bytes(4, "big") for n in arr.shape)
        (folder / f"{stem}.gz").write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))
    out = tmp_path / "train"
    args = ("train-generator", "dcgan-mnist", "--data-dir", str(tmp_path / "data"), "--out")
    r = bench_cmd(*args, str(out), "--epochs", "1", "--batch", "16", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "first 32 images of the test split" in r.stdout
    assert "epoch      1/1: loss D" in r.stdout
    r = bench_cmd(*args, str(out), "--epochs", "2", "--batch", "16", "--no-progress")
    assert r.returncode == 0, r.stderr
    log = json.loads((out / "log.json").read_text())
    assert [e["epoch"] for e in log["epochs"]] == [1, 2]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "epoch-0001.png",
        "epoch-0002.png",
    ]


def test_set_diversity_run_end_to_end(bench_cmd, tmp_path):
    r = bench_cmd(
        "run",
        "--problem",
        "diversity-mnist-rmse",
        "--algo",
        "ga-set",
        "--budget",
        "45",
        "--set",
        "k=4",
        "--set",
        "population=10",
        "--out",
        str(tmp_path),
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    (run,) = list(tmp_path.iterdir())
    record = json.loads((run / RECORD).read_text())
    assert record["evaluations"] == 45 and record["status"] == "finished"
    assert 0.0 < record["best_fitness"] < 1.0
    assert record["problem"]["k"] == 4 and record["problem"]["metric"] == "rmse"
    ((name, sha),) = record["provenance"]["weights"].items()
    assert len(sha) == 64 and name.endswith("generators/weights/dcgan-mnist.pt")
    assert not name.startswith("/"), "no folder of this machine in the record"
    assert (run / "best.png").is_file()

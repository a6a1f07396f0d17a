"""bench train-generator / export-generator, and a set-diversity run end to end."""

import json

import pytest

from bench.results import RECORD


def test_train_generator_usage_errors(bench_here, tmp_path, monkeypatch):
    monkeypatch.delenv("LATENT_BENCH_DATA", raising=False)
    r = bench_here("train-generator", "dcgan-mnst", "--out", str(tmp_path))
    assert r.returncode == 2 and "did you mean 'dcgan-mnist'" in r.stderr
    assert "Traceback" not in r.stderr
    r = bench_here("train-generator", "dcgan-mnist", "--out", str(tmp_path / "t"))
    assert r.returncode == 2 and "--data-dir" in r.stderr
    r = bench_here(
        "train-generator", "dcgan-fashion", "--data-dir", str(tmp_path), "--out", str(tmp_path)
    )
    assert r.returncode == 2 and "fashion-mnist test images not found" in r.stderr
    r = bench_here("export-generator", "dcgan-mnist", "--train-dir", str(tmp_path / "none"))
    assert r.returncode == 2 and "run `bench train-generator dcgan-mnist` first" in r.stderr
    r = bench_here(
        "train-generator", "stylegan2", "--pack", str(tmp_path / "p.npz"), "--data-dir",
        str(tmp_path), "--out", str(tmp_path / "sg"),
    )
    assert r.returncode == 2 and "both name training data; give one" in r.stderr
    assert not (tmp_path / "sg").exists()


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


# --- export-generator on tiny trained folders (seconds, no shared data needed) ---------------

STYLEGAN2_TINY = {
    "resolution": 16, "kimg": 1.0, "batch": 4, "z_dim": 16, "mapping_layers": 2,
    "channel_base": 128, "channel_max": 16, "r1_interval": 2, "tick_kimg": 1.0,
}


def _write_mnist(folder, images, labels):
    """``images [N, 28, 28]`` and ``labels [N]`` as MNIST's gzipped IDX test files."""
    import gzip

    import numpy as np

    folder.mkdir(parents=True)
    for stem, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(n.to_bytes(4, "big") for n in arr.shape)
        (folder / f"{stem}.gz").write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Data folders and one-step training folders of dcgan-mnist and StyleGAN2 (16 px).

    ``digits`` and ``digits-other``: random MNIST-like test splits of 2,040 and 2,048
    images (40 and 48 left for training); ``faces``: 10 photos; ``dcgan``: dcgan-mnist
    trained one epoch on ``digits``; ``work/runs/train/stylegan2-utkface16``: StyleGAN2
    trained one step on ``faces`` (2 held out), where export's default looks from ``work``.
    """
    import numpy as np
    from bench.generators.dcgan_training import TrainConfig
    from bench.generators.dcgan_training import train as train_dcgan
    from bench.generators.stylegan2_training import StyleGAN2TrainConfig
    from bench.generators.stylegan2_training import train as train_stylegan2
    from PIL import Image

    from bench.datasets import load_digits_like, load_face_split

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for name, n in (("digits", 2040), ("digits-other", 2048)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        _write_mnist(root / name / "mnist", images, np.arange(n) % 10)
    data = load_digits_like("mnist", root / "digits")
    config = TrainConfig("dcgan-mnist", 28, 1, 1, batch=16)
    train_dcgan(config, data, root / "dcgan", progress=False)
    photos = root / "faces" / "utkface"
    photos.mkdir(parents=True)
    for i in range(10):
        pixels = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"{20 + i}_0_0_2017.jpg")
    sg2 = StyleGAN2TrainConfig(name="stylegan2-utkface16", **STYLEGAN2_TINY)
    faces = load_face_split(root / "faces", 16, heldout=2)
    run = root / "work" / "runs" / "train" / sg2.name
    train_stylegan2(sg2, faces, run, max_steps=1, progress=False)
    return root


def _snapshot(folder):
    """Every file in ``folder`` (hidden ones too) and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _old_files(folder, name, suffixes):
    """Stand-ins for a previous export of ``name`` in ``folder``; returns their snapshot."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, suffix in enumerate(suffixes):
        (folder / f"{name}{suffix}").write_bytes(f"previous export, file {i}".encode())
    return _snapshot(folder)


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("failure", [RuntimeError("measuring failed"), KeyboardInterrupt()])
def test_failed_dcgan_export_leaves_previous_files_untouched(
    tiny, tmp_path, monkeypatch, failure
):
    from bench.cli import main

    out = tmp_path / "out"
    before = _old_files(out, "dcgan-mnist", [".pt", ".json", ".png", "-classifier.pt"])

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr("bench.generators.export.digit_quality", fail)
    argv = ["export-generator", "dcgan-mnist", "--train-dir", str(tiny / "dcgan"), "--data-dir",
            str(tiny / "digits"), "--out", str(out), "--samples", "20"]
    if isinstance(failure, KeyboardInterrupt):
        assert main(argv) == 130
    else:
        with pytest.raises(RuntimeError, match="measuring failed"):
            main(argv)
    assert _snapshot(out) == before  # byte-identical, and no temporaries


def test_dcgan_export_prints_its_stages_and_publishes_every_file(tiny, tmp_path, capsys):
    from bench.cli import main

    out = tmp_path / "out"
    stale = out / ".dcgan-mnist.export-999999999-x"  # left by a killed export (no such pid)
    stale.mkdir(parents=True)
    (stale / "dcgan-mnist.pt").write_bytes(b"half")
    argv = ["export-generator", "dcgan-mnist", "--train-dir", str(tiny / "dcgan"), "--data-dir",
            str(tiny / "digits"), "--out", str(out), "--samples", "20"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    for stage in ("s  classifier: training on 40 real images",
                  "s  classifier figures on 20 samples and 2000 held-out images",
                  "s  wrote dcgan-mnist.pt, dcgan-mnist.json and dcgan-mnist.png"):
        assert stage in stdout
    names = ["dcgan-mnist-classifier.pt", "dcgan-mnist.json", "dcgan-mnist.png", "dcgan-mnist.pt"]
    assert sorted(_snapshot(out)) == names
    card = json.loads((out / "dcgan-mnist.json").read_text())
    assert card["quality"]["samples"] == 20
    assert card["data"].startswith("mnist: no train split available; first 40 images")


def test_export_refuses_data_other_than_the_training_data(tiny, tmp_path, capsys, monkeypatch):
    from bench.cli import main

    argv = ["export-generator", "dcgan-mnist", "--train-dir", str(tiny / "dcgan"), "--out",
            str(tmp_path / "out"), "--data-dir", str(tiny / "digits-other")]
    assert main(argv) == 2
    _one_line_error(capsys, 'trained on "mnist: no train split available; first 40 images',
                    "first 48 images")
    assert list((tmp_path / "out").iterdir()) == []
    # StyleGAN2 trained on 8 photos holding out 2, given the same photos holding out 3.
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    run = tiny / "work" / "runs" / "train" / "stylegan2-utkface16"
    argv = ["export-generator", "stylegan2", "--train-dir", str(run), "--out",
            str(tmp_path / "sg"), "--data-dir", str(tiny / "faces"), "--heldout", "3"]
    assert main(argv) == 2
    _one_line_error(capsys, "keeps 8 for training and holds out 2", "holds out 3")
    assert list((tmp_path / "sg").iterdir()) == []


def test_training_data_check_accepts_the_photos_of_a_pack():
    import numpy as np
    from bench.generators.export import ExportError, check_training_data

    from bench.datasets import LabelledImages

    photos = LabelledImages(np.zeros((1, 2, 2, 3)), None, np.zeros((1, 2, 2, 3)), None, "utk 9")
    check_training_data("utk 9", photos)
    check_training_data("utk 9; packed: WebP quality 90 (38.9 dB PSNR)", photos)
    check_training_data(None, photos)  # not recorded: the card says so instead
    with pytest.raises(ExportError, match='trained on "utk 90"'):
        check_training_data("utk 90", photos)


def test_failed_stylegan2_export_leaves_previous_files_untouched(
    tiny, tmp_path, monkeypatch, capsys
):
    from bench.generators.stylegan2_export import export_stylegan2
    from bench.problems.facenet_weights import WeightsError

    from bench.cli import main
    from bench.datasets import load_face_split

    out = tmp_path / "out"
    before = _old_files(out, "stylegan2-utkface16", [".pt", ".json", ".png"])
    run = tiny / "work" / "runs" / "train" / "stylegan2-utkface16"
    data = load_face_split(tiny / "faces", 16, heldout=2)

    def no_facenet(*args, **kwargs):
        raise WeightsError("no FaceNet CASIA-WebFace weights on this machine")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bench.problems.facenet_weights.load_facenet", no_facenet)
    with pytest.raises(WeightsError):
        export_stylegan2("stylegan2-utkface16", run, data, out, samples=4)
    assert _snapshot(out) == before  # byte-identical, and no temporaries
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    argv = ["export-generator", "stylegan2", "--train-dir", str(run), "--out", str(out),
            "--data-dir", str(tiny / "faces"), "--heldout", "2", "--samples", "4"]
    assert main(argv) == 2
    _one_line_error(capsys, "no FaceNet CASIA-WebFace weights")
    monkeypatch.setattr("bench.problems.facenet_weights.load_facenet", lambda *a, **k: None)
    monkeypatch.setattr("bench.generators.stylegan2_export.face_detection_rate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_stylegan2("stylegan2-utkface16", run, data, out, samples=4)
    assert _snapshot(out) == before


def test_ema_only_checks_its_file_and_the_folder(tiny, tmp_path, capsys):
    from bench.cli import main

    run = tiny / "work" / "runs" / "train" / "stylegan2-utkface16"
    base = ["export-generator", "stylegan2", "--train-dir", str(run), "--ema-only"]
    (tmp_path / "a-file").write_text("x")
    assert main([*base, str(tmp_path / "a-file" / "x.pt")]) == 2
    _one_line_error(capsys, "a-file is a file, not a folder")
    (tmp_path / "a-folder").mkdir()
    assert main([*base, str(tmp_path / "a-folder")]) == 2
    _one_line_error(capsys, "a-folder is a folder; give a file")
    assert main([*base, str(run / "checkpoint.pt")]) == 2
    _one_line_error(capsys, "would replace the training checkpoint itself")
    dcgan = ["export-generator", "stylegan2", "--train-dir", str(tiny / "dcgan")]
    assert main([*dcgan, "--ema-only", str(tmp_path / "x.pt")]) == 2
    _one_line_error(capsys, "not a StyleGAN2 training folder (it trains 'dcgan-mnist')")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]
    assert list((tmp_path / "a-folder").iterdir()) == []


def test_stylegan2_export_of_a_dcgan_folder_says_so_before_reading_photos(
    tiny, tmp_path, capsys, monkeypatch
):
    from bench.cli import main

    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    argv = ["export-generator", "stylegan2", "--train-dir", str(tiny / "dcgan"), "--data-dir",
            str(tiny / "faces"), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    _one_line_error(capsys, "not a StyleGAN2 training folder (it trains 'dcgan-mnist')")
    assert not (tmp_path / "cache").exists(), "no face cache built for nothing"


def test_stylegan2_export_finds_the_folder_of_its_resolution(tiny, tmp_path, capsys, monkeypatch):
    from bench.cli import main

    monkeypatch.chdir(tiny / "work")
    back = tmp_path / "back" / "checkpoint.pt"
    assert main(["export-generator", "stylegan2", "--ema-only", str(back)]) == 2
    _one_line_error(capsys, "no checkpoint.pt in runs/train/stylegan2-utkface64",
                    "found runs/train/stylegan2-utkface16: pass --resolution or --train-dir")
    argv = ["export-generator", "stylegan2", "--resolution", "16", "--ema-only", str(back)]
    assert main(argv) == 0
    assert "the EMA generator of runs/train/stylegan2-utkface16" in capsys.readouterr().out
    assert main(["export-generator", "stylegan2", "--resolution", "32", "--ema-only", "y"]) == 2
    _one_line_error(capsys, "run `bench train-generator stylegan2 --resolution 32` first")


def test_export_help_states_the_real_defaults(capsys):
    from bench.cli import main

    with pytest.raises(SystemExit):
        main(["export-generator", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default 10000 for digits, 1000 for faces" in text
    assert "runs/train/stylegan2-utkfaceRES, RES from --resolution" in text


def test_face_dcgan_export_measures_the_samples_asked_for(tmp_path, monkeypatch):
    """--samples reaches every face measurement; the held-out side is twice as many."""
    import numpy as np
    import torch
    from bench.generators.dcgan_training import TrainConfig, train
    from bench.generators.export import export_dcgan
    from bench.generators.stylegan2_export import heldout_faces

    from bench.datasets import LabelledImages

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(48, 32, 32, 3), dtype=np.uint8)
    data = LabelledImages(images[:8], None, images[8:], None, "8 + 40 random 32x32 faces")
    assert heldout_faces(1000, LabelledImages(images, None, np.zeros((2000, 1)), None, "")) == 2000
    train(TrainConfig("dcgan-faces", 32, 3, 1, batch=8), data, tmp_path / "run", progress=False)
    embedded, asked = [], {}

    def embeddings(images, facenet, chunk=100):
        embedded.append(len(images))
        return np.random.default_rng(len(images)).normal(size=(len(images), 512))

    def face_rate(generator, n=1000, seed=0):
        asked["face_rate"] = n
        return {"samples": n, "seed": seed, "threshold": 0.9, "face_rate": 0.5}

    def face_problem_card(name, generator, out_dir, samples=1000, facenet="casia-webface"):
        asked["face_problem"] = samples
        return {"unavailable": "not measured in this test"}

    facenet = torch.nn.Identity()
    monkeypatch.setattr("bench.problems.facenet_weights.load_facenet", lambda *a: facenet)
    monkeypatch.setattr("bench.generators.stylegan2_export.facenet_embeddings", embeddings)
    monkeypatch.setattr("bench.generators.export.face_detection_rate", face_rate)
    monkeypatch.setattr("bench.problems.face_calibration.face_problem_card", face_problem_card)
    lines = []
    card = export_dcgan("dcgan-faces", tmp_path / "run", data, tmp_path / "out", samples=8,
                        progress=lines.append)
    assert embedded == [8, 16, 8] and asked == {"face_rate": 8, "face_problem": 8}
    assert card["quality"]["facenet_frechet"]["heldout"] == 16
    assert "(CPU time; 8 training images)" in card["deviations_from_paper"][0]  # it ran here
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    ckpt["log"]["device"] = "cuda:1"  # the same folder had it trained on a GPU
    torch.save(ckpt, tmp_path / "run" / "checkpoint.pt")
    card = export_dcgan("dcgan-faces", tmp_path / "run", data, tmp_path / "gpu", samples=8)
    assert "(GPU time; 8 training images)" in card["deviations_from_paper"][0]
    assert [line.split(" s  ", 1)[1] for line in lines] == [
        "MTCNN face rate on 8 samples",
        "FaceNet Fréchet distance: 8 samples, 16 held-out and 8 training faces",
        "face problem: crop box (MTCNN) and measure axes (FaceNet) on 8 samples",
        "wrote dcgan-faces.pt, dcgan-faces.json and dcgan-faces.png",
    ]

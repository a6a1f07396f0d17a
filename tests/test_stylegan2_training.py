"""StyleGAN2 training on a tiny config: steps, R1, EMA, resume bit for bit, export."""

import json
import math

import numpy as np
import pytest
import torch
from bench.generators.stylegan2_checkpoints import load_stylegan2
from bench.generators.stylegan2_discriminator import Discriminator
from bench.generators.stylegan2_training import (
    CHECKPOINT,
    StyleGAN2TrainConfig,
    build_networks,
    export_generator,
    load_trained_generator,
    measure_throughput,
    train,
)
from without_packages import run_without

from bench.datasets import LabelledImages
from bench.generator import MissingWeightsError
from bench.registry import registry
from bench.testing import check_generator

TINY = StyleGAN2TrainConfig(
    name="tiny",
    resolution=16,
    kimg=1.0,
    batch=4,
    z_dim=16,
    mapping_layers=2,
    channel_base=128,
    channel_max=16,
    r1_interval=2,
    tick_kimg=1.0,
)


def faces(n=24, res=16, seed=0):
    rng = np.random.default_rng(seed)
    train = rng.integers(0, 256, size=(n, res, res, 3), dtype=np.uint8)
    return LabelledImages(train, None, train[:4], None, f"{n} random {res}x{res} images")


def test_discriminator_shapes_and_minibatch_std():
    torch.manual_seed(0)
    D = Discriminator(32, 3, channel_base=256, channel_max=32)
    x = torch.randn(8, 3, 32, 32)
    assert D(x).shape == (8,)
    y = D.minibatch_std(torch.randn(8, 5, 4, 4))
    assert y.shape == (8, 6, 4, 4)
    assert torch.equal(y[:2, 5], y[4:6, 5])  # samples i and i + N/4 share a group


def test_default_64_config_fits_the_shipping_budget():
    with torch.device("meta"):
        G, _ = build_networks(StyleGAN2TrainConfig())
    assert G.num_ws == 10 and G.img_resolution == 64
    assert sum(t.numel() for t in G.state_dict().values()) * 2 < 25e6  # float16 bytes


def test_steps_resume_bit_for_bit_and_export(tmp_path):
    data = faces()
    log = train(TINY, data, tmp_path / "a", max_steps=3, progress=False)  # R1, plain, R1
    assert [t["step"] for t in log["ticks"]] == [3]
    t = log["ticks"][0]
    assert all(math.isfinite(t[k]) for k in ("loss_g", "loss_d", "r1"))
    train(TINY, data, tmp_path / "b", max_steps=1, progress=False)
    log_b = train(TINY, data, tmp_path / "b", max_steps=2, progress=False)
    assert [t["step"] for t in log_b["ticks"]] == [1, 3]
    a = torch.load(tmp_path / "a" / CHECKPOINT, weights_only=False)
    b = torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)
    for key in ("G", "D", "G_ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), f"{key}.{name} differs after resume"
    assert not torch.equal(a["G"]["mapping.w_avg"], torch.zeros(16))  # tracked while training
    ema = load_trained_generator(tmp_path / "a")
    assert not torch.equal(ema.mapping.fc0.weight, a["G"]["mapping.fc0.weight"])  # EMA lags G
    check_generator(ema)
    # one grid per checkpoint: both fell under 1 kimg and had one name, the second replacing it
    grids = sorted(p.name for p in (tmp_path / "b" / "samples").iterdir())
    assert grids == ["kimg-000000.004.png", "kimg-000000.012.png"]
    summary = export_generator(tmp_path / "a", tmp_path / "tiny.pt")
    assert summary["images_seen"] == 12 and summary["device"] == "cpu"
    G = load_stylegan2(tmp_path / "tiny.pt")
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(G(z), ema(z), atol=0.05)  # float16 weights


def test_other_config_in_the_folder_is_refused(tmp_path):
    train(TINY, faces(), tmp_path, max_steps=1, progress=False)
    other = StyleGAN2TrainConfig(**{**TINY.__dict__, "seed": 1})
    with pytest.raises(ValueError, match="Use another --out folder"):
        train(other, faces(), tmp_path, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="training images are"):
        train(TINY, faces(res=8), tmp_path / "x", max_steps=1, progress=False)


def test_chunks_stop_on_time_and_the_run_ends_at_kimg(tmp_path):
    short = StyleGAN2TrainConfig(**{**TINY.__dict__, "kimg": 0.012})  # 3 steps of 4
    log = train(short, faces(), tmp_path, max_seconds=0.0, progress=False)
    assert [t["step"] for t in log["ticks"]] == [1]  # one step, then the time is up
    log = train(short, faces(), tmp_path, progress=False)
    assert log["ticks"][-1]["step"] == 3
    assert train(short, faces(), tmp_path, progress=False)["ticks"][-1]["step"] == 3


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dataset", "celeba"], "unknown dataset 'celeba'. Valid: utkface"),
        (["--epochs", "3"], "not --epochs"),
        (["--resolution", "48"], "power of 2"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, argv, message):
    from bench.cli import main

    assert main(["train-generator", "stylegan2", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_export_writes_weights_card_and_samples(tmp_path):
    from bench.generators.stylegan2_export import export_stylegan2
    from bench.problems.facenet_weights import WeightsError, resolve_weights

    try:
        resolve_weights("casia-webface")
    except WeightsError as exc:
        pytest.skip(f"FaceNet weights for the Fréchet distance are missing: {exc}")
    data = faces(n=24)
    train(TINY, data, tmp_path / "run", max_steps=1, progress=False)
    lines = []
    card = export_stylegan2(
        "tiny", tmp_path / "run", data, tmp_path / "out", samples=8, progress=lines.append
    )
    assert [line.split(" s  ", 1)[1].split()[0] for line in lines] == [
        "MTCNN", "FaceNet", "face", "wrote"
    ]  # one line as each measurement starts, one at the end
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    face = card["face_problem"]  # crop box and measure axes, unless MTCNN sees no face at all
    assert files == sorted(["tiny.json", "tiny.png", "tiny.pt", *face.get("files", [])])
    assert "unavailable" in face or (
        len(face["files"]) == 2 and face["crop_box"] and face["measure_axes_samples"] == 8
    )
    assert card["training"]["images_seen"] == 4 and card["num_ws"] == 6
    q = card["quality"]
    assert q["samples"] == 8 and 0 <= q["face_rate"] <= 1
    fd = q["facenet_frechet"]
    assert fd["samples"] == 8 and fd["heldout"] == 4
    assert np.isfinite(fd["distance"]) and np.isfinite(fd["floor"])
    assert any("channels min(128 / R, 16)" in d for d in card["deviations_from_paper"])
    assert card["weights"]["file"] == "tiny.pt" and card["weights"]["dtype"] == "float16"
    G = registry("generators").load("stylegan2-utkface64")(weights=str(tmp_path / "out/tiny.pt"))
    assert G.img_resolution == 16 and G.weight_path.endswith("tiny.pt")


def test_utkface64_before_it_is_trained_says_how(tmp_path):
    factory = registry("generators").load("stylegan2-utkface64")
    with pytest.raises(MissingWeightsError, match="bench train-generator stylegan2"):
        factory(weights=str(tmp_path / "none.pt"))


def test_cli_export_without_a_training_folder(tmp_path, capsys):
    from bench.cli import main

    assert main(["export-generator", "stylegan2", "--train-dir", str(tmp_path)]) == 2
    assert "run `bench train-generator stylegan2`" in capsys.readouterr().err


def test_face_split_cache(tmp_path, monkeypatch):
    from bench.generators.stylegan2_data import cached_face_split
    from PIL import Image

    from bench.datasets import DataError, load_face_split

    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    photos = tmp_path / "data" / "utkface"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        pixels = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"{20 + i}_0_0_2017.jpg")
    direct = load_face_split(tmp_path / "data", 16, heldout=3)
    first = cached_face_split(tmp_path / "data", 16, heldout=3)
    (cached,) = (tmp_path / "cache" / "datasets").iterdir()
    second = cached_face_split(tmp_path / "data", 16, heldout=3)
    for d in (first, second):
        assert np.array_equal(d.train, direct.train) and np.array_equal(d.heldout, direct.heldout)
        assert d.description == direct.description
    (photos / "20_0_0_2017.jpg").unlink()  # a changed folder is read again
    third = cached_face_split(tmp_path / "data", 16, heldout=3)
    assert len(third.train) == 4 and len(list(cached.parent.iterdir())) == 2
    with pytest.raises(DataError, match="face photos not found"):
        cached_face_split(tmp_path / "nothing", 16)


def test_mirror_flips_about_half_of_the_reals_and_checkpoints_them(tmp_path):
    from bench.generators.stylegan2_training import _Trainer

    data = faces()
    originals = torch.from_numpy(data.train).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)

    def epoch(config):
        trainer = _Trainer(config, data, tmp_path / str(config.mirror), torch.device("cpu"))
        reals = torch.cat([trainer._reals() for _ in range(len(data.train) // config.batch)])
        return reals, trainer.flips

    reals, flips = epoch(TINY)
    assert 0 < flips.sum() < len(flips)
    flipped = 0
    for image in reals:  # every real is a training image, as it is or mirrored left-right
        same = (originals == image).flatten(1).all(1)
        mirrored = (originals.flip(3) == image).flatten(1).all(1)
        assert same.any() or mirrored.any()
        flipped += int(mirrored.any() and not same.any())
    assert flipped == flips.sum()
    plain, no_flips = epoch(StyleGAN2TrainConfig(**{**TINY.__dict__, "mirror": False}))
    assert not no_flips.any()
    assert all((originals == image).flatten(1).all(1).any() for image in plain)


def test_tick_length_may_change_on_resume(tmp_path):
    train(TINY, faces(), tmp_path, max_steps=1, progress=False)
    longer = StyleGAN2TrainConfig(**{**TINY.__dict__, "tick_kimg": 4.0})
    log = train(longer, faces(), tmp_path, max_steps=1, progress=False)
    assert [t["step"] for t in log["ticks"]] == [1, 2]


def smooth_faces(n=12, res=16, seed=0):
    """Images with some structure (a gradient and a blob), as a photo would have."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:res, 0:res] / res
    images = []
    for _ in range(n):
        cx, cy, hue = rng.uniform(0.2, 0.8, 3)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) * 20)
        rgb = np.stack([blob, x * hue, y * (1 - hue)], -1)
        images.append((rgb * 255).clip(0, 255).astype(np.uint8))
    train = np.stack(images)
    return LabelledImages(train[:9], None, train[9:], None, f"{n} drawn {res}x{res} images")


def test_face_pack_round_trip_and_errors(tmp_path):
    from bench.generators.stylegan2_data import psnr, read_face_pack, write_face_pack

    from bench.datasets import DataError

    data = smooth_faces()
    info = write_face_pack(data, tmp_path / "pack.npz", quality=90)
    assert (info["train"], info["heldout"], info["resolution"]) == (9, 3, 16)
    assert info["bytes"] == (tmp_path / "pack.npz").stat().st_size and len(info["sha256"]) == 64
    back = read_face_pack(tmp_path / "pack.npz")
    assert back.train.shape == data.train.shape
    assert back.heldout.shape == (0, 16, 16, 3)  # counted, not packed: no consumer reads them
    assert "heldout_blob" not in np.load(tmp_path / "pack.npz").files
    assert back.train.dtype == np.uint8
    assert psnr(data.train, back.train) == pytest.approx(info["train_psnr_db"], abs=0.01)
    assert info["train_psnr_db"] > 30  # lossy, but close
    assert not np.array_equal(back.train[0], back.train[1])  # images stay in their order
    assert "WebP quality 90" in back.description and "12 drawn" in back.description
    worse = write_face_pack(data, tmp_path / "low.npz", quality=10)
    assert worse["bytes"] < info["bytes"] and worse["train_psnr_db"] < info["train_psnr_db"]
    with pytest.raises(DataError, match="bench pack-dataset utkface"):
        read_face_pack(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="not a readable face pack"):
        read_face_pack(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="quality"):
        write_face_pack(data, tmp_path / "x.npz", quality=0)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="is a folder; name the pack file"):
        write_face_pack(data, tmp_path / "folder")
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no half-written pack


def test_a_pack_of_the_first_format_still_reads(tmp_path):
    from bench.generators.stylegan2_data import _encode, read_face_pack

    data = smooth_faces()
    train_blob, train_sizes = _encode(data.train, 90)
    heldout_blob, heldout_sizes = _encode(data.heldout, 90)
    info = {"format": "latent-bench face pack 1", "train": 9, "heldout": 3, "resolution": 16,
            "channels": 3, "codec": "WebP quality 90", "train_psnr_db": 40.0, "source": "drawn"}
    np.savez(tmp_path / "v1.npz", train_blob=train_blob, train_sizes=train_sizes,
             heldout_blob=heldout_blob, heldout_sizes=heldout_sizes, info=json.dumps(info))
    back = read_face_pack(tmp_path / "v1.npz")
    assert back.train.shape == (9, 16, 16, 3) and back.heldout.shape == (3, 16, 16, 3)


def noisy_faces(n=120, res=32, seed=0):
    """Smooth images with grain, whose WebP size falls steadily with the quality."""
    rng = np.random.default_rng(seed)
    base = np.concatenate([smooth_faces(n=12, res=res, seed=s).train for s in range(n // 9 + 1)])
    grain = rng.normal(0, 12, base[:n].shape)
    images = (base[:n] + grain).clip(0, 255).astype(np.uint8)
    return LabelledImages(images, None, images[:0], None, f"{n} grainy {res}x{res} images")


def test_a_pack_fits_the_room_given_at_the_highest_quality_that_fits(tmp_path):
    from bench.generators.stylegan2_data import write_face_pack

    data = noisy_faces()
    size = {q: write_face_pack(data, tmp_path / f"q{q}.npz", q)["bytes"] for q in (90, 85, 80)}
    assert size[90] > size[85] > size[80]
    room = (size[85] + size[80]) // 2  # 80 fits, 85 does not
    info = write_face_pack(data, tmp_path / "fit.npz", 90, max_bytes=room)
    assert info["codec"] == "WebP quality 80" and info["bytes"] == size[80] <= room
    roomy = write_face_pack(data, tmp_path / "roomy.npz", 90, max_bytes=size[90])
    assert roomy["bytes"] == size[90]
    odd = write_face_pack(data, tmp_path / "odd.npz", 87, max_bytes=size[85])  # then 85, 80, ...
    assert odd["codec"] == "WebP quality 85"
    with pytest.raises(ValueError, match=r"even at WebP quality 30, over the 0.0 MiB allowed"):
        write_face_pack(data, tmp_path / "none.npz", 90, max_bytes=1000)
    assert not (tmp_path / "none.npz").exists()


def test_cli_packs_photos_and_trains_on_the_pack(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from bench.cli import main

    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    photos = tmp_path / "data" / "utkface"
    photos.mkdir(parents=True)
    for i, image in enumerate(smooth_faces(n=10, res=32).train):
        Image.fromarray(image).save(photos / f"{20 + i}_0_0_2017.jpg")
    pack = tmp_path / "pack.npz"
    base = ["pack-dataset", "utkface", "--data-dir", str(tmp_path / "data")]
    (tmp_path / "folder" / "existing").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "folder")
    small = [*base, "--resolution", "16", "--heldout", "2"]
    assert main([*small, "--out", "existing"]) == 2  # a folder, not a file
    err = capsys.readouterr().err
    assert "existing is a folder; name the pack file, e.g. existing/utkface-16.npz" in err
    assert main([*small, "--out", ""]) == 2
    assert "--out needs a file name" in capsys.readouterr().err
    assert list(tmp_path.glob("**/*.npz")) == [] and list(tmp_path.glob("runs")) == []
    assert main([*base, "--resolution", "16", "--heldout", "2", "--out", str(pack)]) == 0
    assert "7 training faces at 16 px into" in capsys.readouterr().out
    assert main([*small, "--max-mib", "0.001", "--out", str(tmp_path / "tiny.npz")]) == 2
    assert "even at WebP quality 30, over the 0.0 MiB allowed" in capsys.readouterr().err
    assert not (tmp_path / "tiny.npz").exists()
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error
        main([*small, "--max-mib", "0", "--out", str(tmp_path / "tiny.npz")])
    assert exited.value.code == 2 and "expected a positive number" in capsys.readouterr().err
    assert main([*base, "--heldout", "10", "--out", str(pack)]) == 2
    assert "cannot hold out 10" in capsys.readouterr().err
    assert main([*base, "--quality", "101"]) == 2
    assert main(["pack-dataset", "celeba"]) == 2
    assert "Valid: utkface" in capsys.readouterr().err
    argv = ["train-generator", "stylegan2", "--pack", str(pack), "--batch", "4", "--kimg", "0.004"]
    assert main([*argv, "--resolution", "16", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "WebP quality 90" in out and "0.004/0.004 kimg" in out
    assert "the full run" in out and "again" not in out  # nothing is left to go on with
    assert (tmp_path / "run" / CHECKPOINT).is_file()
    assert main([*argv, "--resolution", "32", "--out", str(tmp_path / "r32")]) == 2
    assert "holds 16x16 faces, not 32x32: add --resolution 16" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "r64")]) == 2  # 64 by default
    assert "add --resolution 16" in capsys.readouterr().err
    assert main([*argv, "--pack", str(tmp_path / "none.npz")]) == 2
    assert "no face pack at" in capsys.readouterr().err


def test_ema_only_copy_exports_but_does_not_resume(tmp_path, capsys):
    from bench.cli import main

    train(TINY, faces(), tmp_path / "run", max_steps=2, progress=False)
    copy = tmp_path / "back" / CHECKPOINT
    argv = ["export-generator", "stylegan2", "--train-dir", str(tmp_path / "run")]
    assert main([*argv, "--ema-only", str(copy)]) == 0
    assert "the EMA generator of" in capsys.readouterr().out
    full = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    slim = torch.load(copy, weights_only=False)
    assert slim["ema_only"] and "D" not in slim and "opt_g" not in slim
    assert copy.stat().st_size < (tmp_path / "run" / CHECKPOINT).stat().st_size / 2
    for name, value in full["G_ema"].items():
        assert torch.equal(value, slim["G_ema"][name])
    a = export_generator(tmp_path / "run", tmp_path / "a.pt")
    b = export_generator(tmp_path / "back", tmp_path / "b.pt")
    assert a == b and a["data"] == "24 random 16x16 images"
    sa, sb = (torch.load(tmp_path / f, weights_only=False)["state_dict"] for f in ("a.pt", "b.pt"))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(ValueError, match="holds only the EMA generator"):
        train(TINY, faces(), tmp_path / "back", max_steps=1, progress=False)


def test_training_commands_run_without_the_search_libraries(tmp_path):
    """A lent GPU machine has torch but not pyribs, pymoo, Dask or facenet-pytorch."""
    from bench.generators.stylegan2_data import write_face_pack

    write_face_pack(smooth_faces(), tmp_path / "pack.npz")
    code = f"""
from bench.cli import main
run = {str(tmp_path / "run")!r}
assert main(["train-generator", "stylegan2", "--pack", {str(tmp_path / "pack.npz")!r},
             "--resolution", "16", "--batch", "4", "--kimg", "0.004", "--out", run]) == 0
assert main(["export-generator", "stylegan2", "--train-dir", run,
             "--ema-only", {str(tmp_path / "back.pt")!r}]) == 0
"""
    blocked = {"ribs", "pymoo", "dask", "distributed", "scikit_posthocs", "statsmodels", "dlib",
               "facenet_pytorch", "face_recognition_models"}
    done = run_without(blocked, code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "back.pt").is_file()


def test_throughput_probe_times_steps_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = torch.random.get_rng_state()
    got = measure_throughput(TINY, faces(), steps=3, warmup=1)
    assert got["batch"] == TINY.batch and got["steps"] == 3 and got["device"] == "cpu"
    assert got["seconds"] > 0
    assert got["images_per_second"] == pytest.approx(3 * TINY.batch / got["seconds"])
    assert list(tmp_path.iterdir()) == []  # the scratch folder is gone, nothing else written
    assert torch.equal(torch.random.get_rng_state(), before)  # global RNG untouched


def test_a_damaged_checkpoint_or_too_large_a_batch_is_a_one_line_error(tmp_path):
    for name, blob in (("junk", b"junk\n"), ("garbage", b"garbage\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / CHECKPOINT).write_bytes(blob)
        with pytest.raises(ValueError) as info:  # a CheckpointError, which the CLI shows
            train(TINY, faces(), tmp_path / name, max_steps=1, progress=False)
        assert "\n" not in str(info.value)
        assert str(info.value).endswith("delete it or use another --out")
    train(TINY, faces(), tmp_path / "run", max_steps=1, progress=False)
    ckpt = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    del ckpt["opt_d"]
    torch.save(ckpt, tmp_path / "run" / CHECKPOINT)
    with pytest.raises(ValueError, match=r"not a readable training checkpoint \(no opt_d in it\)"):
        train(TINY, faces(), tmp_path / "run", max_steps=1, progress=False)
    with pytest.raises(ValueError, match="a batch of 32 exceeds the 24 training images"):
        train(StyleGAN2TrainConfig(**{**TINY.__dict__, "batch": 32}), faces(), tmp_path / "x")


def test_cli_says_when_the_run_is_done_or_went_past_kimg(tmp_path, capsys, monkeypatch):
    import functools

    from bench.generators import stylegan2_training
    from bench.generators.stylegan2_data import write_face_pack

    from bench.cli import main

    sizes = ("z_dim", "mapping_layers", "channel_base", "channel_max")
    small = {k: getattr(TINY, k) for k in sizes}
    tiny_config = functools.partial(StyleGAN2TrainConfig, **small)  # seconds, not minutes
    monkeypatch.setattr(stylegan2_training, "StyleGAN2TrainConfig", tiny_config)
    write_face_pack(smooth_faces(), tmp_path / "pack.npz")
    argv = ["train-generator", "stylegan2", "--pack", str(tmp_path / "pack.npz"), "--resolution",
            "16", "--batch", "4", "--out", str(tmp_path / "run"), "--no-progress"]
    assert main([*argv, "--kimg", "0.008", "--max-minutes", "0.00001"]) == 0  # one step of two
    assert "0.004/0.008 kimg" in capsys.readouterr().out
    assert main([*argv, "--kimg", "0.004"]) == 0
    out = capsys.readouterr().out
    assert "the full run" in out and "again" not in out
    assert main([*argv, "--kimg", "0.008"]) == 0
    assert "0.008/0.008 kimg" in capsys.readouterr().out
    assert main([*argv, "--kimg", "0.004"]) == 0
    out = capsys.readouterr().out
    assert "already trained to 0.008 kimg" in out and "past --kimg 0.004; nothing to do" in out
    assert main([*argv, "--kimg", "0.008", "--batch", "10"]) == 2
    assert "--batch 10 exceeds the 9 training images" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CHECKPOINT).write_text("junk\n")
    assert main([*argv[:-2], str(tmp_path / "bad"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a readable training checkpoint" in err


def test_resuming_on_other_data_is_refused(tmp_path):
    """It used to fail steps later with an IndexError (the epoch order indexes the old data)."""
    train(TINY, faces(n=24), tmp_path, max_steps=1, progress=False)
    with pytest.raises(ValueError, match=r"\(24 images\), but this run has .* \(16 images\)"):
        train(TINY, faces(n=16), tmp_path, max_steps=3, progress=False)
    other = faces(n=24, seed=1)
    other = LabelledImages(other.train, None, other.heldout, None, "24 other images")
    with pytest.raises(ValueError, match="resume with the same data"):
        train(TINY, other, tmp_path, max_steps=3, progress=False)
    packed = faces(n=24)  # a pack of the same photos: its description adds "; packed: ..."
    packed = LabelledImages(
        packed.train, None, packed.heldout, None, f"{packed.description}; packed: q90"
    )
    train(TINY, packed, tmp_path, max_steps=2, progress=False)

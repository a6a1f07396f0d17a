"""The study's DCGAN architectures and their resumable, seeded training."""

import numpy as np
import pytest
import torch
from bench.generators.dcgan import DCGANDiscriminator, DCGANGenerator
from bench.generators.dcgan_training import TrainConfig, load_trained_generator, train

from bench.datasets import LabelledImages
from bench.testing import check_generator


def test_digit_generator_follows_the_study_layer_list():
    g = DCGANGenerator(28, 1)
    assert (g.z_dim, g.img_resolution, g.img_channels) == (100, 28, 1)
    assert g.dense.out_features == 7 * 7 * 128
    convs = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (128, 128, (3, 3)),
        (128, 64, (3, 3)),
        (64, 1, (3, 3)),
    ]
    bns = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(abs(b.momentum - 0.2) < 1e-12 for b in bns)  # Keras momentum 0.8
    check_generator(g.eval())


@pytest.mark.parametrize("res,widths", [(64, [256, 128, 64, 3]), (128, [256, 128, 64, 64, 3])])
def test_face_generator_widths(res, widths):
    g = DCGANGenerator(res, 3)
    assert g.dense.out_features == 8 * 8 * 128
    convs = [m.out_channels for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == widths
    out = g.eval()(torch.zeros(2, 100))
    assert out.shape == (2, 3, res, res)


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(48, 3)


@pytest.mark.parametrize("res,ch", [(28, 1), (64, 3)])
def test_discriminator_shapes(res, ch):
    d = DCGANDiscriminator(res, ch)
    convs = [m.out_channels for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [32, 64, 128, 256]
    assert d(torch.zeros(3, ch, res, res)).shape == (3,)


def _tiny_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (n, 28, 28, 1), dtype=np.uint8)
    return LabelledImages(x, None, x[:8], None, "random test images")


def test_training_resumes_to_the_same_weights(tmp_path):
    cfg = TrainConfig("t", 28, 1, epochs=2, batch=8, seed=3)
    data = _tiny_data(16)
    state = torch.get_rng_state()
    train(cfg, data, tmp_path / "one", progress=False)
    assert torch.equal(torch.get_rng_state(), state), "training must not move torch's global RNG"
    train(cfg, data, tmp_path / "two", progress=False, max_epochs_this_call=1)
    assert len(list((tmp_path / "two" / "samples").glob("*.png"))) == 1
    log = train(cfg, data, tmp_path / "two", progress=False)  # resume: epoch 2 only
    assert [e["epoch"] for e in log["epochs"]] == [1, 2]
    a = load_trained_generator(tmp_path / "one").state_dict()
    b = load_trained_generator(tmp_path / "two").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = train(TrainConfig("t", 28, 1, 2, 8, seed=4), data, tmp_path / "three", progress=False)
    c_state = load_trained_generator(tmp_path / "three").state_dict()
    assert not torch.equal(a["dense.weight"], c_state["dense.weight"]), c


def test_training_refuses_a_changed_config(tmp_path):
    data = _tiny_data(8)
    train(TrainConfig("t", 28, 1, 1, 8), data, tmp_path, progress=False)
    with pytest.raises(ValueError, match="Use another --out folder"):
        train(TrainConfig("t", 28, 1, 1, 8, lr=1e-3), data, tmp_path, progress=False)
    with pytest.raises(ValueError, match="config needs"):
        train(TrainConfig("t", 64, 3, 1, 8), data, tmp_path / "x", progress=False)
    log = train(TrainConfig("t", 28, 1, 2, 8), data, tmp_path, progress=False)  # train longer
    assert [e["epoch"] for e in log["epochs"]] == [1, 2] and log["config"]["epochs"] == 2


def test_training_learns_something(tmp_path):
    """On a data set of one repeated image the generator must move towards it."""
    img = np.zeros((28, 28, 1), dtype=np.uint8)
    img[8:20, 8:20] = 255
    data = LabelledImages(np.repeat(img[None], 96, 0), None, img[None], None, "square")
    train(TrainConfig("sq", 28, 1, epochs=4, batch=8, seed=0), data, tmp_path, progress=False)
    g = load_trained_generator(tmp_path)
    out = g.generate(np.random.default_rng(0).normal(size=(16, 100))).numpy()
    inside = out[:, 0, 8:20, 8:20].mean()
    outside = out[:, 0, :6, :].mean()
    assert inside > outside + 0.3, (inside, outside)


def test_a_damaged_checkpoint_is_a_one_line_error(tmp_path):
    """Truncated, overwritten or foreign checkpoints: say what it is and what to do."""
    from bench.generators.dcgan_training import CHECKPOINT

    cfg = TrainConfig("t", 28, 1, epochs=1, batch=8)
    data = _tiny_data(8)
    train(cfg, data, tmp_path / "good", progress=False)
    whole = (tmp_path / "good" / CHECKPOINT).read_bytes()
    contents = {
        "truncated": whole[: len(whole) // 2],
        "garbage": b"garbage\n",
        "junk": b"junk\n",
        "foreign": None,  # a PyTorch file, but not a training checkpoint
    }
    for name, blob in contents.items():
        (tmp_path / name).mkdir()
        if blob is None:
            torch.save({"config": {}, "weights": torch.zeros(2)}, tmp_path / name / CHECKPOINT)
        else:
            (tmp_path / name / CHECKPOINT).write_bytes(blob)
        with pytest.raises(ValueError) as info:  # a CheckpointError, which the CLI shows
            train(cfg, data, tmp_path / name, progress=False)
        message = str(info.value)
        assert "\n" not in message, name
        assert message.startswith(f"{tmp_path / name / CHECKPOINT} is not a readable training")
        assert message.endswith("delete it or use another --out"), message


def test_a_batch_larger_than_the_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="a batch of 20 exceeds the 16 training images"):
        train(TrainConfig("t", 28, 1, epochs=1, batch=20), _tiny_data(16), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def _mnist_test_split(root, n):
    """A data folder whose MNIST has only a test split of ``n`` random images."""
    import gzip

    rng = np.random.default_rng(0)
    folder = root / "mnist"
    folder.mkdir(parents=True)
    arrays = {
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n) % 10).astype(np.uint8),
    }
    for stem, arr in arrays.items():
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(n.to_bytes(4, "big") for n in arr.shape)
        (folder / f"{stem}.gz").write_bytes(gzip.compress(header + arr.tobytes()))
    return root


def _train_argv(tmp_path, images=2010):
    """``bench train-generator dcgan-mnist`` on a test split leaving ``images - 2000`` to train."""
    data = str(_mnist_test_split(tmp_path / "data", images))
    return ["train-generator", "dcgan-mnist", "--data-dir", data, "--no-progress", "--out"]


def test_cli_refuses_a_batch_larger_than_the_data(tmp_path, capsys):
    from bench.cli import main

    assert main([*_train_argv(tmp_path), str(tmp_path / "a"), "--batch", "100000"]) == 2
    err = capsys.readouterr().err
    assert err == "bench: error: --batch 100000 exceeds the 10 training images\n"
    assert not (tmp_path / "a" / "checkpoint.pt").exists()


def test_cli_refuses_stylegan2_options_and_an_empty_out(tmp_path, capsys):
    from bench.cli import main

    base = [*_train_argv(tmp_path), str(tmp_path / "b"), "--batch", "5"]
    assert main([*base, "--kimg", "3", "--pack", "p.npz"]) == 2
    assert "dcgan-mnist does not take --kimg, --pack (stylegan2 only)" in capsys.readouterr().err
    assert main([*base, "--dataset", "utkface"]) == 2
    assert "does not take --dataset" in capsys.readouterr().err
    assert main([*_train_argv(tmp_path / "x"), "", "--batch", "5"]) == 2
    assert "--out needs a folder name" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_cli_damaged_checkpoint_is_one_line(tmp_path, capsys):
    from bench.cli import main

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "checkpoint.pt").write_text("garbage\n")
    assert main([*_train_argv(tmp_path), str(tmp_path / "c"), "--batch", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c/checkpoint.pt is not a readable training checkpoint" in err


def test_cli_resumed_with_fewer_epochs_says_it_is_trained_that_far(tmp_path, capsys):
    from bench.cli import main

    base = [*_train_argv(tmp_path), str(tmp_path / "run"), "--batch", "5"]
    assert main([*base, "--epochs", "2"]) == 0
    assert "trained    dcgan-mnist: 2/2 epochs" in capsys.readouterr().out
    assert main([*base, "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "already trained for 2 epochs" in out and "more than --epochs 1" in out
    assert "2/1" not in out


def test_cli_help_states_the_real_defaults(capsys):
    from bench.cli import main

    with pytest.raises(SystemExit):
        main(["train-generator", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "dcgan-mnist 30, dcgan-fashion 4, dcgan-faces 5" in text
    assert "dcgan-faces: a power of 2 from 32; stylegan2: a power of 2 from 8" in text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train-generator", "dcgan-mnist"], "re-run the same command to resume from the last"),
        (["calibrate-crop", "dcgan-faces"], "bench: interrupted; no crop box was stored"),
        (["pack-dataset", "utkface"], "bench: interrupted; no pack was written"),
    ],
)
def test_ctrl_c_says_what_happens_to_the_work(argv, message, monkeypatch, capsys):
    import bench.cli
    from bench.commands import face, generators

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generators, "_trainable", interrupt)  # train-generator's first step
    monkeypatch.setattr(face, "load_generator", interrupt)  # calibrate-crop's first step
    monkeypatch.setattr(generators, "_power_of_two_resolution", interrupt)  # pack-dataset's
    assert bench.cli.main(argv) == 130
    err = capsys.readouterr().err
    assert message in err and "finished runs" not in err


@pytest.mark.parametrize("res,ch", [(28, 1), (64, 3), (128, 3)])
def test_eval_forward_is_the_layer_by_layer_network(res, ch):
    torch.manual_seed(res)
    g = DCGANGenerator(res, ch)
    for bn in (m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.normal_(0.0, 0.5)
        bn.running_var.uniform_(0.2, 3.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.normal_(0.0, 0.3)
    g.eval()
    z = torch.randn(6, 100)
    with torch.no_grad():
        fast, slow = g(z), g.layer_by_layer(z)
    assert fast.shape == slow.shape == (6, ch, res, res)
    assert (fast - slow).abs().max().item() < 1e-5
    assert (slow - g.layer_by_layer(z.flip(0))).abs().max().item() > 0.01  # z matters


def test_eval_forward_passes_gradients_like_the_layer_by_layer_network():
    torch.manual_seed(1)
    g = DCGANGenerator(28, 1).eval()
    z = torch.randn(3, 100, requires_grad=True)
    (g(z) ** 2).sum().backward()
    fast = z.grad.clone()
    z.grad = None
    (g.layer_by_layer(z) ** 2).sum().backward()
    assert torch.allclose(fast, z.grad, rtol=1e-4, atol=1e-6)


def test_training_mode_uses_batch_statistics():
    torch.manual_seed(2)
    g = DCGANGenerator(28, 1).train()
    z = torch.randn(8, 100)
    before = g.blocks[0][2].running_mean.clone()
    out = g(z)
    assert not torch.equal(before, g.blocks[0][2].running_mean)  # BN updated its averages
    g.eval()
    assert (out - g(z)).abs().max().item() > 1e-3  # batch statistics differ from running ones

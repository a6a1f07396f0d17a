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

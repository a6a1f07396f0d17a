"""Fast evaluation: BN folding, channels-last FaceNet, devices, chunks, precision, compile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.problems.facenet_fast import (
    FastFaceNet,
    ResidualBlock,
    count_batchnorms,
    fold_batchnorm,
)
from facenet_pytorch import InceptionResnetV1

from bench.device import CPU_CHUNK, DeviceError, auto_chunk, resolve_device


@pytest.fixture(scope="module")
def random_facenet() -> InceptionResnetV1:
    """FaceNet with random weights and non-trivial batch-norm statistics."""
    torch.manual_seed(0)
    net = InceptionResnetV1(pretrained=None, classify=False).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    return net


def test_folding_removes_every_batchnorm_and_keeps_the_embeddings(random_facenet):
    x = torch.randn(4, 3, 160, 160, generator=torch.Generator().manual_seed(1))
    assert count_batchnorms(random_facenet) > 100
    folded = fold_batchnorm(random_facenet)
    assert count_batchnorms(folded) == 0
    assert count_batchnorms(random_facenet) > 100  # the original is untouched
    with torch.inference_mode():
        ref = random_facenet(x)
        np.testing.assert_allclose(folded(x), ref, atol=2e-5)
        np.testing.assert_allclose(FastFaceNet(random_facenet, channels_last=True)(x), ref,
                                   atol=2e-5)
    # the batch norms' scales went into the convolutions: the weights really changed
    assert not torch.equal(folded.conv2d_1a.conv.weight, random_facenet.conv2d_1a.conv.weight)


def test_fast_facenet_fuses_the_residual_blocks_and_leaves_its_input_alone(random_facenet):
    fast = FastFaceNet(random_facenet, channels_last=True)
    blocks = [m for m in fast.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 5 + 10 + 5 + 1  # repeat_1, repeat_2, repeat_3, block8
    assert [b.relu for b in blocks].count(False) == 1  # the last Block8 has no ReLU
    names = {type(m).__name__ for m in fast.modules()}
    assert not names & {"Block35", "Block17", "Block8"}
    relus = [m for m in fast.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and all(m.inplace for m in relus)
    assert not any(m.inplace for m in random_facenet.modules() if isinstance(m, torch.nn.ReLU))
    # the scale went into the copy's convolution, not the original block's
    assert torch.allclose(
        blocks[0].conv.weight, random_facenet.repeat_1[0].conv2d.weight * 0.17, atol=1e-7
    )
    x = torch.randn(2, 3, 160, 160, generator=torch.Generator().manual_seed(2))
    before = x.clone()
    with torch.inference_mode():
        np.testing.assert_allclose(fast(x), random_facenet(x), atol=2e-5)
    assert torch.equal(x, before)

def test_devices_resolve_or_fail_clearly():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match="unknown device 'gpu0'; valid: cpu, cuda, cuda:N"):
        resolve_device("gpu0")
    with pytest.raises(DeviceError, match="MPS has no float64"):  # accepted, then failed later
        resolve_device("mps")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available on this machine"):
            resolve_device("cuda:0")
    calls = []
    assert auto_chunk(torch.device("cpu"), calls.append) == CPU_CHUNK and calls == []


def test_compiled_generator_gives_the_same_fitness_and_says_so():
    from bench.problems.diversity import DiversityMnistRmse

    eager, fast = DiversityMnistRmse(), DiversityMnistRmse(compile=True)
    genomes = np.random.default_rng(np.random.SeedSequence(7)).standard_normal((3, fast.dim))
    np.testing.assert_allclose(fast.evaluate(genomes), eager.evaluate(genomes), atol=1e-6)
    card = fast.describe()
    assert card["compile"] is True and 0.0 <= card["compile_max_fitness_deviation"] < 1e-6
    assert eager.describe()["compile"] is False
    assert eager.describe()["compile_max_fitness_deviation"] is None
    # compiled in place: the module and its contract are the same object as before
    assert fast.generator._compiled_call_impl is not None and fast.generator.z_dim == 100
    assert eager.generator._compiled_call_impl is None


def test_style_generators_compile_as_mapping_and_synthesis(monkeypatch):
    from bench.generators.stylegan2 import StyleGAN2Generator

    from bench.device import compile_networks

    g = StyleGAN2Generator(z_dim=8, w_dim=8, img_resolution=8, img_channels=3, channel_max=8,
                           mapping_layers=2)
    compile_networks(g)  # lazy: nothing is compiled until a call
    assert g.mapping._compiled_call_impl is not None
    assert g.synthesis._compiled_call_impl is not None
    assert g._compiled_call_impl is None


def test_a_failed_compilation_is_one_clear_error():
    from bench.device import compile_and_measure

    calls = []

    def evaluate(genomes):
        calls.append(len(genomes))
        if len(calls) > 1:  # what a missing C++ compiler does on the first compiled call
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nlong trace")
        return np.zeros(len(genomes))

    with pytest.raises(RuntimeError, match=r"torch.compile failed on this machine "
                       r"\(RuntimeError: InvalidCxxCompiler: No working C\+\+ compiler found\); "
                       r"run without compile=true"):
        compile_and_measure(evaluate, np.zeros((2, 3)), torch.nn.Linear(3, 1))

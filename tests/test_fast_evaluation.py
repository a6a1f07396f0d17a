"""Fast evaluation: folded batch norm, channels-last FaceNet, devices, chunks and precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.problems.facenet_fast import FastFaceNet, count_batchnorms, fold_batchnorm
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

def test_devices_resolve_or_fail_clearly():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match="unknown device 'gpu0'; valid: cpu, cuda, cuda:N"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available on this machine"):
            resolve_device("cuda:0")
    calls = []
    assert auto_chunk(torch.device("cpu"), calls.append) == CPU_CHUNK and calls == []

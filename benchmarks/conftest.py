"""Shared fixtures of the benchmarks: the machine's own measured peak.

Rates are reported next to the peak measured in the same run (a ratio holds
across machines and loads; an absolute time on a shared machine does not).
Run with ``make bench-perf`` (or ``pytest benchmarks``).
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path

import pytest
import torch


def measure_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 matrix-product rate of this machine, GFLOP/s (``2n³`` per product)."""
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    b = torch.randn(n, n, generator=torch.Generator().manual_seed(1))
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


@pytest.fixture(scope="session")
def peak_gflops() -> float:
    """The machine's float32 matmul peak, measured once per benchmark session."""
    return measure_peak_gflops()


def measure_cuda_peak_gflops(dtype: torch.dtype, n: int = 8192, repeats: int = 10) -> float:
    """Best matrix-product rate of the CUDA GPU in ``dtype``, GFLOP/s (device events).

    float32 runs as torch does by default (no TF32), the precision the fp32 cases use.
    """
    gen = torch.Generator("cuda").manual_seed(0)
    a = torch.randn(n, n, device="cuda", generator=gen).to(dtype)
    b = torch.randn(n, n, device="cuda", generator=gen).to(dtype)
    for _ in range(3):
        torch.mm(a, b)  # warm-up: handles, clocks
    best = float("inf")
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.mm(a, b)
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return 2 * n**3 / best / 1e9


@pytest.fixture(scope="session")
def cuda_peaks() -> dict[str, float]:
    """The CUDA GPU's matmul peaks, GFLOP/s, by precision (``fp32``, ``bf16``)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    return {
        "fp32": measure_cuda_peak_gflops(torch.float32),
        "bf16": measure_cuda_peak_gflops(torch.bfloat16),
    }


@functools.cache
def facenet_weights() -> tuple[str, str]:
    """FaceNet weights for the benchmarks and what they are: real, else seeded random.

    A lent GPU machine has no FaceNet weights (its working tree is limited to 64 MiB
    and the weights are 90 MB). Random weights of the same shapes do the same
    arithmetic, so rates hold; fitness deviations are then those of a random network,
    and each result's ``facenet_weights`` says so.
    """
    from bench.problems.facenet_weights import WeightsError, resolve_weights
    from facenet_pytorch import InceptionResnetV1

    try:
        return str(resolve_weights("casia-webface")), "casia-webface"
    except WeightsError:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = InceptionResnetV1(pretrained=None, classify=False)
        path = Path(tempfile.mkdtemp()) / "facenet-random.pt"
        torch.save(model.state_dict(), path)
        return str(path), "random (seed 0): real weights missing on this machine"

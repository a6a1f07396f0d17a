"""Shared fixtures of the benchmarks: the machine's own measured peak.

Rates are reported next to the peak measured in the same run (a ratio holds
across machines and loads; an absolute time on a shared machine does not).
Run with ``make bench-perf`` (or ``pytest benchmarks``).
"""

from __future__ import annotations

import time

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

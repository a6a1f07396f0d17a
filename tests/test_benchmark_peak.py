"""The benchmarks' CPU peak: its probes count their FLOP right and the peak is their best."""

import importlib.util
import math
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]


def benchmarks_conftest():
    """``benchmarks/conftest.py`` as a module (``tests/conftest.py`` holds the name)."""
    spec = importlib.util.spec_from_file_location(
        "benchmarks_conftest", ROOT / "benchmarks" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conv_probe_counts_the_flop_torch_counts():
    peak = benchmarks_conftest()
    conv = torch.nn.Conv2d(24, 24, 3, padding=1, bias=False)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        conv(torch.zeros(3, 24, 5, 5))
    assert peak.conv_probe_flop(24, 5, 3) == counter.get_total_flops()


def test_probes_measure_a_positive_rate():
    peak = benchmarks_conftest()
    rates = [
        peak.measure_mm_gflops(n=64, repeats=1),
        peak.measure_conv_gflops(channels=16, side=4, batch=2, repeats=1),
    ]
    assert all(math.isfinite(r) and r > 0 for r in rates)

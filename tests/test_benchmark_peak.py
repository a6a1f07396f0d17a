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


def test_probes_keep_each_ones_best_over_the_session(monkeypatch):
    peak = benchmarks_conftest()
    mm, conv = iter([100.0, 120.0]), iter([200.0, 180.0])  # two probings
    monkeypatch.setattr(peak, "measure_mm_gflops", lambda: next(mm))
    monkeypatch.setattr(peak, "measure_conv_gflops", lambda: next(conv))
    peak.probe_cpu_peak()
    peak.probe_cpu_peak()
    assert peak.cpu_peak_probes() == {peak.MM_PROBE: 120.0, peak.CONV_PROBE: 200.0}
    info: dict = {}
    peak.pytest_benchmark_update_machine_info(None, info)
    assert info["cpu_peak_probings"] == 2
    assert info["cpu_peak_probe_range_gflops"][peak.CONV_PROBE] == [180.0, 200.0]


def test_final_shares_are_against_the_best_probe_of_the_session():
    peak = benchmarks_conftest()
    out = {"benchmarks": [
        {"extra_info": {"achieved_gflops": 90.0, "peak_gflops": 180.0, "share_of_peak": 0.5}},
        {"extra_info": {"device": "cuda", "achieved_gflops": 9e4, "peak_gflops": 1e5,
                        "share_of_peak": 0.9}},
        {"extra_info": {"seconds_per_200": 0.1}},
    ]}
    peak.rebase_on_session_peak(out, 200.0)
    cpu, gpu, other = (b["extra_info"] for b in out["benchmarks"])
    assert cpu == {"achieved_gflops": 90.0, "peak_gflops": 200.0, "share_of_peak": 0.45,
                   "peak_gflops_when_run": 180.0}
    assert gpu["share_of_peak"] == 0.9 and "peak_gflops_when_run" not in gpu
    assert other == {"seconds_per_200": 0.1}

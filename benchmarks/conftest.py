"""Shared fixtures of the benchmarks: the machine's own measured peak.

Rates are reported next to the peak measured in the same run (a ratio holds
across machines and loads; an absolute time on a shared machine does not).
Run with ``make bench-perf`` (or ``pytest benchmarks``).

On a shared VM the machine's speed drifts by 10 % or more within minutes, so one
probe at the start of a session can catch a slow moment and flatter every share
after it. The probes are therefore taken again before every benchmark that asks
for ``peak_gflops``, and the JSON written at the end sets every CPU rate against
the best probe of the whole session (``pytest_benchmark_update_json``): the peak
is never lower than anything the machine showed it could do in that session.
Each record keeps the peak that stood when it ran as ``peak_gflops_when_run``.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

MM_PROBE = "torch.mm 2048² (BLAS sgemm)"
CONV_PROBE = "conv 3×3, 256 → 256 channels, 8 × 16², channels-last (oneDNN)"


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Shortest of ``repeats`` timed calls of ``fn``, after one untimed warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_mm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 ``torch.mm`` rate of ``n × n`` products, GFLOP/s (``2n³`` each)."""
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    b = torch.randn(n, n, generator=torch.Generator().manual_seed(1))
    return 2 * n**3 / _best_seconds(lambda: torch.mm(a, b), repeats) / 1e9


def measure_conv_gflops(channels: int = 256, side: int = 16, batch: int = 8,
                        repeats: int = 5) -> float:
    """Best float32 rate of a 3×3 same-padded convolution in channels-last, GFLOP/s.

    On a CPU torch runs it through oneDNN: a matrix product of ``batch·side²`` rows,
    ``channels`` columns and ``9·channels`` inner terms (``2·batch·side²·9·channels²``
    FLOP), the kernel the suite's networks spend their time in.
    """
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).eval()
    conv = conv.to(memory_format=torch.channels_last)
    x = torch.randn(batch, channels, side, side, generator=gen)
    x = x.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        seconds = _best_seconds(lambda: conv(x), repeats)
    return conv_probe_flop(channels, side, batch) / seconds / 1e9


def conv_probe_flop(channels: int, side: int, batch: int) -> int:
    """FLOP of ``measure_conv_gflops``'s convolution: ``2·batch·side²·9·channels²``."""
    return 2 * batch * side**2 * 9 * channels**2


PROBE_HISTORY: list[dict[str, float]] = []  # every probing of this session, in order


def probe_cpu_peak() -> dict[str, float]:
    """Measure both CPU peak probes now (GFLOP/s each) and add them to the history.

    torch multiplies matrices through its BLAS (MKL in PyPI's wheels) and runs
    convolutions through oneDNN. The two need not agree: on AMD Zen 5 MKL's sgemm
    reaches about half of what oneDNN does on one thread, and a peak taken from it
    alone put FaceNet at 160 % of "peak". The peak is the faster of the two.
    """
    probes = {MM_PROBE: measure_mm_gflops(), CONV_PROBE: measure_conv_gflops()}
    PROBE_HISTORY.append(probes)
    return probes


def cpu_peak_probes() -> dict[str, float]:
    """Each probe's best rate over the session so far, GFLOP/s (probing once if none)."""
    if not PROBE_HISTORY:
        probe_cpu_peak()
    return {name: max(p[name] for p in PROBE_HISTORY) for name in PROBE_HISTORY[0]}


@pytest.fixture
def peak_gflops() -> float:
    """The machine's float32 peak so far, GFLOP/s, after probing it again now.

    The JSON's final figures use the best probe of the whole session instead
    (``pytest_benchmark_update_json``).
    """
    probe_cpu_peak()
    return max(cpu_peak_probes().values())


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Record each CPU peak probe's best rate and how often the session probed."""
    if PROBE_HISTORY:
        machine_info["cpu_peak_probes_gflops"] = cpu_peak_probes()
        machine_info["cpu_peak_probings"] = len(PROBE_HISTORY)
        machine_info["cpu_peak_probe_range_gflops"] = {
            name: [min(p[name] for p in PROBE_HISTORY), max(p[name] for p in PROBE_HISTORY)]
            for name in PROBE_HISTORY[0]
        }


def rebase_on_session_peak(output_json: dict, peak: float) -> None:
    """Set every CPU benchmark's share against ``peak`` (GFLOP/s), in place.

    A benchmark counts when its ``extra_info`` has ``peak_gflops`` and an arithmetic
    rate (``achieved_gflops``) and it did not run on a GPU (those use the GPU's own
    peaks). The peak it ran with is kept as ``peak_gflops_when_run``.
    """
    for bench in output_json.get("benchmarks", []):
        info = bench.get("extra_info", {})
        rate = info.get("achieved_gflops")
        if "peak_gflops" not in info or rate is None or str(info.get("device", "cpu")) != "cpu":
            continue
        info.setdefault("peak_gflops_when_run", info["peak_gflops"])
        info["peak_gflops"] = peak
        info["share_of_peak"] = rate / peak


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict
) -> None:
    """Final figures: every CPU rate against the best probe of the session."""
    if PROBE_HISTORY:
        rebase_on_session_peak(output_json, max(cpu_peak_probes().values()))


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


def device_peak(request: pytest.FixtureRequest, precision: str = "fp32") -> float:
    """The peak a case's rate is set against, GFLOP/s.

    Where CUDA runs, the GPU's matmul peak in ``precision`` (``cuda_peaks``); on a
    CPU the best probe taken just now (``peak_gflops``, re-probed for each case).
    """
    if torch.cuda.is_available():
        return request.getfixturevalue("cuda_peaks")[precision]
    return request.getfixturevalue("peak_gflops")


def synced(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn``, returning only once the GPU has finished the work it queued (as is on a CPU)."""

    def call() -> object:
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return out

    return call


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

"""Whole face evaluations per second (generator → crop → 160 px → FaceNet → distance).

Each case builds the real face problem and times one batch of evaluations;
the arithmetic rate is the FLOP of one evaluation (generator and FaceNet,
counted by ``torch.utils.flop_counter``) times evaluations per second, set
against the matmul peak measured in the same session. Cases:

- the shipped face DCGAN (``dcgan-faces``), the problem's CPU default;
- StyleGAN2 config-f with random weights at the official FFHQ shapes: 256 px
  on a CPU (1024 px takes about ten seconds an image there), 1024 px on a GPU,
  where fp32 and bf16 are both timed and bf16's fitness deviation is reported.

The face study reached about 160 evaluations per second on a cloud GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.generators.stylegan2 import config_f
from bench.problems.face import FaceSimilarity
from torch.utils.flop_counter import FlopCounterMode

from bench.registry import registry

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"


def flop_per_evaluation(problem: FaceSimilarity) -> float:
    """FLOP of one evaluation: generator, crop-resize and FaceNet on one genome."""
    genome = np.zeros((1, problem.dim))
    with FlopCounterMode(display=False) as counter:
        problem.evaluate(genome)
    return float(counter.get_total_flops())


def _cases() -> list[tuple[str, str, int]]:
    cases = []
    if "dcgan-faces" in registry("generators").names():
        cases.append(("dcgan-faces", "fp32", 64))
    cases.append(("stylegan2-f-1024" if CUDA else "stylegan2-f-256", "fp32", 64 if CUDA else 4))
    if CUDA:
        cases.append(("stylegan2-f-1024", "bf16", 64))
    return cases


def _problem(name: str, precision: str, batch: int) -> FaceSimilarity:
    if name.startswith("stylegan2-f-"):
        res = int(name.rsplit("-", 1)[1])
        torch.manual_seed(0)
        generator = config_f(res).eval()
        return FaceSimilarity(
            "seed:0", generator=generator, crop=f"0,0,{res},{res}", device=DEVICE,
            precision=precision, chunk=batch, measure_samples=3,
        )
    return FaceSimilarity("seed:0", generator=name, device=DEVICE, precision=precision)


@pytest.mark.parametrize("name, precision, batch", _cases())
def test_face_evaluations_per_second(benchmark, peak_gflops, name, precision, batch):
    problem = _problem(name, precision, batch)
    genomes = np.random.default_rng(0).normal(size=(batch, problem.dim))
    problem.evaluate(genomes[:2])  # warm-up: kernels picked for these shapes
    problem.evaluate(genomes)

    def evaluate() -> np.ndarray:
        out = problem.evaluate(genomes)
        if CUDA:
            torch.cuda.synchronize()
        return out

    benchmark.pedantic(evaluate, rounds=3, iterations=1)
    evals_per_s = batch / benchmark.stats.stats.min
    flop = flop_per_evaluation(problem)
    achieved = evals_per_s * flop / 1e9
    info = {
        "device": str(problem.device),
        "precision": precision,
        "evals_per_second": evals_per_s,
        "gflop_per_evaluation": flop / 1e9,
        "achieved_gflops": achieved,
        "peak_gflops": peak_gflops,
        "share_of_peak": achieved / peak_gflops,
        "vs_study_160_per_s": evals_per_s / 160.0,
        "precision_max_fitness_deviation": problem.precision_deviation,
        "torch_threads": torch.get_num_threads(),
    }
    benchmark.extra_info.update(info)
    print(
        f"\nface/{name} {precision} on {problem.device}: {evals_per_s:.2f} evals/s, "
        f"{flop / 1e9:.2f} GFLOP/eval, {achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} "
        f"of the {peak_gflops:.1f} GFLOP/s matmul peak"
        + (f"; bf16 fitness deviation {problem.precision_deviation:.2e}" if precision != "fp32"
           else "")
    )

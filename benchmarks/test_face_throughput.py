"""Whole face evaluations per second (generator → crop → 160 px → FaceNet → distance).

Each case builds the real face problem and times one batch of evaluations;
the arithmetic rate is the FLOP of one evaluation (generator and FaceNet,
counted by ``torch.utils.flop_counter``) times evaluations per second, set
against the peak measured in the same session. Cases:

- the shipped face DCGAN (``dcgan-faces``), the problem's CPU default;
- StyleGAN2 config-f with random weights at the official FFHQ shapes: 256 px
  on a CPU (1024 px takes about three seconds an image there), 1024 px on a GPU,
  where fp32 and bf16 are both timed (bf16 also at batch 256) and bf16's fitness
  deviation is reported;
- the same with ``compile=True`` (``torch.compile``): the face DCGAN on a CPU,
  StyleGAN2 1024 in bf16 on a GPU, with the fitness deviation compiling causes.

The face study reached about 160 evaluations per second on a cloud GPU.

On a GPU the rates are set against the GPU's own matmul peak in the case's
precision (fp32 without TF32, or bf16). Where FaceNet's real weights are missing
(a lent GPU machine), FaceNet runs with seeded random weights
(``conftest.facenet_weights``; each result's ``facenet_weights`` says which).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.generators.stylegan2 import config_f
from bench.problems.face import FaceSimilarity
from conftest import device_peak, facenet_weights, synced
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


def _cases() -> list[tuple[str, str, int, bool]]:
    cases = []
    if "dcgan-faces" in registry("generators").names():
        cases.append(("dcgan-faces", "fp32", 64, False))
        if not CUDA:
            cases.append(("dcgan-faces", "fp32", 64, True))
    cases.append(
        ("stylegan2-f-1024" if CUDA else "stylegan2-f-256", "fp32", 64 if CUDA else 4, False)
    )
    if CUDA:
        cases.append(("stylegan2-f-1024", "bf16", 64, False))
        cases.append(("stylegan2-f-1024", "bf16", 256, False))  # does a larger batch pay?
        cases.append(("stylegan2-f-1024", "bf16", 64, True))
    return cases


def _problem(name: str, precision: str, batch: int, compiled: bool = False) -> FaceSimilarity:
    kw = {
        "device": DEVICE, "precision": precision, "compile": compiled,
        "facenet": facenet_weights()[0],
    }
    if name.startswith("stylegan2-f-"):
        res = int(name.rsplit("-", 1)[1])
        torch.manual_seed(0)
        generator = config_f(res).eval()
        return FaceSimilarity(
            "seed:0", generator=generator, crop=f"0,0,{res},{res}", chunk=batch,
            measure_samples=3, **kw,
        )
    return FaceSimilarity("seed:0", generator=name, **kw)


def _case_id(case: tuple[str, str, int, bool]) -> str:
    """Test id, e.g. ``stylegan2-f-1024-bf16-b64-compiled`` (``-k "not compiled"`` selects)."""
    name, precision, batch, compiled = case
    return f"{name}-{precision}-b{batch}" + ("-compiled" if compiled else "")


CASES = _cases()


@pytest.mark.parametrize(
    "name, precision, batch, compiled", CASES, ids=[_case_id(c) for c in CASES]
)
def test_face_evaluations_per_second(request, benchmark, name, precision, batch, compiled):
    peak_gflops = device_peak(request, precision)  # on a GPU, its own in this precision
    problem = _problem(name, precision, batch, compiled)
    genomes = np.random.default_rng(0).normal(size=(batch, problem.dim))
    problem.evaluate(genomes[:2])  # warm-up: kernels picked for these shapes
    problem.evaluate(genomes)

    benchmark.pedantic(synced(lambda: problem.evaluate(genomes)), rounds=3, iterations=1)
    evals_per_s = batch / benchmark.stats.stats.min
    # compiled code runs outside the FLOP counter: count on the same problem uncompiled
    flop = flop_per_evaluation(_problem(name, precision, batch) if compiled else problem)
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
        "compile": compiled,
        "compile_max_fitness_deviation": problem.compile_deviation,
        "torch_threads": torch.get_num_threads(),
        "facenet_weights": facenet_weights()[1],
        "device_name": torch.cuda.get_device_name() if CUDA else "cpu",
    }
    benchmark.extra_info.update(info)
    print(
        f"\nface/{name} {precision}{' compiled' if compiled else ''} on {problem.device}: "
        f"{evals_per_s:.2f} evals/s, "
        f"{flop / 1e9:.2f} GFLOP/eval, {achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} "
        f"of the {peak_gflops:.1f} GFLOP/s peak"
        + (f"; bf16 fitness deviation {problem.precision_deviation:.2e}" if precision != "fp32"
           else "")
    )

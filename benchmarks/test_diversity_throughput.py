"""Set-diversity evaluations per second, next to the machine's peak (conftest.py).

One round evaluates one GA generation (50 sets of 50 images). The arithmetic
rate is FLOP per evaluation (counted by ``torch.utils.flop_counter`` on the
generator, plus the pairwise Gram products) times evaluations per second.
"""

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.registry import registry

POPULATION = 50


def flop_per_evaluation(problem) -> float:
    """Generator FLOP for one set plus the ``2·K²·P`` of its Gram matrix."""
    z = torch.zeros(problem.k, problem.z_dim)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        problem.generator(z)
    g = problem.generator
    pixels = g.img_channels * g.img_resolution**2
    return counter.get_total_flops() + 2.0 * problem.k**2 * pixels


@pytest.mark.parametrize(
    "name", [n for n in registry("problems").names() if n.startswith("diversity-")]
)
def test_diversity_evaluations_per_second(benchmark, peak_gflops, name):
    problem = registry("problems").load(name)()
    genomes = np.random.default_rng(0).normal(size=(POPULATION, problem.dim))
    problem.evaluate(genomes[:2])  # warm-up
    benchmark.pedantic(problem.evaluate, args=(genomes,), rounds=3, iterations=1)
    evals_per_s = POPULATION / benchmark.stats.stats.min
    flop = flop_per_evaluation(problem)
    achieved = evals_per_s * flop / 1e9
    benchmark.extra_info.update(
        {
            "evals_per_second": evals_per_s,
            "gflop_per_evaluation": flop / 1e9,
            "achieved_gflops": achieved,
            "peak_gflops": peak_gflops,
            "share_of_peak": achieved / peak_gflops,
            "torch_threads": torch.get_num_threads(),
        }
    )
    print(
        f"\n{name}: {evals_per_s:.1f} evals/s, {flop / 1e9:.2f} GFLOP/eval, "
        f"{achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} of the {peak_gflops:.1f} "
        "GFLOP/s peak"
    )

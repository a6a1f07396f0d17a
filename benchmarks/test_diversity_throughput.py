"""Set-diversity evaluations per second, next to the machine's peak (conftest.py).

One round evaluates one GA generation (50 sets of 50 images). The arithmetic
rate is FLOP per evaluation (counted by ``torch.utils.flop_counter`` on the
generator as it runs, plus the pairwise Gram products) times evaluations per
second. In eval mode a DCGAN runs each up-sampling block as one transposed
convolution (``bench.generators.dcgan.fused_up_block``), 16 multiply-adds where
the layer-by-layer network (nearest up-sampling, 3×3 convolution) does 36: the
records give both counts, and ``test_fused_dcgan_speedup`` times the two forms
against each other in the same session.

On a CUDA machine the set problems run on the GPU (``auto_chunk`` sizes their
generator passes from free memory) and their rates are set against the GPU's
fp32 matmul peak; the DCGAN speed-up stays a CPU figure.
"""

import time

import numpy as np
import pytest
import torch
from conftest import device_peak, synced
from torch.utils.flop_counter import FlopCounterMode

from bench.registry import registry

POPULATION = 50
CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"


def layer_by_layer_flop(generator: torch.nn.Module, k: int) -> float:
    """FLOP of ``k`` images by an eval-mode DCGAN computed module by module."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        generator.layer_by_layer(torch.zeros(k, generator.z_dim, device=generator.device))
    return float(counter.get_total_flops())


def flop_per_evaluation(problem) -> float:
    """Generator FLOP for one set plus the ``2·K²·P`` of its Gram matrix."""
    z = torch.zeros(problem.k, problem.z_dim, device=problem.generator.device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        problem.generator(z)
    g = problem.generator
    pixels = g.img_channels * g.img_resolution**2
    return counter.get_total_flops() + 2.0 * problem.k**2 * pixels


def generator_flop(generator: torch.nn.Module, k: int) -> float:
    """FLOP of ``k`` images by ``generator`` as it runs (eval mode: fused blocks)."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        generator(torch.zeros(k, generator.z_dim, device=generator.device))
    return float(counter.get_total_flops())


@pytest.mark.parametrize(
    "name", [n for n in registry("problems").names() if n.startswith("diversity-")]
)
def test_diversity_evaluations_per_second(request, benchmark, name):
    peak_gflops = device_peak(request)
    problem = registry("problems").load(name)(device=DEVICE)
    genomes = np.random.default_rng(0).normal(size=(POPULATION, problem.dim))
    problem.evaluate(genomes[:2])  # warm-up: kernels picked for these shapes
    problem.evaluate(genomes)

    benchmark.pedantic(synced(lambda: problem.evaluate(genomes)), rounds=3, iterations=1)
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
            "gflop_per_evaluation_layer_by_layer": (
                layer_by_layer_flop(problem.generator, problem.k) + flop
                - generator_flop(problem.generator, problem.k)
            ) / 1e9,
            "torch_threads": torch.get_num_threads(),
            "device": DEVICE,
            "device_name": torch.cuda.get_device_name() if CUDA else "cpu",
            "chunk": problem.chunk,
        }
    )
    print(
        f"\n{name} on {DEVICE} (chunk {problem.chunk}): {evals_per_s:.1f} evals/s, "
        f"{flop / 1e9:.2f} GFLOP/eval, "
        f"{achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} of the {peak_gflops:.1f} "
        "GFLOP/s peak"
    )


@pytest.mark.parametrize("name", ["dcgan-mnist", "dcgan-faces"])
def test_fused_dcgan_speedup(benchmark, peak_gflops, name):
    """Images per second of a DCGAN in eval mode, fused and layer by layer.

    The same weights and latents, 3 rounds of each form one after the other; the
    ratio of the best times is the speed-up of ``fused_up_block``.
    """
    generator = registry("generators").load(name)()
    n = 500 if generator.img_resolution <= 32 else 100
    z = torch.as_tensor(np.random.default_rng(0).normal(size=(n, generator.z_dim)),
                        dtype=torch.float32)
    with torch.inference_mode():
        deviation = (generator(z) - generator.layer_by_layer(z)).abs().max().item()
        slow = []
        for _ in range(3):
            start = time.perf_counter()
            generator.layer_by_layer(z)
            slow.append(time.perf_counter() - start)
        benchmark.pedantic(generator, args=(z,), rounds=3, iterations=1)
    fused_per_s, slow_per_s = n / benchmark.stats.stats.min, n / min(slow)
    flop = generator_flop(generator, 1)
    benchmark.extra_info.update(
        {
            "images_per_second": fused_per_s,
            "images_per_second_layer_by_layer": slow_per_s,
            "speedup": fused_per_s / slow_per_s,
            "gflop_per_image": flop / 1e9,
            "gflop_per_image_layer_by_layer": layer_by_layer_flop(generator, 1) / 1e9,
            "achieved_gflops": fused_per_s * flop / 1e9,
            "peak_gflops": peak_gflops,
            "share_of_peak": fused_per_s * flop / 1e9 / peak_gflops,
            "max_image_deviation": deviation,
            "torch_threads": torch.get_num_threads(),
        }
    )
    print(
        f"\n{name}: fused {fused_per_s:.0f} images/s, layer by layer {slow_per_s:.0f} "
        f"({fused_per_s / slow_per_s:.2f}x); images differ by at most {deviation:.1e}"
    )

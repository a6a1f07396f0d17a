"""StyleGAN2 images per second on this machine, next to its matmul peak.

Random weights in the official config-f shapes (channel_base 32768, channel_max
512, z and w 512) at 64, 256 and 1024; ``G(z)`` as the suite calls it (constant
noise, clamped). FLOP per image are counted by ``torch.utils.flop_counter`` on one
image; the share of peak is that count times images per second over the measured
matmul peak. CPU is slow for 1024 (≈ 200 GFLOP an image), so rounds stay few.
"""

import pytest
import torch
from bench.generators.stylegan2 import config_f
from torch.utils.flop_counter import FlopCounterMode

CASES = {64: (4, 2), 256: (2, 2), 1024: (1, 1)}  # resolution: (images per call, rounds)


@pytest.mark.parametrize("res", sorted(CASES))
def test_stylegan2_images_per_second(benchmark, peak_gflops, res):
    batch, rounds = CASES[res]
    torch.manual_seed(0)
    G = config_f(res).eval()
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        G(z[:1])  # also the warm-up
    flop = counter.get_total_flops()

    def run():
        with torch.inference_mode():
            return G(z)

    benchmark.pedantic(run, rounds=rounds, iterations=1)
    images_per_s = batch / benchmark.stats.stats.min
    achieved = images_per_s * flop / 1e9
    benchmark.extra_info.update(
        {
            "images_per_second": images_per_s,
            "gflop_per_image": flop / 1e9,
            "achieved_gflops": achieved,
            "peak_gflops": peak_gflops,
            "share_of_peak": achieved / peak_gflops,
            "batch": batch,
            "torch_threads": torch.get_num_threads(),
        }
    )
    print(
        f"\nstylegan2 config-f {res}: {images_per_s:.3f} images/s, {flop / 1e9:.1f} GFLOP/image, "
        f"{achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} of the {peak_gflops:.1f} GFLOP/s "
        "matmul peak"
    )

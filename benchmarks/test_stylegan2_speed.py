"""StyleGAN2 images per second on this machine, next to its peak (conftest.py).

Random weights in the official config-f shapes (channel_base 32768, channel_max
512, z and w 512) at 64, 256 and 1024; ``G(z)`` as the suite calls it (constant
noise, clamped). FLOP per image are counted by ``torch.utils.flop_counter`` on one
image; the share of peak is that count times images per second over the measured
peak (on a CPU ``conftest.cpu_peak_probes``). CPU is slow for 1024 (≈ 150 GFLOP an
image), so rounds stay few.

On a CUDA GPU the same cases run there instead (the CPU figures are the CPU
machine's to measure), in fp32 and under bfloat16 autocast, with bigger batches,
each against the GPU's own matmul peak in that precision; a second test times the
whole face evaluation (StyleGAN2 1024 → resize to 160 → FaceNet → distance) in
fp32 and bf16, with the fitness difference bf16 causes. Without a GPU it skips and
says so.
"""

import pytest
import torch
from bench.generators.stylegan2 import config_f
from conftest import device_peak, facenet_weights
from torch.utils.flop_counter import FlopCounterMode

CUDA = torch.cuda.is_available()
# resolution: (images per call, rounds), on a CPU and on a GPU
CPU_CASES = {64: (4, 2), 256: (2, 2), 1024: (1, 1)}
GPU_CASES = {64: (256, 5), 256: (64, 5), 1024: (16, 5)}
CASES = GPU_CASES if CUDA else CPU_CASES
PRECISIONS = ["fp32", "bf16"] if CUDA else ["fp32"]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("res", sorted(CASES))
def test_stylegan2_images_per_second(request, benchmark, res, precision):
    batch, rounds = CASES[res]
    device = "cuda" if CUDA else "cpu"
    peak_gflops = device_peak(request, precision)
    torch.manual_seed(0)
    G = config_f(res).eval().to(device)
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1)).to(device)
    bf16 = precision == "bf16"
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        G(z[:1])  # also a warm-up
    flop = counter.get_total_flops()

    def run():
        with torch.inference_mode(), torch.autocast(device, torch.bfloat16, enabled=bf16):
            out = G(z)
        if CUDA:
            torch.cuda.synchronize()
        return out

    run()  # warm-up at this batch: kernels picked for these shapes
    benchmark.pedantic(run, rounds=rounds, iterations=1)
    images_per_s = batch / benchmark.stats.stats.min
    achieved = images_per_s * flop / 1e9
    benchmark.extra_info.update(
        {
            "device": torch.cuda.get_device_name() if CUDA else "cpu",
            "precision": precision,
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
        f"\nstylegan2 config-f {res} {precision} on {device}: {images_per_s:.3f} images/s, "
        f"{flop / 1e9:.1f} GFLOP/image, {achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} "
        f"of the {peak_gflops:.1f} GFLOP/s peak"
    )


GPU_BATCH = 32


def face_distances(G, facenet, z, target, bf16: bool):
    """StyleGAN2 1024 → whole image resized to 160 → FaceNet → distance to ``target``, ``[N]``."""
    from bench.problems.face_targets import standardise

    with torch.inference_mode(), torch.autocast(z.device.type, torch.bfloat16, enabled=bf16):
        images = G(z)
        faces = torch.nn.functional.interpolate(
            (images + 1) * 127.5, size=(160, 160), mode="bilinear", antialias=True
        )
        emb = facenet(standardise(faces)).float()
    return torch.linalg.vector_norm(emb - target, dim=1)


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="the whole face evaluation at 1024 is measured on a CUDA GPU (issue 6); none here",
)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_face_evaluations_per_second_on_gpu(benchmark, precision):
    from bench.problems.facenet_weights import load_facenet

    torch.manual_seed(0)
    G = config_f(1024).cuda().eval()
    facenet = load_facenet(facenet_weights()[0], device="cuda")
    z = torch.randn(GPU_BATCH, G.z_dim, generator=torch.Generator().manual_seed(1)).cuda()
    target = torch.zeros(512, device="cuda")
    target[0] = 1.0
    exact = face_distances(G, facenet, z, target, bf16=False)
    bf16 = precision == "bf16"
    got = face_distances(G, facenet, z, target, bf16)  # also the warm-up
    torch.cuda.synchronize()
    benchmark.pedantic(
        lambda: face_distances(G, facenet, z, target, bf16).cpu(), rounds=5, iterations=1
    )
    evals_per_s = GPU_BATCH / benchmark.stats.stats.min
    diff = (got - exact).abs()
    benchmark.extra_info.update(
        {
            "evaluations_per_second": evals_per_s,
            "batch": GPU_BATCH,
            "device": torch.cuda.get_device_name(),
            "facenet_weights": facenet_weights()[1],
            "max_abs_fitness_difference_vs_fp32": diff.max().item(),
            "mean_abs_fitness_difference_vs_fp32": diff.mean().item(),
        }
    )
    print(
        f"\nface evaluation ({precision}, {torch.cuda.get_device_name()}): {evals_per_s:.0f} "
        f"evaluations/s; |fitness − fp32| max {diff.max().item():.2e}, "
        f"mean {diff.mean().item():.2e}"
    )

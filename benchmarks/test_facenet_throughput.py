"""FaceNet embeddings per second on this machine, next to its peak (conftest.py).

The face problem's cost per evaluation is dominated by FaceNet (InceptionResnetV1
at 160×160; the issue quotes 2.8 GFLOP per image, counted here by
``torch.utils.flop_counter``) plus the generator. One round embeds one batch.
"""

import pytest
import torch
from bench.problems.face_targets import standardise
from bench.problems.facenet_fast import FastFaceNet
from bench.problems.facenet_weights import load_facenet
from torch.utils.flop_counter import FlopCounterMode

BATCH = 32


@pytest.mark.parametrize("layout", ["plain", "folded-channels-last"])
def test_facenet_embeddings_per_second(benchmark, peak_gflops, layout):
    model = load_facenet()  # imports the offline weights on first use
    if layout != "plain":  # what the face problem runs
        model = FastFaceNet(model, channels_last=True)
    faces = torch.rand(BATCH, 3, 160, 160, generator=torch.Generator().manual_seed(0)) * 255

    def embed():
        with torch.inference_mode():
            return model(standardise(faces))

    embed()  # warm-up (oneDNN picks its kernels for this shape)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(standardise(faces[:1]))
    flop = counter.get_total_flops()
    benchmark.pedantic(embed, rounds=3, iterations=1)
    per_s = BATCH / benchmark.stats.stats.min
    achieved = per_s * flop / 1e9
    benchmark.extra_info.update(
        {
            "images_per_second": per_s,
            "gflop_per_image": flop / 1e9,
            "achieved_gflops": achieved,
            "peak_gflops": peak_gflops,
            "share_of_peak": achieved / peak_gflops,
            "torch_threads": torch.get_num_threads(),
        }
    )
    print(
        f"\nfacenet ({layout}): {per_s:.1f} images/s, {flop / 1e9:.2f} GFLOP/image, "
        f"{achieved:.1f} GFLOP/s = {achieved / peak_gflops:.0%} of the "
        f"{peak_gflops:.1f} GFLOP/s peak"
    )

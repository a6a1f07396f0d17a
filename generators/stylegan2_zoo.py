"""Registered StyleGAN2 generators (entry points of ``bench.generators``).

``stylegan2-ffhq`` is NVIDIA's FFHQ network (1024×1024, config-f). Its weights
are not shipped (NVIDIA's licence is non-commercial, and nothing is downloaded at
run time): the user brings the file and passes ``weights=PATH``
(``--set problem.weights=PATH``) or sets ``$LATENT_BENCH_STYLEGAN2_FFHQ``.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.generators.stylegan2 import StyleGAN2Generator
from bench.generators.stylegan2_checkpoints import load_stylegan2

from bench.generator import MissingWeightsError

FFHQ_ENV = "LATENT_BENCH_STYLEGAN2_FFHQ"

FFHQ_SOURCES = (
    "NVIDIA's stylegan2-ada-pytorch pretrained FFHQ network "
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/ffhq.pkl "
    "(or stylegan2-ffhq-1024x1024.pkl from the stylegan3 release), or a rosinality "
    "stylegan2-pytorch file (stylegan2-ffhq-config-f.pt, made by its convert_weight.py "
    "from NVIDIA's TensorFlow stylegan2-ffhq-config-f.pkl)"
)


def stylegan2_ffhq(
    weights: str | None = None,
    device: str = "cpu",
    trust: bool = False,
    truncation_psi: float = 1.0,
) -> StyleGAN2Generator:
    """NVIDIA's StyleGAN2 FFHQ generator (1024×1024 RGB, z 512, 18 ws), from the user's file.

    Args:
        weights: ``.pkl`` or ``.pt`` file; default ``$LATENT_BENCH_STYLEGAN2_FFHQ``.
        device: Torch device.
        trust: Accept a ``.pkl`` whose sha256 is not a known official one.
        truncation_psi: ψ of ``G(z)`` and ``G.mapping(z)``.

    Raises:
        MissingWeightsError: No file given or found; the message says where to get one.

    """
    path = weights or os.environ.get(FFHQ_ENV)
    if not path or not Path(path).is_file():
        where = f"not found at {path}" if path else "not given"
        raise MissingWeightsError(
            f"stylegan2-ffhq weights {where}: they are not shipped; download {FFHQ_SOURCES}, "
            f"then pass weights=PATH (--set problem.weights=PATH) or set ${FFHQ_ENV}"
        )
    G = load_stylegan2(path, trust=trust, device=device)
    G.truncation_psi = truncation_psi
    return G

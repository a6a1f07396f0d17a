"""Registered StyleGAN2 generators (entry points of ``bench.generators``).

``stylegan2-utkface64`` is trained by this suite on UTKFace faces (64×64) and
shipped in ``generators/weights/`` with a model card once trained on a GPU
(``bench train-generator stylegan2``, then ``bench export-generator stylegan2``).

``stylegan2-ffhq`` is NVIDIA's FFHQ network (1024×1024, config-f). Its weights
are not shipped (NVIDIA's licence is non-commercial, and nothing is downloaded at
run time): the user brings the file and passes ``weights=PATH``
(``--set problem.weights=PATH``) or sets ``$LATENT_BENCH_STYLEGAN2_FFHQ``. A
``.pkl`` is read without running code stored in it; as no official hash could be
verified here, the user confirms the file with ``trust=True`` or by listing its
sha256 in ``$LATENT_BENCH_TRUSTED_SHA256``.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.generators.stylegan2 import StyleGAN2Generator
from bench.generators.stylegan2_checkpoints import (
    TRUST_ENV,
    CheckpointError,
    load_stylegan2,
)

from bench.generator import MissingWeightsError
from bench.problem import WEIGHTS_OPTION
from bench.spec import SpecError

FFHQ_ENV = "LATENT_BENCH_STYLEGAN2_FFHQ"
UTKFACE64 = "stylegan2-utkface64"
HOW_TO_TRAIN = (
    "train it (a GPU helps) with `bench train-generator stylegan2 --dataset utkface "
    "--resolution 64 --device cuda --max-minutes 9`, repeated until it reports the full kimg, "
    "then `bench export-generator stylegan2 --data-dir DATA` (scripts/device/README.md: the "
    f"same on a lent GPU); or pass {WEIGHTS_OPTION}"
)

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
        SpecError: The file is not a StyleGAN2 checkpoint, or an unknown ``.pkl``
            without ``trust`` (a one-line usage error in the CLI).

    """
    path = weights or os.environ.get(FFHQ_ENV)
    if not path or not Path(path).is_file():
        origin = "" if weights else f" (from ${FFHQ_ENV})"
        where = f"not found at {path}{origin}" if path else "not given"
        raise MissingWeightsError(
            f"stylegan2-ffhq weights {where}: they are not shipped; download {FFHQ_SOURCES}, "
            f"then pass {WEIGHTS_OPTION} or set ${FFHQ_ENV}; a .pkl also needs its sha256 "
            f"in ${TRUST_ENV} (or trust=True in Python)"
        )
    try:
        G = load_stylegan2(path, trust=trust, device=device)
    except CheckpointError as exc:
        raise SpecError(f"stylegan2-ffhq: {exc}") from exc
    G.truncation_psi = truncation_psi
    return G


def stylegan2_utkface64(weights: str | None = None, device: str = "cpu") -> StyleGAN2Generator:
    """StyleGAN2 trained here on UTKFace (64×64 RGB, z 512, 10 ws), once exported to weights/.

    Raises:
        MissingWeightsError: Not trained and exported yet (the message says how).

    """
    from bench.generators.zoo import WEIGHTS_DIR

    path = Path(weights) if weights else WEIGHTS_DIR / f"{UTKFACE64}.pt"
    if not path.is_file():
        raise MissingWeightsError(f"{UTKFACE64} weights not found at {path}: {HOW_TO_TRAIN}")
    try:
        return load_stylegan2(path, device=device)
    except CheckpointError as exc:
        raise SpecError(f"{UTKFACE64}: {exc}") from exc

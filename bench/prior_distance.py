"""How far a genome lies from the prior its problem draws genomes from.

A generator was trained on latents from its prior (N(0, 1) for every GAN of
the suite). A search may leave that region: nothing stops CMA-ES or a drifting
Gaussian mutation from growing the latents, and a generator fed latents it
never saw can make images that score well for reasons that have little to do
with the search (saturated, high-contrast images differ more from each other,
for example). Two algorithms that reach the same fitness, one inside the prior
and one far outside it, did not solve the same problem. So every run records
where its best genome lies, and leaderboards show it.

The figure is the root mean square of the genes in prior standard deviations,
``rms_z = sqrt(mean(((g − mean) / std)²))``: a draw from the prior gives 1
(within about ``1/sqrt(2D)`` for ``D`` genes: ±0.01 at 5,000 genes, ±0.07 at
100); 1.6 means the latents are 1.6 times as long as the generator's training
latents.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.problem import GaussianPrior

FAR_RMS_Z = 1.25  # a best genome this many prior stds (RMS) out is called far from the prior
RARE = 0.001  # ... or further than a prior draw of its length reaches this seldom (few genes)


def far_threshold(genes: int) -> float:
    """The ``rms_z`` from which a genome of ``genes`` genes is called far from the prior.

    ``FAR_RMS_Z``, or where a genome is short enough for prior draws to reach that
    often (a draw's ``D · rms_z²`` is chi-square with ``D`` degrees of freedom), the
    RMS that only ``RARE`` of them exceed: 1.25 from 80 genes, 1.72 at 10, so
    that a sphere's optimum, itself a prior draw, is not called far.

    Args:
        genes: Genes per genome, ``D >= 1``.

    """
    from scipy.stats import chi2

    return max(FAR_RMS_Z, math.sqrt(float(chi2.ppf(1.0 - RARE, genes)) / genes))


def is_far(figures: Any) -> bool:
    """Whether a record's ``best_vs_prior`` figures lie far from the prior (``far_threshold``)."""
    if not isinstance(figures, dict):
        return False
    rms, genes = figures.get("rms_z"), figures.get("genes")
    if not isinstance(rms, int | float) or not isinstance(genes, int) or genes < 1:
        return False
    return rms >= far_threshold(genes)


def genome_vs_prior(genome: np.ndarray, prior: GaussianPrior) -> dict[str, Any]:
    """Where ``genome`` lies against ``prior``, as a record holds it.

    Args:
        genome: One genome, any shape (``[D]`` or ``genome_shape``); float.
        prior: The problem's prior, ``N(mean, std²)`` for every gene.

    Returns:
        ``rms_z`` (RMS of the standardised genes; 1 for a prior draw),
        ``max_abs_z`` (the largest standardised gene, in absolute value),
        ``beyond_3_std`` (share of genes more than 3 stds from the mean; 0.27 % for
        a prior draw), ``genes`` and the ``prior`` (``mean``, ``std``). Non-finite
        genes give ``None`` figures.

    Raises:
        AttributeError, TypeError: ``prior`` has no numeric ``mean`` and ``std`` (a prior
            of another kind).

    """
    mean, std = float(prior.mean), float(prior.std)
    z = (np.asarray(genome, dtype=np.float64).ravel() - mean) / std
    out: dict[str, Any] = {"genes": int(z.size), "prior": {"mean": mean, "std": std}}
    if not z.size or not np.isfinite(z).all():
        return {**out, "rms_z": None, "max_abs_z": None, "beyond_3_std": None}
    return {
        **out,
        "rms_z": float(math.sqrt(float(np.mean(z * z)))),
        "max_abs_z": float(np.max(np.abs(z))),
        "beyond_3_std": float(np.mean(np.abs(z) > 3.0)),
    }


def onto_prior_sphere(latents: np.ndarray) -> np.ndarray:
    """Latents scaled to the length of a draw from N(0, 1): ``sqrt(L)``, along the last axis.

    The problems' ``sphere`` option: with every latent at that length, growing the
    latents (which a generator never saw in training) gains a search nothing. A
    latent of zeros stays zeros (it has no direction).

    Args:
        latents: ``[..., L]``, each row along the last axis one latent.

    Returns:
        ``[..., L]`` float64.

    """
    latents = np.asarray(latents, dtype=np.float64)
    norm = np.linalg.norm(latents, axis=-1, keepdims=True)
    length = math.sqrt(latents.shape[-1])
    scale = np.divide(length, norm, out=np.zeros_like(norm), where=norm > 0)
    return latents * scale

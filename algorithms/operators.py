"""Vectorised variation and selection operators of the source studies.

Each operator works on a whole batch and draws from the generator it is given,
following DEAP's definitions (``selTournament``, ``cxBlend``, ``mutGaussian``,
``cxUniform``) so that the GA presets reproduce the studies.
"""

from __future__ import annotations

import numpy as np


def tournament(rng: np.random.Generator, loss: np.ndarray, k: int, size: int = 3) -> np.ndarray:
    """Pick ``k`` winners of tournaments among ``size`` aspirants drawn with replacement.

    Args:
        rng: Random generator.
        loss: ``[P]`` losses of the population (lower wins).
        k: Number of tournaments.
        size: Aspirants per tournament.

    Returns:
        ``[k]`` indices into the population.

    """
    aspirants = rng.integers(0, len(loss), size=(k, size))
    return aspirants[np.arange(k), np.argmin(loss[aspirants], axis=1)]


def blend_crossover(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """BLX-α: per gene, ``γ ~ U[-α, 1+α]``; children ``(1-γ)a + γb`` and ``γa + (1-γ)b``.

    Each child gene lies in ``[min - α·d, max + α·d]`` with ``d = |a - b|``.

    Args:
        rng: Random generator.
        a: ``[n, D]`` first parents.
        b: ``[n, D]`` second parents.
        alpha: Extension of the parents' interval on each side, as a fraction of ``d``.

    Returns:
        Two ``[n, D]`` arrays of children.

    """
    gamma = (1.0 + 2.0 * alpha) * rng.random(a.shape) - alpha
    return (1.0 - gamma) * a + gamma * b, gamma * a + (1.0 - gamma) * b


def uniform_crossover(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, swap_prob: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Swap each gene between the two parents with probability ``swap_prob``.

    Args:
        rng: Random generator.
        a: ``[n, D]`` first parents.
        b: ``[n, D]`` second parents.
        swap_prob: Per-gene swap probability.

    Returns:
        Two ``[n, D]`` arrays of children.

    """
    swap = rng.random(a.shape) < swap_prob
    return np.where(swap, b, a), np.where(swap, a, b)


def gaussian_mutation(
    rng: np.random.Generator, x: np.ndarray, sigma: float, indpb: float, mu: float = 0.0
) -> np.ndarray:
    """Add ``N(mu, sigma²)`` to each gene with probability ``indpb``.

    Args:
        rng: Random generator.
        x: ``[n, D]`` genomes (not modified).
        sigma: Standard deviation of the perturbation.
        indpb: Per-gene probability.
        mu: Mean of the perturbation.

    Returns:
        ``[n, D]`` mutated copy.

    """
    mask = rng.random(x.shape) < indpb
    return x + mask * rng.normal(mu, sigma, size=x.shape)


def gene_reset(
    rng: np.random.Generator, x: np.ndarray, rate: float, mean: float = 0.0, std: float = 1.0
) -> np.ndarray:
    """Replace each gene with a fresh draw from the prior with probability ``rate``.

    Args:
        rng: Random generator.
        x: ``[n, D]`` genomes (not modified).
        rate: Per-gene reset probability.
        mean: Prior mean.
        std: Prior standard deviation.

    Returns:
        ``[n, D]`` mutated copy.

    """
    mask = rng.random(x.shape) < rate
    return np.where(mask, rng.normal(mean, std, size=x.shape), x)

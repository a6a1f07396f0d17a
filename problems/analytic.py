"""Analytic problems: cheap, exactly known landscapes in latent-sized spaces.

They are not GAN problems: they exist so that algorithm authors can check an
algorithm's behaviour in seconds (an optimum at a known place, a known value)
before spending GPU hours on a generator. Their optimum is a shift vector drawn
from the N(0, 1) prior with the problem's ``instance`` seed, so it lies where
latent searches look.
"""

from __future__ import annotations

import numpy as np

from bench.problem import Problem, check_batch_shape

_OPTIMUM_STREAM = 0x0A7A1  # spawn key that separates optima from algorithm seeds


class _Shifted(Problem):
    sense = "min"
    default_budget = 5_000

    def __init__(self, dim: int = 512, instance: int = 0):
        if dim < 1:
            raise ValueError(f"dim must be at least 1, got {dim}")
        if instance < 0:
            raise ValueError(f"instance must be non-negative, got {instance}")
        self.genome_shape = (dim,)
        self.instance = instance
        # A stream of its own: an algorithm seeded with ``instance`` must not draw the optimum.
        stream = np.random.SeedSequence(instance, spawn_key=(_OPTIMUM_STREAM,))
        self.optimum = np.random.default_rng(stream).normal(size=dim)

    def describe(self) -> dict:
        """Parameters of this instance."""
        return {"dim": self.dim, "instance": self.instance, "optimum_fitness": 0.0}

    def _shifted(self, genomes: np.ndarray) -> np.ndarray:
        check_batch_shape(genomes, (None, self.dim), f"{type(self).__name__}.evaluate() genomes")
        return np.asarray(genomes, dtype=np.float64) - self.optimum


class Sphere(_Shifted):
    """Shifted sphere: squared distance to a hidden latent, optimum 0 (analytic sanity check)."""

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """``sum((x - x*)²)`` per genome ``[N, D]`` → ``[N]``."""
        return np.sum(self._shifted(genomes) ** 2, axis=1)


class Rastrigin(_Shifted):
    """Shifted Rastrigin: multimodal, optimum 0 at a hidden latent (analytic sanity check)."""

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """``10·D + sum(y² - 10·cos(2πy))`` with ``y = x - x*``, ``[N, D]`` → ``[N]``."""
        y = self._shifted(genomes)
        return 10.0 * self.dim + np.sum(y**2 - 10.0 * np.cos(2.0 * np.pi * y), axis=1)

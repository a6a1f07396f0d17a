"""Random sampling: the baseline every search must beat."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bench.algorithm import Algorithm
from bench.problem import SET_DIVERSITY_STUDY, SearchSpace


class RandomSampling(Algorithm):
    """Random sampling: a fresh batch from the prior each iteration; the runner keeps the best.

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        batch: Genomes per iteration (the set-diversity study used 50).

    """

    paper_study: ClassVar[str | None] = SET_DIVERSITY_STUDY
    learns: ClassVar[bool] = False
    # Seeds digest §2: a fresh population of 50 each iteration, 25,000 evaluations (the GA's)
    presets: ClassVar[dict[str, dict]] = {"paper": {"batch": 50, "budget": 25_000}}

    def __init__(self, space: SearchSpace, seed: np.random.SeedSequence | int, batch: int = 100):
        super().__init__(space, seed)
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.batch = batch

    @property
    def batch_size(self) -> int:
        """Genomes per ``ask()``."""
        return self.batch

    def _ask(self) -> np.ndarray:
        return self.space.prior.sample(self.rng, self.batch, self.space.dim)

    def _tell(self, genomes: np.ndarray, loss: np.ndarray, measures: np.ndarray | None) -> None:
        pass  # nothing to learn: the evaluator tracks the best

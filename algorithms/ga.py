"""The genetic algorithm of the face-similarity study (DEAP ``eaSimple`` style)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from bench.algorithms.operators import blend_crossover, gaussian_mutation, tournament

from bench.algorithm import Algorithm
from bench.problem import FACE_STUDY, SearchSpace


class GeneticAlgorithm(Algorithm):
    """Face-study GA: tournament 3, BLX-α crossover, Gaussian mutation, generational (eaSimple).

    Each generation selects ``population - elite`` parents by tournament, pairs
    neighbours for BLX-α crossover with probability ``cxpb``, mutates each child
    with probability ``mutpb`` (per gene ``indpb``, N(0, σ²)), and replaces the
    population, keeping the ``elite`` best unchanged. As in DEAP's ``eaSimple``,
    only children that crossover or mutation changed are evaluated, so a
    generation costs at most ``population - elite`` evaluations; with
    ``evaluate_copies`` every child is evaluated, and with ``evaluate_elite``
    the elite too, so that with both a generation costs exactly ``population``
    and a budget counts generations. The search is the same
    either way up to rounding (the copies' losses are their parents'), as long
    as the problem's fitness is deterministic: a batched evaluation (the face
    problem's) can round a genome's fitness differently, by about 1e-7, in a
    batch of another size.

    The face study reports 500 generations of 200 as 100k evaluations, that is
    every child counted: its ``paper`` preset therefore evaluates copies, and
    its 100k evaluations are the initial population and 499 generations.
    Without, 100k evaluations run about 666 generations (with ``cxpb`` 0.75 and
    ``mutpb`` 0.001 a generation changes about 150 of its 200 children).

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        population: Population size.
        cxpb: Probability that a pair is crossed over.
        mutpb: Probability that a child is mutated.
        indpb: Per-gene mutation probability.
        alpha: BLX-α extension.
        sigma: Standard deviation of the Gaussian mutation.
        tournsize: Tournament size.
        elite: Best individuals copied unchanged into the next generation.
        evaluate_copies: Evaluate children that crossover and mutation left unchanged.
        evaluate_elite: Evaluate the elite again in each generation.

    """

    paper_study: ClassVar[str | None] = FACE_STUDY
    presets: ClassVar[dict[str, dict]] = {
        # 200 x 500 generations = 100k evaluations, pR = 0.75, pM = 0.001 (seeds digest §1);
        # every child counted, as the study counts them (see the class docstring).
        "paper": {
            "population": 200,
            "cxpb": 0.75,
            "mutpb": 0.001,
            "indpb": 0.1,
            "alpha": 0.2,
            "evaluate_copies": True,
            "budget": 100_000,
        },
        "quick": {
            "population": 50,
            "cxpb": 0.75,
            "mutpb": 0.01,
            "indpb": 0.1,
            "alpha": 0.2,
            "budget": 2_000,
        },
    }

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        population: int = 200,
        cxpb: float = 0.75,
        mutpb: float = 0.001,
        indpb: float = 0.1,
        alpha: float = 0.2,
        sigma: float = 1.0,
        tournsize: int = 3,
        elite: int = 0,
        evaluate_copies: bool = False,
        evaluate_elite: bool = False,
    ):
        super().__init__(space, seed)
        if population < 2:
            raise ValueError(f"population must be at least 2, got {population}")
        for name, p in (("cxpb", cxpb), ("mutpb", mutpb), ("indpb", indpb)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {p}")
        if cxpb == 0.0 and (mutpb == 0.0 or indpb == 0.0):
            raise ValueError("cxpb and mutpb (or indpb) are both 0: the GA would never change")
        if not 0 <= elite < population:
            raise ValueError(f"elite must lie in [0, population), got {elite}")
        if alpha < 0 or sigma < 0 or tournsize < 1:
            raise ValueError("alpha and sigma must be >= 0 and tournsize >= 1")
        self.population, self.cxpb, self.mutpb, self.indpb = population, cxpb, mutpb, indpb
        self.alpha, self.sigma, self.tournsize, self.elite = alpha, sigma, tournsize, elite
        self.evaluate_copies, self.evaluate_elite = evaluate_copies, evaluate_elite
        self.genomes: np.ndarray | None = None  # [P, D]
        self.loss: np.ndarray | None = None  # [P], NaN where not yet evaluated
        self.generation = 0

    @property
    def batch_size(self) -> int:
        """At most one population per ``ask()``."""
        return self.population

    def _ask(self) -> np.ndarray:
        if self.genomes is None:
            self.genomes = self.space.prior.sample(self.rng, self.population, self.space.dim)
            self.loss = np.full(self.population, np.nan)
            return self.genomes
        for _ in range(1000):
            self._next_generation()
            if np.isnan(self.loss).any():
                return self.genomes[np.isnan(self.loss)]
        raise RuntimeError("GA: 1000 generations without a changed child; raise cxpb or mutpb")

    def _next_generation(self) -> None:
        n = self.population - self.elite
        parents = tournament(self.rng, self.loss, n, self.tournsize)
        children, loss = self.genomes[parents].copy(), self.loss[parents].copy()
        pairs = np.arange(1, n, 2)
        crossed = pairs[self.rng.random(len(pairs)) < self.cxpb]
        if len(crossed):
            a, b = self._crossover(children[crossed - 1], children[crossed])
            children[crossed - 1], children[crossed] = a, b
            loss[crossed - 1] = loss[crossed] = np.nan
        mutated = np.flatnonzero(self.rng.random(n) < self.mutpb)
        if len(mutated):
            children[mutated] = self._mutate(children[mutated])
            loss[mutated] = np.nan
        if self.evaluate_copies:
            loss[:] = np.nan  # after the draws: the same random numbers either way
        elites = np.argsort(self.loss, kind="stable")[: self.elite]
        self.genomes = np.concatenate([self.genomes[elites], children])
        kept = np.full(len(elites), np.nan) if self.evaluate_elite else self.loss[elites]
        self.loss = np.concatenate([kept, loss])
        self.generation += 1

    def _crossover(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cross parent pairs ``a [n, D]`` and ``b [n, D]`` into two ``[n, D]`` children."""
        return blend_crossover(self.rng, a, b, self.alpha)

    def _mutate(self, x: np.ndarray) -> np.ndarray:
        """Mutated copy of the children ``x [n, D]``."""
        return gaussian_mutation(self.rng, x, self.sigma, self.indpb)

    def _tell(self, genomes: np.ndarray, loss: np.ndarray, measures: np.ndarray | None) -> None:
        self.loss[np.isnan(self.loss)] = loss

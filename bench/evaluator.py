"""The budget-enforcing evaluator between an algorithm and a problem.

It is the only place that counts evaluations. It refuses to evaluate more
genomes than the budget has left (``BudgetExceeded``), replaces non-finite
fitness with the problem's worst value and counts those, keeps the best
solution, and records the anytime curve: one row per evaluated batch with the
evaluations used so far, best-so-far fitness and the time spent evaluating.
For a problem with measures it computes them for every algorithm and offers
every finite evaluation to a passive archive (``bench.archive``), whose
QD-score and coverage join each row of the curve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from bench.archive import PassiveArchive
from bench.problem import Problem, check_batch_shape


class BudgetExceeded(RuntimeError):
    """More genomes were offered than the budget has left."""


@dataclass
class Evaluation:
    """Result of evaluating one batch.

    Attributes:
        fitness: ``[n]`` finite fitness (non-finite values replaced).
        loss: ``[n]`` minimisation loss for the algorithm.
        measures: ``[n, M]`` behaviour descriptors, or ``None``.

    """

    fitness: np.ndarray
    loss: np.ndarray
    measures: np.ndarray | None = None


@dataclass
class BudgetEvaluator:
    """Counts, cleans and records evaluations of ``problem`` up to ``budget``.

    Args:
        problem: The problem to evaluate.
        budget: Total evaluations allowed.
        with_measures: Also compute behaviour descriptors (for QD algorithms);
            always on for a problem with a ``measure_space``.
        archive: The passive archive; built from the problem's measure space when
            it has one.

    """

    problem: Problem
    budget: int
    with_measures: bool = False
    used: int = 0
    nonfinite: int = 0
    eval_seconds: float = 0.0
    best_fitness: float = float("nan")
    best_genome: np.ndarray | None = None
    curve: list[dict] = field(default_factory=list)
    archive: PassiveArchive | None = None

    def __post_init__(self) -> None:
        if self.problem.measure_space is not None:
            self.with_measures = True
            if self.archive is None:
                self.archive = PassiveArchive.for_problem(self.problem, self.budget)

    @property
    def remaining(self) -> int:
        """Evaluations left."""
        return self.budget - self.used

    def __call__(self, genomes: np.ndarray) -> Evaluation:
        """Evaluate a batch ``[n, D]`` with ``n <= remaining``."""
        check_batch_shape(genomes, (None, self.problem.dim), "evaluator genomes")
        n = len(genomes)
        if n > self.remaining:
            raise BudgetExceeded(f"{n} genomes offered but only {self.remaining} evaluations left")
        start = time.perf_counter()
        if self.with_measures:
            fitness, measures = self.problem.evaluate_with_measures(genomes)
            measures = np.asarray(measures, dtype=np.float64)
            check_batch_shape(measures, (n, self.problem.measure_space.dim), "measures")
        else:
            fitness, measures = self.problem.evaluate(genomes), None
        self.eval_seconds += time.perf_counter() - start
        fitness = np.array(fitness, dtype=np.float64)
        check_batch_shape(fitness, (n,), f"{type(self.problem).__name__}.evaluate() fitness")
        bad = ~np.isfinite(fitness)
        if bad.any():
            self.nonfinite += int(bad.sum())
            fitness[bad] = self.problem.worst
            if measures is not None:
                measures[bad] = np.nan_to_num(measures[bad], nan=0.0, posinf=0.0, neginf=0.0)
        self.used += n
        loss = self.problem.loss(fitness)
        i = int(np.argmin(loss))
        if self.best_genome is None or self.problem.is_better(fitness[i], self.best_fitness):
            self.best_fitness = float(fitness[i])
            self.best_genome = np.array(genomes[i], dtype=np.float64)
        row = {
            "evaluations": self.used,
            "best": self.best_fitness,
            "batch_best": float(fitness[i]),
            "batch_mean": float(fitness[~bad].mean()) if (~bad).any() else float("nan"),
            "eval_seconds": self.eval_seconds,
        }
        if self.archive is not None and measures is not None:
            self.archive.add(loss, measures, valid=~bad)
            stats = self.archive.stats()
            row.update(qd_score=stats["qd_score"], coverage=stats["coverage"])
        self.curve.append(row)
        return Evaluation(fitness, loss, measures)

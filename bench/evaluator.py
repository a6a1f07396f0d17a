"""The budget-enforcing evaluator between an algorithm and a problem.

It is the only place that counts evaluations. It refuses to evaluate more
genomes than the budget has left (``BudgetExceeded``), cleans invalid
evaluations and counts those, keeps the best solution, and records the anytime
curve: one row per evaluated batch with the evaluations used so far,
best-so-far fitness and the time spent evaluating. It also keeps the run's
**improvements** at the level of single evaluations: the number (1-based), fitness and
validity of the first evaluation and of every evaluation strictly better than all before it,
in the order the algorithm offered them within a batch (the trace that
IOHprofiler's ``.dat`` files hold, ``bench.ioh_export``). For a problem with measures
it computes them for every algorithm and offers every valid evaluation to a
passive archive (``bench.archive``), whose QD-score and coverage join each row
of the curve.

An evaluation is **valid** when its fitness and, where the problem has
measures, every one of its measures are finite. An invalid one (a NaN or
infinite fitness, or a NaN or infinite measure next to a finite fitness: a
solution the problem cannot describe is a failed evaluation, for every
algorithm alike) is

- counted in ``nonfinite``;
- given the problem's worst fitness (``Problem.worst``: its declared
  ``worst_fitness``, else the largest float of the wrong sign), so it is never
  the best and the algorithm learns a finite loss;
- given measures that are all NaN, the mark by which a quality-diversity
  algorithm tells it apart (``Evaluation.valid`` says the same);
- not offered to the passive archive;
- never the best: ``best_fitness`` and ``best_genome`` are those of the best
  valid evaluation, NaN and ``None`` (and the curve's ``best`` NaN) until there
  is one, so a run without any valid evaluation has no best to report.

An invalid evaluation enters the improvements with its stand-in worst fitness, as the
algorithm saw it, marked invalid; it can only ever be the first row.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.archive import PassiveArchive
from bench.problem import Problem, check_batch_shape


def _returned(value: Any) -> str:
    """What a problem returned, in a few words (``"None"``, ``"a scalar (3.0)"``, ...)."""
    if value is None:
        return "None"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of length {len(value)}"
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        kind = "a torch tensor" if type(value).__module__.startswith("torch") else "an array"
        return f"{kind} of shape {list(shape)}"
    if isinstance(value, np.ndarray | np.generic):
        value = value.item()  # 0-d: its number
    if isinstance(value, int | float | complex):
        return f"a scalar ({value!r})"
    return f"a {type(value).__name__}"


def _off_torch(value: Any, what: str) -> Any:
    """``value`` as a NumPy array where it is a torch tensor on any device, else itself.

    Fitness may live on the problem's device (a GPU); it is copied to the CPU.
    torch is only looked at where a caller already imported it.

    Raises:
        ValueError: A tensor on the ``meta`` device, which holds no numbers.

    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return value
    if value.device.type == "meta":
        raise ValueError(
            f"{what}: got a torch tensor {list(value.shape)} on the meta device, which holds "
            "no numbers; return a NumPy array or a tensor on a real device"
        )
    value = value.detach().cpu()
    return value.double().numpy() if value.is_floating_point() else value.numpy()


def as_batch(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a new float64 array of ``shape``, or ``ValueError`` saying what it was.

    Args:
        value: What the problem returned (fitness ``[n]`` or measures ``[n, M]``), a
            torch tensor on any device included.
        shape: The shape it must have.
        what: Who returned what, for the message (``"Sphere.evaluate() fitness"``).

    Returns:
        A float64 copy of ``value`` (the evaluator writes into it).

    Raises:
        ValueError: ``value`` is ``None``, no numbers (a tensor on the ``meta``
            device included), or of another shape.

    """
    array = None
    if value is not None:
        found = _off_torch(value, what)  # a tensor's numbers, on the CPU
        try:
            array = np.array(found, dtype=np.float64)
        except (TypeError, ValueError):  # strings, ragged lists, objects
            array = None
    if array is None or array.shape != shape:
        expected = "[" + ", ".join(str(e) for e in shape) + "]"
        numbers = "" if array is not None or value is None else " that is no array of numbers"
        raise ValueError(
            f"{what}: expected shape {expected} (one per genome), got {_returned(value)}{numbers}"
        )
    return array


class BudgetExceeded(RuntimeError):
    """More genomes were offered than the budget has left."""


@dataclass
class Evaluation:
    """Result of evaluating one batch.

    Attributes:
        fitness: ``[n]`` finite fitness (the problem's worst on invalid rows).
        loss: ``[n]`` minimisation loss for the algorithm.
        measures: ``[n, M]`` behaviour descriptors (all NaN on invalid rows), or ``None``.
        valid: ``[n]`` booleans, ``False`` where the evaluation was invalid and replaced.

    """

    fitness: np.ndarray
    loss: np.ndarray
    measures: np.ndarray | None = None
    valid: np.ndarray | None = None


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
    improvements: list[tuple[int, float, bool]] = field(default_factory=list)
    archive: PassiveArchive | None = None
    _record_loss: float = field(default=float("inf"), repr=False)  # best loss so far, any row

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
        """Evaluate, count, clean and record a batch.

        Args:
            genomes: ``[n, D]`` with ``n <= remaining``.

        Returns:
            The batch's ``Evaluation``; invalid rows cleaned as the module says.

        Raises:
            BudgetExceeded: ``n`` is more than the evaluations left.

        """
        if np.iscomplexobj(genomes):  # NumPy would keep the real part with a warning
            raise TypeError("evaluator genomes must be real numbers, got complex ones")
        check_batch_shape(genomes, (None, self.problem.dim), "evaluator genomes")
        n = len(genomes)
        if n > self.remaining:
            raise BudgetExceeded(f"{n} genomes offered but only {self.remaining} evaluations left")
        name = type(self.problem).__name__
        start = time.perf_counter()
        if self.with_measures:
            both = self.problem.evaluate_with_measures(genomes)
            if not isinstance(both, tuple | list) or len(both) != 2:
                raise ValueError(
                    f"{name}.evaluate_with_measures(): expected a pair (fitness [{n}], "
                    f"measures [{n}, M]), got {_returned(both)}"
                )
            fitness, measures = both
            measures = as_batch(  # a copy: invalid rows get NaN
                measures,
                (n, self.problem.measure_space.dim),
                f"{name}.evaluate_with_measures() measures",
            )
        else:
            fitness, measures = self.problem.evaluate(genomes), None
        self.eval_seconds += time.perf_counter() - start
        fitness = as_batch(fitness, (n,), f"{name}.evaluate() fitness")
        bad = ~np.isfinite(fitness)
        if measures is not None:
            bad |= ~np.isfinite(measures).all(axis=1)
        if bad.any():
            self.nonfinite += int(bad.sum())
            fitness[bad] = self.problem.worst
            if measures is not None:
                measures[bad] = np.nan
        self.used += n
        loss = self.problem.loss(fitness)
        self._log_improvements(fitness, loss, bad)
        batch_best = float("nan")
        if not bad.all():  # the best is a valid evaluation's, never a stand-in worst
            i = int(np.flatnonzero(~bad)[np.argmin(loss[~bad])])
            batch_best = float(fitness[i])
            if self.best_genome is None or self.problem.is_better(batch_best, self.best_fitness):
                self.best_fitness = batch_best
                self.best_genome = np.array(genomes[i], dtype=np.float64)
        row = {
            "evaluations": self.used,
            "best": self.best_fitness,
            "batch_best": batch_best,
            "batch_mean": float(fitness[~bad].mean()) if (~bad).any() else float("nan"),
            "eval_seconds": self.eval_seconds,
        }
        if self.archive is not None and measures is not None:
            self.archive.add(loss, measures, valid=~bad)
            stats = self.archive.stats()
            row.update(qd_score=stats["qd_score"], coverage=stats["coverage"])
        self.curve.append(row)
        return Evaluation(fitness, loss, measures, valid=~bad)

    def _log_improvements(self, fitness: np.ndarray, loss: np.ndarray, bad: np.ndarray) -> None:
        """Append each evaluation of the batch just counted that beats every earlier one.

        Args:
            fitness: ``[n]`` the batch's cleaned fitness.
            loss: ``[n]`` its minimisation loss.
            bad: ``[n]`` where the evaluation was invalid.

        """
        if not len(loss):
            return
        # the best loss before each row: the run's before the batch, then the batch's own
        before = np.minimum.accumulate(np.concatenate(([self._record_loss], loss[:-1])))
        first = self.used - len(loss) + 1  # number of the batch's first evaluation
        for j in np.flatnonzero(loss < before):
            self.improvements.append((first + int(j), float(fitness[j]), not bad[j]))
        self._record_loss = min(self._record_loss, float(loss.min()))

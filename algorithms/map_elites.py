"""MAP-Elites on pyribs: the shared quality-diversity base and the source variant.

Every quality-diversity algorithm here is a pyribs ``Scheduler`` over a
``GridArchive`` and a list of emitters, wrapped in the suite's ask/tell
contract:

- the grid is the problem's ``measure_space`` (set diversity: mean and max
  similarity, 100 × 100 bins on [0, 1]²);
- pyribs maximises, so the objective is ``-loss``, floored at ``-1e150`` so
  that pyribs' sums and squares stay finite when the evaluator stands the
  largest float in for a NaN fitness;
- a row is **invalid** when the evaluator replaced it (see ``bench.evaluator``),
  as ``tell(..., valid)`` says; a caller that does not say (``valid=None``) is
  read from the values: measures that are NaN, or an objective at the floor
  (the evaluator's largest-float stand-in, on a problem that declares no worst
  fitness). pyribs takes every row of an emitter's batch, so invalid rows are
  told to it with their (worst) objective and measures of 0 in place of NaN;
- the first ``ask()`` returns an initial random population of ``initial``
  genomes from the prior, whose valid rows go straight into the archive; the
  emitters take over from the second ``ask()``. A first population without a
  single valid row teaches nothing: the next ``ask()`` draws another one;
- on a problem **without** measures (the analytic ones, the contract probes)
  the algorithms still run, on a documented fallback grid: the first two genes
  (one if ``D = 1``), each on ``prior mean ± 3 prior std`` in 50 bins. That
  grid is the algorithm's own business; the run's passive archive
  (``bench.archive``) exists only for problems that declare measures.

``MapElites`` is the set-diversity study's variant: each child is the uniform
crossover of two elites drawn at random from the archive, then gene reset from
the prior, written as a pyribs emitter (``CrossoverEmitter``).
"""

from __future__ import annotations

import abc
import inspect
from typing import ClassVar

import numpy as np
from bench.algorithms.operators import gene_reset, uniform_crossover
from ribs.archives import ArchiveBase, GridArchive
from ribs.emitters import EmitterBase
from ribs.schedulers import Scheduler

from bench.algorithm import Algorithm
from bench.archive import grid_archive
from bench.problem import SET_DIVERSITY_STUDY, MeasureSpace, SearchSpace

FALLBACK_BINS = 50
FALLBACK_SPAN = 3.0  # prior standard deviations on each side of the prior mean
OBJECTIVE_FLOOR = -1e150


def fallback_measure_space(space: SearchSpace) -> MeasureSpace:
    """The grid used on a problem without measures: the first (up to) two genes.

    Args:
        space: The problem's search space.

    Returns:
        ``gene 0`` (and ``gene 1``) on ``mean ± 3·std`` of the prior, 50 bins each.

    """
    m = min(2, space.dim)
    lo = space.prior.mean - FALLBACK_SPAN * space.prior.std
    hi = space.prior.mean + FALLBACK_SPAN * space.prior.std
    return MeasureSpace(
        names=tuple(f"gene {i}" for i in range(m)),
        ranges=((lo, hi),) * m,
        bins=(FALLBACK_BINS,) * m,
    )


def valid_rows(loss: np.ndarray, measures: np.ndarray | None) -> np.ndarray:
    """Which evaluations the evaluator left as they were, read from the values.

    For callers of ``tell()`` that do not pass ``valid`` (see the module
    docstring): a replaced row of a problem without measures that declares a
    worst fitness cannot be told apart, and counts as a genuine worst score.

    Args:
        loss: ``[n]`` losses from ``tell()``.
        measures: ``[n, M]`` the problem's measures from ``tell()``, or ``None``.

    Returns:
        ``[n]`` booleans: ``False`` where the objective is at the floor or a measure is
        not finite.

    """
    valid = -loss > OBJECTIVE_FLOOR
    if measures is not None:
        valid &= np.isfinite(measures).all(axis=1)
    return valid


def int_seed(seed: np.random.SeedSequence) -> int:
    """A 32-bit integer seed drawn from ``seed``, for libraries that take ints."""
    return int(seed.generate_state(1, dtype=np.uint32)[0])


class CrossoverEmitter(EmitterBase):
    """Emits children of two random elites: uniform crossover, then gene reset.

    Args:
        archive: The archive to draw parents from.
        batch_size: Children per ``ask()``.
        indpb: Per-gene probability of a reset from the prior.
        swap_prob: Per-gene swap probability of the uniform crossover.
        prior_mean: Mean of the prior.
        prior_std: Standard deviation of the prior.
        seed: Seed of the emitter's generator.

    """

    def __init__(
        self,
        archive: ArchiveBase,
        *,
        batch_size: int,
        indpb: float,
        swap_prob: float = 0.5,
        prior_mean: float = 0.0,
        prior_std: float = 1.0,
        seed: np.random.SeedSequence | int | None = None,
    ) -> None:
        super().__init__(
            archive,
            solution_dim=archive.solution_dim,
            bounds=None,
            lower_bounds=None,
            upper_bounds=None,
        )
        self._rng = np.random.default_rng(seed)
        self._batch_size = batch_size
        self.indpb, self.swap_prob = indpb, swap_prob
        self.prior_mean, self.prior_std = prior_mean, prior_std

    @property
    def batch_size(self) -> int:
        """Children per ``ask()``."""
        return self._batch_size

    def ask(self) -> np.ndarray:
        """``[batch_size, D]`` children; prior samples while the archive is empty."""
        shape = (self._batch_size, self.solution_dim)
        if self.archive.empty:
            return self._rng.normal(self.prior_mean, self.prior_std, size=shape)
        a = self.archive.sample_elites(self._batch_size)["solution"]
        b = self.archive.sample_elites(self._batch_size)["solution"]
        child, _ = uniform_crossover(self._rng, a, b, self.swap_prob)
        return gene_reset(self._rng, child, self.indpb, self.prior_mean, self.prior_std)


_WARMED: set[tuple] = set()  # (class, tiny parameters) already compiled in this process


class QualityDiversity(Algorithm):
    """Base of the pyribs algorithms: initial population, then a scheduler's ask/tell.

    Subclasses implement ``_emitters(archive, seeds)`` and may override
    ``_archives`` (CMA-MAE) and ``_emitted`` (the genomes per scheduler ask).

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        initial: Size of the initial random population.

    """

    uses_measures: ClassVar[bool] = True

    def __init__(self, space: SearchSpace, seed: np.random.SeedSequence | int, initial: int = 50):
        super().__init__(space, seed)
        if initial < 1:
            raise ValueError(f"initial must be at least 1, got {initial}")
        self.initial = initial
        self.own_measures = space.measure_space is None
        self.measure_space = space.measure_space or fallback_measure_space(space)
        self._seeds = self.seed.spawn(2)
        self.scheduler: Scheduler | None = None

    @property
    def batch_size(self) -> int:
        """The larger of the initial population and one scheduler ask."""
        return max(self.initial, self._emitted())

    def warm_up(self) -> None:
        """Compile pyribs' numba code once per process, class and optimiser, off the clock.

        pyribs compiles CMA-ES's sampling and update (and its archives' index
        code) at first use: 4.6 s of the first cma-me run's algorithm time on
        one CPU thread, for runs that then take 0.02 s. A tiny instance of the
        same class (3 genes, same optimiser) runs three generations instead.
        """
        tiny = {"initial": 4, "batch": 4, "emitters": 1}
        if hasattr(self, "es"):
            tiny["es"] = self.es
        accepted = inspect.signature(type(self)).parameters
        params = {k: v for k, v in tiny.items() if k in accepted}
        key = (type(self), tuple(sorted(params.items())))
        if key in _WARMED:
            return
        _WARMED.add(key)
        space = SearchSpace(dim=3, genome_shape=(3,), prior=self.space.prior)
        algo = type(self)(space, np.random.SeedSequence(0), **params)
        for _ in range(3):
            genomes = algo.ask()
            algo.tell(np.einsum("ij,ij->i", genomes, genomes))

    @abc.abstractmethod
    def _emitted(self) -> int:
        """Genomes one scheduler ``ask()`` returns."""

    @abc.abstractmethod
    def _emitters(
        self, archive: ArchiveBase, seed: np.random.SeedSequence, initial: np.ndarray
    ) -> list[EmitterBase]:
        """The emitters, given the archive, their seed and the initial population ``[n, D]``."""

    def _archives(self, objective: np.ndarray) -> tuple[ArchiveBase, ArchiveBase | None]:
        """The scheduler's archive and result archive.

        Args:
            objective: ``[k]`` objectives of the initial population's valid rows, ``k >= 1``.

        Returns:
            ``(archive, result_archive)``; ``None`` for the latter: the archive is the result.

        """
        archive = grid_archive(
            self.measure_space, self.space.dim, seed=int_seed(self._seeds[0])
        )
        return archive, None

    def measures_of(self, genomes: np.ndarray, measures: np.ndarray | None) -> np.ndarray:
        """The problem's measures, or the fallback grid's (the first genes) ``[n, M]``.

        Non-finite measures (those of invalid rows) become 0, which pyribs accepts;
        all are clipped into the measure space (``MeasureSpace.clip``).
        """
        if self.own_measures:
            return self.measure_space.clip(genomes[:, : self.measure_space.dim])
        if measures is None:
            raise ValueError(f"{type(self).__name__} needs the problem's measures in tell()")
        return self.measure_space.clip(np.nan_to_num(measures, nan=0.0, posinf=0.0, neginf=0.0))

    @property
    def archive(self) -> GridArchive | None:
        """The archive of elites (the result archive for CMA-MAE), once built."""
        return None if self.scheduler is None else self.scheduler.result_archive

    def _ask(self) -> np.ndarray:
        if self.scheduler is None:
            return self.space.prior.sample(self.rng, self.initial, self.space.dim)
        return self.scheduler.ask()

    def _tell(self, genomes: np.ndarray, loss: np.ndarray, measures: np.ndarray | None) -> None:
        valid = self.told_valid
        if valid is None:
            valid = valid_rows(loss, None if self.own_measures else measures)
        measures = self.measures_of(genomes, measures)
        objective = np.maximum(-loss, OBJECTIVE_FLOOR)
        if self.scheduler is not None:
            self.scheduler.tell(objective, measures)
            return
        if not valid.any():
            return  # no archive yet: the next ask() draws another initial population
        genomes, objective, measures = genomes[valid], objective[valid], measures[valid]
        archive, result = self._archives(objective)
        for a in (archive, result):
            if a is not None:
                a.add(genomes, objective, measures)
        self.scheduler = Scheduler(
            archive, self._emitters(archive, self._seeds[1], genomes), result_archive=result
        )


class MapElites(QualityDiversity):
    """MAP-Elites of the set-diversity study: children of random elites by crossover + reset.

    After an initial random population of ``initial`` genomes, every child is the
    uniform crossover of two elites drawn at random from the grid, followed by
    gene reset from the prior at per-gene rate ``indpb`` (as in ``ga-set``).
    The source made one child per step (``batch = 1``, the ``paper`` preset);
    ``batch > 1`` draws the parents of a whole batch from the same archive
    before any of its children is inserted, which lets a GPU evaluate them
    together (the default, 50, is one source "iteration" of evaluations).

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        batch: Children per ``ask()``.
        initial: Size of the initial random population.
        indpb: Per-gene reset probability.
        swap_prob: Per-gene swap probability of the uniform crossover.

    """

    paper_study: ClassVar[str | None] = SET_DIVERSITY_STUDY
    presets: ClassVar[dict[str, dict]] = {
        # Seeds digest §2: initial population <= 50, one child per iteration,
        # 25,000 evaluations (the GA's budget), mutation as in the GA.
        "paper": {"batch": 1, "initial": 50, "indpb": 0.02, "budget": 25_000},
        "batched": {"batch": 50, "initial": 50, "indpb": 0.02, "budget": 25_000},
        "quick": {"batch": 50, "initial": 50, "indpb": 0.02, "budget": 2_000},
    }

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        batch: int = 50,
        initial: int = 50,
        indpb: float = 0.02,
        swap_prob: float = 0.5,
    ):
        super().__init__(space, seed, initial)
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        for name, p in (("indpb", indpb), ("swap_prob", swap_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {p}")
        self.batch, self.indpb, self.swap_prob = batch, indpb, swap_prob

    def _emitted(self) -> int:
        return self.batch

    def _emitters(
        self, archive: ArchiveBase, seed: np.random.SeedSequence, initial: np.ndarray
    ) -> list[EmitterBase]:
        prior = self.space.prior
        return [
            CrossoverEmitter(
                archive,
                batch_size=self.batch,
                indpb=self.indpb,
                swap_prob=self.swap_prob,
                prior_mean=prior.mean,
                prior_std=prior.std,
                seed=seed,
            )
        ]

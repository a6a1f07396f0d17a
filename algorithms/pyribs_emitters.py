"""pyribs' standard quality-diversity algorithms on the suite's grid.

Each is ``QualityDiversity`` (see ``map_elites``) with pyribs' own emitters:

- ``GaussianMapElites``: ``GaussianEmitter``, Gaussian noise around a random elite;
- ``IsoLineMapElites``: ``IsoLineEmitter``, iso + line variation between two elites;
- ``CmaMe``: ``EvolutionStrategyEmitter`` with the two-stage improvement ranker
  on an elitist ``GridArchive`` (CMA-ME);
- ``CmaMae``: the same with the improvement ranker, ``mu`` selection and an
  archive with a ``learning_rate`` below 1 and a ``threshold_min``, plus a plain
  result archive that keeps the best solutions (CMA-MAE).

Step sizes are in prior standard deviations (the latent prior is N(0, 1)).
CMA-ES keeps a full D × D covariance, too costly for 5,000-gene genomes: with
``es="auto"`` the emitters use ``cma_es`` up to ``D = 1024`` and the diagonal
``sep_cma_es`` above.
"""

from __future__ import annotations

import numpy as np
from bench.algorithms.map_elites import QualityDiversity, int_seed
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase, EvolutionStrategyEmitter, GaussianEmitter, IsoLineEmitter
from ribs.emitters.rankers import _NAME_TO_RANKER_MAP  # no public list of the names

from bench.archive import grid_archive
from bench.problem import SearchSpace

FULL_CMA_MAX_DIM = 1024
RANKER_NAMES = tuple(_NAME_TO_RANKER_MAP)  # pyribs' ranker names, short and full
ES_NAMES = ("auto", "cma_es", "sep_cma_es", "lm_ma_es", "openai_es")


class GaussianMapElites(QualityDiversity):
    """MAP-Elites with pyribs' GaussianEmitter: N(0, σ²) noise added to random elites.

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        batch: Children per ``ask()``.
        initial: Size of the initial random population.
        sigma: Noise standard deviation, in prior standard deviations.

    """

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        batch: int = 50,
        initial: int = 50,
        sigma: float = 0.1,
    ):
        super().__init__(space, seed, initial)
        if batch < 1 or sigma <= 0:
            raise ValueError(f"batch must be >= 1 and sigma > 0, got {batch} and {sigma}")
        self.batch, self.sigma = batch, sigma

    def _emitted(self) -> int:
        return self.batch

    def _emitters(
        self, archive: ArchiveBase, seed: np.random.SeedSequence, initial: np.ndarray
    ) -> list[EmitterBase]:
        return [
            GaussianEmitter(
                archive,
                sigma=self.sigma * self.space.prior.std,
                initial_solutions=initial,
                batch_size=self.batch,
                seed=int_seed(seed),
            )
        ]


class IsoLineMapElites(QualityDiversity):
    """MAP-Elites with pyribs' IsoLineEmitter (Iso+LineDD variation between two elites).

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        batch: Children per ``ask()``.
        initial: Size of the initial random population.
        iso_sigma: Isotropic noise, in prior standard deviations.
        line_sigma: Spread along the line between the two elites.

    """

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        batch: int = 50,
        initial: int = 50,
        iso_sigma: float = 0.01,
        line_sigma: float = 0.2,
    ):
        super().__init__(space, seed, initial)
        if batch < 1 or iso_sigma < 0 or line_sigma < 0:
            raise ValueError("batch must be >= 1 and iso_sigma, line_sigma >= 0")
        self.batch, self.iso_sigma, self.line_sigma = batch, iso_sigma, line_sigma

    def _emitted(self) -> int:
        return self.batch

    def _emitters(
        self, archive: ArchiveBase, seed: np.random.SeedSequence, initial: np.ndarray
    ) -> list[EmitterBase]:
        return [
            IsoLineEmitter(
                archive,
                iso_sigma=self.iso_sigma * self.space.prior.std,
                line_sigma=self.line_sigma,
                initial_solutions=initial,
                batch_size=self.batch,
                seed=int_seed(seed),
            )
        ]


class CmaMe(QualityDiversity):
    """CMA-ME: pyribs EvolutionStrategyEmitters ranked by two-stage improvement.

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        emitters: Number of evolution-strategy emitters.
        batch: Solutions per emitter per ``ask()``.
        initial: Size of the initial random population.
        sigma0: Initial step size, in prior standard deviations.
        es: pyribs optimiser: ``auto``, ``cma_es``, ``sep_cma_es``, ``lm_ma_es``, ``openai_es``.
        ranker: pyribs ranker name (``2imp``, ``imp``, ``rd``, ``obj``, ...).
        selection_rule: ``filter`` or ``mu``.
        restart_rule: ``no_improvement`` or ``basic``.

    """

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        emitters: int = 5,
        batch: int = 36,
        initial: int = 50,
        sigma0: float = 0.5,
        es: str = "auto",
        ranker: str = "2imp",
        selection_rule: str = "filter",
        restart_rule: str = "no_improvement",
    ):
        super().__init__(space, seed, initial)
        if emitters < 1 or batch < 2 or sigma0 <= 0:
            raise ValueError("emitters must be >= 1, batch >= 2 and sigma0 > 0")
        if es not in ES_NAMES:
            raise ValueError(f"unknown es '{es}'. Valid: {', '.join(ES_NAMES)}")
        if es == "auto":
            es = "cma_es" if space.dim <= FULL_CMA_MAX_DIM else "sep_cma_es"
        if ranker not in RANKER_NAMES:  # pyribs would say so only when it builds the emitters
            raise ValueError(f"unknown ranker '{ranker}'. Valid: {', '.join(RANKER_NAMES)}")
        if selection_rule not in ("filter", "mu"):
            raise ValueError(f"selection_rule must be 'filter' or 'mu', got {selection_rule!r}")
        if restart_rule not in ("no_improvement", "basic"):
            raise ValueError(
                f"restart_rule must be 'no_improvement' or 'basic', got {restart_rule!r}"
            )
        self.n_emitters, self.batch, self.sigma0, self.es = emitters, batch, sigma0, es
        self.ranker, self.selection_rule, self.restart_rule = ranker, selection_rule, restart_rule

    def _emitted(self) -> int:
        return self.n_emitters * self.batch

    def _emitters(
        self, archive: ArchiveBase, seed: np.random.SeedSequence, initial: np.ndarray
    ) -> list[EmitterBase]:
        x0 = np.full(self.space.dim, self.space.prior.mean)
        return [
            EvolutionStrategyEmitter(
                archive,
                x0=x0,
                sigma0=self.sigma0 * self.space.prior.std,
                ranker=self.ranker,
                es=self.es,
                selection_rule=self.selection_rule,
                restart_rule=self.restart_rule,
                batch_size=self.batch,
                seed=s,
            )
            for s in seed.spawn(self.n_emitters)
        ]


class CmaMae(CmaMe):
    """CMA-MAE: CMA-ME with a soft archive (learning rate < 1, threshold_min) and a result archive.

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        emitters: Number of evolution-strategy emitters.
        batch: Solutions per emitter per ``ask()``.
        initial: Size of the initial random population.
        sigma0: Initial step size, in prior standard deviations.
        es: pyribs optimiser (see ``CmaMe``).
        learning_rate: Archive learning rate α (1 would be CMA-ME's elitist archive).
        threshold_min: Initial cell threshold in objective (``-loss``) units;
            ``None``: the lowest objective of the initial random population's
            valid rows (rows the evaluator replaced are left out: their stand-in
            objective, as low as ``-1e150``, would be no threshold at all), a
            scale-free choice since losses differ by problem. The archives are
            built at the first population with a valid row (see ``map_elites``).
        ranker: pyribs ranker name.
        selection_rule: ``mu`` or ``filter``.
        restart_rule: ``basic`` or ``no_improvement``.

    """

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        emitters: int = 5,
        batch: int = 36,
        initial: int = 50,
        sigma0: float = 0.5,
        es: str = "auto",
        learning_rate: float = 0.01,
        threshold_min: float | None = None,
        ranker: str = "imp",
        selection_rule: str = "mu",
        restart_rule: str = "basic",
    ):
        super().__init__(
            space, seed, emitters, batch, initial, sigma0, es, ranker, selection_rule, restart_rule
        )
        if not 0.0 <= learning_rate <= 1.0:
            raise ValueError(f"learning_rate must lie in [0, 1], got {learning_rate}")
        self.learning_rate, self.threshold_min = learning_rate, threshold_min

    def _archives(self, objective: np.ndarray) -> tuple[ArchiveBase, ArchiveBase | None]:
        """The soft archive, its threshold from ``objective`` ``[k]`` (valid rows), and a result."""
        threshold = self.threshold_min
        if threshold is None:
            threshold = float(np.min(objective))
        archive = grid_archive(
            self.measure_space,
            self.space.dim,
            seed=int_seed(self._seeds[0]),
            learning_rate=self.learning_rate,
            threshold_min=threshold,
        )
        result = grid_archive(self.measure_space, self.space.dim, seed=int_seed(self._seeds[0]))
        return archive, result

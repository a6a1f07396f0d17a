"""The registered ``pymoo:<name>`` algorithms: one adapter subclass per pymoo class.

Every option of the pymoo constructor that takes a value (a number, a string
or a list) can be given with ``--set``, e.g. ``--set pop_size=50`` for
``pymoo:ga`` or ``--set variant=DE/rand/1/bin --set CR=0.9`` for ``pymoo:de``;
the adapter's own options are ``batch``, ``bound_k`` and ``termination`` (see
``pymoo_adapter``). pymoo's defaults apply otherwise, except that
``pymoo:sep-cmaes`` is CMA-ES with ``CMA_diagonal=True``.

Not registered: pymoo's ``PatternSearch`` (0.6.2 draws its exploration order
from an unseeded generator, so a run cannot be reproduced from its seed),
``BRKGA`` (needs a problem-specific decoder), ``DIRECT`` (deterministic space
partitioning, hopeless at 512+ genes) and ``Optuna`` (another package).
"""

from __future__ import annotations

from typing import Any, ClassVar

import cma
import numpy as np
from bench.algorithms.pymoo_adapter import PymooAlgorithm
from pymoo.algorithms.soo.nonconvex.cmaes import CMAES
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.algorithms.soo.nonconvex.es import ES
from pymoo.algorithms.soo.nonconvex.g3pcx import G3PCX
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.algorithms.soo.nonconvex.ga_niching import NicheGA
from pymoo.algorithms.soo.nonconvex.isres import ISRES
from pymoo.algorithms.soo.nonconvex.nelder import NelderMead
from pymoo.algorithms.soo.nonconvex.nrbo import NRBO
from pymoo.algorithms.soo.nonconvex.pso import PSO
from pymoo.algorithms.soo.nonconvex.sres import SRES


class PymooGA(PymooAlgorithm):
    """pymoo GA: tournament, SBX crossover, polynomial mutation (pymoo defaults)."""

    pymoo_class = GA


class PymooNicheGA(PymooAlgorithm):
    """pymoo niching GA: epsilon-clearing survival keeps one winner per niche.

    Survivors are chosen niche by niche: the best remaining point clears every
    point within ``norm_niche_size`` of it (0.05 by default, measured in the
    box scaled to a unit cube; ``norm_by_dim=true`` also divides by √D) before
    the next is taken, so the population spreads over several basins instead
    of converging on one.
    """

    pymoo_class = NicheGA


class PymooDE(PymooAlgorithm):
    """pymoo differential evolution (default variant DE/best/1/bin)."""

    pymoo_class = DE
    # DE's Variant parameters (strings and numbers here, not operator objects).
    extra_options = frozenset(
        {"selection", "n_diffs", "F", "crossover", "CR", "jitter", "prob_mut"}
    )


class PymooCMAES(PymooAlgorithm):
    """pymoo CMA-ES (cma package) started at the prior mean with the prior's spread.

    pymoo hands the options it does not know to ``cma`` (e.g. ``popsize``,
    ``CMA_diagonal``). Unless given, ``x0`` is the prior mean and ``sigma``
    (a fraction of the box width, pymoo normalises) is ``1 / (2 bound_k)``, so
    the first search distribution is the prior itself.
    """

    pymoo_class = CMAES
    extra_options = frozenset(cma.CMAOptions.defaults())

    def constructor_options(self) -> dict[str, Any]:
        """``x0`` at the prior mean and ``sigma`` of one prior std, then the user's options."""
        x0 = np.full(self.space.dim, self.space.prior.mean)
        return {"x0": x0, "sigma": 0.5 / self.bound_k, **self.options}


class PymooSepCMAES(PymooCMAES):
    """Separable CMA-ES (Ros & Hansen 2008): pymoo's CMA-ES with a diagonal covariance.

    ``cma``'s ``CMA_diagonal=True``. Full CMA-ES keeps a D × D covariance and
    decomposes it every few generations, O(D³): at D = 5,000 and its default
    population (29) that is 7.8 s of its own time per 200 evaluations on one
    thread, about 26% of a 28-px set-diversity run there
    (``results/benchmarks``). The diagonal variant learns per-gene step sizes
    only, in O(D) per sample (0.17 s per 200 evaluations at D = 5,000), and
    adapts faster where genes are nearly independent; it cannot learn rotated
    valleys.
    """

    defaults: ClassVar[dict[str, Any]] = {"CMA_diagonal": True}


class PymooPSO(PymooAlgorithm):
    """pymoo particle swarm optimisation (adaptive inertia and acceleration).

    Its adaptive parameters use all pairwise particle distances, computed by
    the adapter's exact stand-in one particle at a time (pymoo's own function
    would briefly need about 6 GB with ``pop_size=200`` at D = 5,000).
    """

    pymoo_class = PSO


class PymooES(PymooAlgorithm):
    """pymoo evolution strategy with self-adaptive step sizes."""

    pymoo_class = ES


class PymooSRES(PymooAlgorithm):
    """pymoo stochastic-ranking evolution strategy (SRES)."""

    pymoo_class = SRES


class PymooISRES(PymooAlgorithm):
    """pymoo improved stochastic-ranking evolution strategy (ISRES)."""

    pymoo_class = ISRES


class PymooG3PCX(PymooAlgorithm):
    """pymoo G3-PCX: steady-state generalised generation gap with parent-centric crossover."""

    pymoo_class = G3PCX


class PymooNelderMead(PymooAlgorithm):
    """pymoo Nelder–Mead simplex (restarts when the simplex collapses)."""

    pymoo_class = NelderMead
    default_termination = "pymoo"


class PymooNRBO(PymooAlgorithm):
    """pymoo Newton–Raphson-based optimiser (NRBO)."""

    pymoo_class = NRBO


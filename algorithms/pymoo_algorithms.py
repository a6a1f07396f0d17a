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

from collections.abc import Iterable
from typing import Any, ClassVar

import cma
import numpy as np
from bench.algorithms.map_elites import int_seed
from bench.algorithms.nelder_mead_arrays import ArrayNelderMead
from bench.algorithms.pymoo_adapter import PriorSampling, PymooAlgorithm, is_number
from pymoo.algorithms.soo.nonconvex.cmaes import CMAES
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.algorithms.soo.nonconvex.es import ES
from pymoo.algorithms.soo.nonconvex.g3pcx import G3PCX
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.algorithms.soo.nonconvex.ga_niching import NicheGA
from pymoo.algorithms.soo.nonconvex.isres import ISRES
from pymoo.algorithms.soo.nonconvex.nelder import NelderMead, initialize_simplex
from pymoo.algorithms.soo.nonconvex.nrbo import NRBO
from pymoo.algorithms.soo.nonconvex.pso import PSO
from pymoo.algorithms.soo.nonconvex.sres import SRES
from pymoo.core.population import Population, pop_from_array_or_individual


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


# cma's default maxstd_boundrange (its options table holds it as the string '1/3  # …')
CMA_MAXSTD_BOUNDRANGE = 1 / 3


class PymooCMAES(PymooAlgorithm):
    """pymoo CMA-ES (cma package) started at the prior mean with the prior's spread.

    pymoo hands the options it does not know to ``cma`` (e.g. ``popsize``,
    ``CMA_diagonal``). The population size may be given by pymoo's name,
    ``pop_size`` (pymoo 0.6.2 passes it on to ``cma`` as ``popsize``), or by
    ``cma``'s, ``popsize``, not both. Unless given, ``x0`` is the prior mean and
    ``sigma`` (a fraction of the box width, pymoo normalises) is
    ``1 / (2 bound_k)``, so the first search distribution is the prior itself
    (in a problem's tighter box: its centre if the mean lies outside, and one
    prior std as a fraction of it, at most ``cma``'s cap).
    """

    pymoo_class = CMAES
    extra_options = frozenset(cma.CMAOptions.defaults())

    def given_popsize(self) -> tuple[str, Any] | None:
        """The population size given, as ``(option name, value)``; None where neither was.

        Raises:
            ValueError: Both ``pop_size`` and ``popsize`` were given.

        """
        given = [(k, self.options[k]) for k in ("pop_size", "popsize") if k in self.options]
        given = [(k, v) for k, v in given if v is not None]
        if len(given) == 2:
            raise ValueError(
                "give the population size as pop_size (pymoo's name) or popsize (cma's), "
                f"not both (got pop_size={given[0][1]!r}, popsize={given[1][1]!r})"
            )
        return given[0] if given else None

    def population_size(self) -> int | None:
        """The size given, else ``cma``'s default ``4 + ⌊3 ln D⌋``; None with ``cma``'s restarts."""
        if self.options.get("restarts") or self.options.get("bipop"):
            return None  # IPOP/BIPOP grow the population
        given = self.given_popsize()
        return int(given[1]) if given else 4 + int(3 * np.log(self.space.dim))

    def prior_box(self) -> bool:
        """Whether pymoo's box is the prior's own (``2 bound_k`` stds), not a tighter one."""
        mean, half = self.space.prior.mean, self.bound_k * self.space.prior.std
        low, high = self.box
        return bool(np.all(low == mean - half) and np.all(high == mean + half))

    @property
    def default_sigma(self) -> float:
        """One prior std as a fraction of pymoo's normalised box, at most ``cma``'s cap.

        In the prior's own box (``2 bound_k`` stds wide) that is ``0.5 / bound_k``;
        in a problem's tighter box one prior std may be wider than ``cma`` samples
        (``sigma_cap``), and the cap is taken instead.
        """
        if self.prior_box():
            return 0.5 / self.bound_k
        # per gene, the widest box gets one prior std and narrower ones less
        sigma = float(np.min(self.space.prior.std / (self.box[1] - self.box[0])))
        cap = self.sigma_cap()
        return sigma if cap is None else min(sigma, cap)

    def start_point(self) -> np.ndarray:
        """``x0 [D]``: the prior mean, or the box's centre in genes whose box leaves it out."""
        dim = self.space.dim
        low, high = (np.broadcast_to(np.asarray(b, dtype=np.float64), dim) for b in self.box)
        mean = self.space.prior.mean
        return np.where((low <= mean) & (mean <= high), mean, (low + high) / 2)

    def default_options(self, given: Iterable[str] = ()) -> dict[str, Any]:
        """As the adapter's, with the ``sigma`` this class passes instead of pymoo's 0.1."""
        out = super().default_options(given)
        if "sigma" in out:
            out["sigma"] = self.default_sigma
        return out

    def sigma_cap(self) -> float | None:
        """The largest initial ``sigma`` that ``cma`` honours, or None where it sets none.

        With bounds (pymoo always passes its box), ``cma`` limits every coordinate's
        standard deviation to ``maxstd_boundrange`` (1/3 unless given) of the box
        width, multiplying its step-size vector down from the first generation on. A
        larger ``sigma`` is therefore the same run as ``sigma`` at the cap. An explicit
        ``maxstd`` replaces the rule (None: no cap this class can state).
        """
        if self.options.get("maxstd") is not None:
            return None
        fraction = self.options.get("maxstd_boundrange", CMA_MAXSTD_BOUNDRANGE)
        if not is_number(fraction):
            return None  # cma evaluates strings such as '1/3' itself
        normalised = self.options.get("normalize", True)
        width = 1.0 if normalised else float(np.min(self.box[1] - self.box[0]))
        return float(fraction) * width

    def constructor_options(self) -> dict[str, Any]:
        """``x0`` (``start_point``) and ``sigma`` of one prior std, then the user's options."""
        x0 = self.start_point()
        sigma = self.options.get("sigma", self.default_sigma)
        if not (isinstance(sigma, int | float) and not isinstance(sigma, bool) and sigma > 0):
            raise ValueError(f"sigma must be a positive fraction of the box width, got {sigma!r}")
        cap = self.sigma_cap()
        if cap is not None and sigma > cap:
            given = "" if "sigma" in self.options else "the default (0.5 / bound_k) "
            raise ValueError(
                f"{given}sigma={sigma:g} exceeds cma's cap on a coordinate's std, {cap:g} of "
                "the box (maxstd_boundrange, 1/3 by default): cma would silently sample with "
                f"std {cap:g}, so every sigma above it gives the same run. Use sigma <= {cap:g}, "
                "or raise the cap with --set maxstd_boundrange=..."
            )
        given = self.given_popsize()  # cma's own check comes after the first point
        if given is not None:
            name, popsize = given
            if not (isinstance(popsize, int | np.integer) and popsize >= 2):
                raise ValueError(f"{name} must be an integer of at least 2, got {popsize!r}")
        return {"x0": x0, "sigma": self.default_sigma, **self.options}


class PymooSepCMAES(PymooCMAES):
    """Separable CMA-ES (Ros & Hansen 2008): pymoo's CMA-ES with a diagonal covariance.

    ``cma``'s ``CMA_diagonal=True``. Full CMA-ES keeps a D × D covariance and
    decomposes it every 1/(10·D·(c₁ + c_μ)) generations, O(D³) each: at
    D = 5,000 and its default population (29), every 33 generations, and 9.6 s
    of its own time per 200 evaluations on one Zen 4 thread, about as long as
    the 200 evaluations of a 28-px set-diversity problem there
    (``results/benchmarks``). The diagonal variant learns per-gene step sizes
    only, in O(D) per sample (0.14 s per 200 evaluations at D = 5,000), and
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


class ScaledNelderMead(NelderMead):
    """pymoo's ``NelderMead`` that builds its first simplex with ``init_simplex_scale``.

    pymoo 0.6.2 accepts the option and then passes 0.05 whatever it was given.
    """

    def _initialize_simplex(self) -> Population:
        vertices = initialize_simplex(self.problem, self.x0.X, scale=self.init_simplex_scale)
        return Population.merge(self.x0, pop_from_array_or_individual(vertices))


class PymooNelderMead(PymooAlgorithm):
    """pymoo Nelder–Mead simplex (restarts when the simplex collapses).

    It runs as ``nelder_mead_arrays.ArrayNelderMead``: pymoo's method and
    termination criteria on arrays, asking for the same points as pymoo's own
    class (tests compare them, restarts included) at a fraction of its own
    time per step (pymoo reads every vertex through Python objects: 11 ms per
    step at D = 512 on one thread). ``fast_paths = False`` runs pymoo's class.
    Options: ``n_sample_points`` (20 prior samples choose the start) and
    ``init_simplex_scale`` (0.05: simplex edges as a fraction of the box
    width; pymoo 0.6.2 ignores it, here both paths honour it).
    """

    pymoo_class = ScaledNelderMead
    default_termination = "pymoo"

    def _start(self) -> None:
        if not self.fast_paths:
            super()._start()
            return
        self.restarts += 1
        seed = int_seed(self._restart_seeds.spawn(1)[0])
        self.algorithm = ArrayNelderMead(
            self.problem,
            seed,
            PriorSampling(self.space.prior),
            terminates=self.termination == "pymoo",
            **self.options,
        )

    def _pull(self) -> None:
        if not self.fast_paths:
            super()._pull()
            return
        if not self.algorithm.has_next():  # the simplex collapsed: start afresh
            self._start()
        self._todo_x = self.algorithm.ask()
        self._loss, self._next = np.full(len(self._todo_x), np.nan), 0

    def _push(self) -> None:
        if not self.fast_paths:
            super()._push()
            return
        self.algorithm.tell(self._loss)
        self._todo_x = None


class PymooNRBO(PymooAlgorithm):
    """pymoo Newton–Raphson-based optimiser (NRBO)."""

    pymoo_class = NRBO


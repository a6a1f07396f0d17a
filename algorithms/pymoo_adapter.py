"""pymoo's single-objective algorithms, run through pymoo's own ask/tell.

``PymooAlgorithm`` adapts one pymoo algorithm class to the suite's contract;
each registered ``pymoo:<name>`` is a two-line subclass naming the class. What
the adapter decides, and every run shares:

- **Bounds.** pymoo needs a box. The adapter gives it
  ``prior mean ± bound_k · prior std`` per gene (``bound_k = 4`` by default,
  where a N(0, 1) gene falls outside with probability 6e-5). The box matters
  only where the pymoo method uses it: its operators (SBX, polynomial mutation,
  DE, PSO velocities), its repair of out-of-box children (clipping), CMA-ES's
  normalisation (``sigma`` is a fraction of the box width) and Nelder–Mead's
  initial simplex. A problem's own bounds (one box, or one per gene) narrow it
  where they are tighter (``pymoo_box``). The bounds are recorded by ``describe()``.
- **Initial points** come from the problem's prior (clipped to the box), not
  from pymoo's uniform or Latin-hypercube sampling.
- **Termination.** ``termination="none"`` (the default for population
  methods) lets the budget end the run; ``"pymoo"`` keeps the method's own
  default criteria. Either way, when pymoo stops (CMA-ES on ``tolx``,
  Nelder–Mead on a collapsed simplex, ...) the adapter restarts the method
  with a fresh seed, so the evaluator's budget is always spent exactly.
- **Batches.** pymoo asks for as many points as it likes (Nelder–Mead's
  first simplex has D + 1); the adapter hands them out in chunks of at most
  ``batch`` and tells pymoo once the whole population is evaluated.
  Points pymoo already evaluated are not evaluated again.
- **Randomness.** pymoo draws from a ``numpy.random.Generator`` seeded with an
  integer taken from the run's ``SeedSequence``. The ``cma`` package behind
  pymoo's CMA-ES, however, seeds and draws from NumPy's *global* RNG. Every
  call into pymoo therefore runs with the global RNG swapped for the adapter's
  own ``RandomState`` (seeded from the same ``SeedSequence``) and swapped back
  afterwards: runs are reproducible and the caller's global state is left as
  it was. (Not thread-safe: two adapters must not step in parallel threads.)
- **Speed.** Inside those calls pymoo also runs with exact, faster stand-ins
  for the helpers that dominate its time at thousands of genes (ES's step-size
  recombination, the pairwise distances of PSO and the niching GA); see
  ``pymoo_fast_paths``. Results are bit-identical with and without them.
  (``pymoo:nelder-mead`` goes further and runs as ``ArrayNelderMead``.)
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
from bench.algorithms.map_elites import int_seed
from bench.algorithms.pymoo_fast_paths import pymoo_fast_paths
from pymoo.core.evaluator import Evaluator
from pymoo.core.individual import Individual
from pymoo.core.population import Population
from pymoo.core.problem import Problem as PymooProblem
from pymoo.core.sampling import Sampling
from pymoo.core.termination import NoTermination
from pymoo.problems.static import StaticProblem

from bench.algorithm import Algorithm
from bench.problem import Bounds, GaussianPrior, SearchSpace

# Constructor arguments the adapter owns, or that take Python objects rather than values.
RESERVED = frozenset(
    "archive callback display evaluator output sampling save_history seed termination verbose "
    "repair mating selection crossover mutation survival noise_handler func_params initial x0 "
    "return_least_infeasible cmaes_verbose verb_log".split()
)
EVALUATED = ("F", "G", "H")  # what pymoo's Evaluator checks before skipping a point
MAX_RESTARTS_PER_ASK = 100


class PriorSampling(Sampling):
    """pymoo sampling from the problem's Gaussian prior, clipped to the box."""

    def __init__(self, prior: GaussianPrior) -> None:
        super().__init__()
        self.prior = prior

    def _do(self, problem: PymooProblem, n_samples: int, *args: Any, random_state=None, **kw):
        x = random_state.normal(self.prior.mean, self.prior.std, size=(n_samples, problem.n_var))
        return np.clip(x, problem.xl, problem.xu)


def pymoo_box(space: SearchSpace, bound_k: float) -> Bounds:
    """The box pymoo searches: the prior's ``± bound_k`` stds, within the problem's bounds.

    The problem's own box wins where it is tighter; in a gene where it misses the
    prior's box altogether, it is taken whole.

    Returns:
        ``(low, high)``: floats, or ``[D]`` arrays where the problem's bounds are per gene.

    """
    prior = space.prior
    low, high = prior.mean - bound_k * prior.std, prior.mean + bound_k * prior.std
    if space.bounds is None:
        return float(low), float(high)
    b_low, b_high = space.bounds
    low, high = np.maximum(b_low, low), np.minimum(b_high, high)
    apart = low >= high
    low, high = np.where(apart, b_low, low), np.where(apart, b_high, high)
    if isinstance(b_low, float):
        return float(low), float(high)
    return low, high


class _Box(PymooProblem):
    """The box pymoo sees; evaluation happens in the suite's evaluator, never here."""

    def __init__(self, dim: int, low: float | np.ndarray, high: float | np.ndarray) -> None:
        super().__init__(n_var=dim, n_obj=1, xl=low, xu=high)

    def _evaluate(self, x: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("pymoo must not evaluate: the suite's evaluator does")


def pymoo_defaults(pymoo_class: type) -> dict[str, Any]:
    """Constructor keywords of ``pymoo_class`` (over its MRO) that ``--set`` may give.

    Returns:
        Each keyword's default (the most derived class's), ``inspect.Parameter.empty``
        where it has none.

    """
    defaults: dict[str, Any] = {}
    for klass in pymoo_class.__mro__:
        if "__init__" in vars(klass) and klass is not object:
            for name, p in inspect.signature(klass.__init__).parameters.items():
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self":
                    defaults.setdefault(name, p.default)
    return {k: v for k, v in defaults.items() if k not in RESERVED}


def _is_plain(value: Any) -> bool:
    """A default worth recording (and valid JSON): a finite number, string, boolean or ``None``."""
    if isinstance(value, float):
        return bool(np.isfinite(value))
    return value is None or isinstance(value, str | bool | int)


def is_number(value: Any) -> bool:
    """A real number (NumPy's included), not a boolean."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )


class PymooAlgorithm(Algorithm):
    """Base adapter: a pymoo single-objective algorithm through its own ask/tell.

    Subclasses set ``pymoo_class`` (and optionally ``extra_options``,
    ``defaults`` and ``default_termination``).

    Args:
        space: The problem's search space.
        seed: Seed sequence of the run.
        batch: Most genomes per ``ask()``; larger pymoo populations are split.
        bound_k: Half-width of pymoo's box, in prior standard deviations.
        termination: ``"none"`` (only the budget stops it) or ``"pymoo"`` (the
            method's own default criteria); either way a stopped method restarts.
        **options: Keyword arguments of the pymoo class (numbers, strings, lists).

    """

    pymoo_class: ClassVar[type]
    extra_options: ClassVar[frozenset[str]] = frozenset()
    defaults: ClassVar[dict[str, Any]] = {}
    default_termination: ClassVar[str] = "none"
    fast_paths: ClassVar[bool] = True  # pymoo_fast_paths' exact stand-ins (False: pymoo's own)

    def __init__(
        self,
        space: SearchSpace,
        seed: np.random.SeedSequence | int,
        batch: int = 100,
        bound_k: float = 4.0,
        termination: str | None = None,
        **options: Any,
    ):
        super().__init__(space, seed)
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        if not bound_k > 0:
            raise ValueError(f"bound_k must be positive, got {bound_k}")
        termination = termination or self.default_termination
        if termination not in ("none", "pymoo"):
            raise ValueError(f"termination must be 'none' or 'pymoo', got '{termination}'")
        defaults = pymoo_defaults(self.pymoo_class)
        valid = self.accepted_options() - {"batch", "bound_k", "termination"}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise ValueError(
                f"{self.pymoo_class.__name__} has no option {', '.join(map(repr, unknown))}. "
                f"Valid: batch, bound_k, termination, {', '.join(sorted(valid))}"
            )
        for name, value in options.items():  # a number where pymoo's default is one
            if is_number(defaults.get(name)) and not is_number(value):
                raise ValueError(
                    f"{self.pymoo_class.__name__} option {name} expects a number "
                    f"(default {defaults[name]}), got {value!r}"
                )
        self.batch, self.bound_k, self.termination = batch, bound_k, termination
        self.options = {**self.defaults, **options}
        self.box = pymoo_box(space, bound_k)
        self.problem = _Box(space.dim, *self.box)
        rng_seed, self._restart_seeds = self.seed.spawn(2)
        self._np_state = np.random.RandomState(int_seed(rng_seed)).get_state()
        self.restarts = -1  # the first start is not a restart
        self.algorithm: Any = None
        self._pop: Any = None  # what pymoo's ask() returned, handed back to tell()
        self._todo: Population | None = None  # its points that need evaluating
        self._todo_x: np.ndarray | None = None  # their genomes [k, D]; None: ask pymoo
        self._loss = np.empty(0)
        self._next = 0
        try:  # pymoo checks few options itself: bad ones fail at its first ask, so ask now
            self._start()
            self._pull()
        except Exception as exc:
            if not options:
                raise
            given = ", ".join(f"{k}={v!r}" for k, v in options.items())
            raise ValueError(
                f"{self.pymoo_class.__name__} fails with the options {given}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    @property
    def batch_size(self) -> int:
        """At most ``batch`` genomes per ``ask()``, fewer when pymoo's population is smaller."""
        hint = self.population_size()
        return min(self.batch, hint) if hint else self.batch

    def population_size(self) -> int | None:
        """The most points pymoo asks for at once (population or offspring), if it says."""
        sizes = []
        for attr in ("pop_size", "n_offsprings"):
            value = getattr(self.algorithm, attr, None)
            value = getattr(value, "value", value)  # some hold a pymoo Variable
            if isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0:
                sizes.append(int(value))
        return max(sizes) if sizes else None

    @classmethod
    def accepted_options(cls) -> set[str]:
        """Every option name this adapter takes: its own and the pymoo class's keywords.

        ``bench.spec.route_params`` reads it to route a bare ``--set`` key and to
        reject one that neither the problem nor the algorithm takes, listing both.
        """
        own = {"batch", "bound_k", "termination"}
        return own | ((set(pymoo_defaults(cls.pymoo_class)) | cls.extra_options) - RESERVED)

    def default_options(self, given: Iterable[str] = ()) -> dict[str, Any]:
        """The adapter's defaults, then the pymoo class's (numbers, strings, booleans)."""
        given = set(given)
        out = super().default_options(given)
        if "termination" in out:
            out["termination"] = self.termination  # the class's policy when not given
        out.update({k: v for k, v in self.defaults.items() if k not in given})
        for name, value in pymoo_defaults(self.pymoo_class).items():
            if name not in given and name not in out and _is_plain(value):
                out[name] = value
        return out

    def describe(self) -> dict[str, Any]:
        """The box (per gene: its ranges), termination policy and restarts so far."""
        low, high = self.box
        box = (
            list(self.box)
            if isinstance(low, float)
            else {"per_gene": True, "low": [low.min(), low.max()], "high": [high.min(), high.max()]}
        )
        return {"box": box, "termination": self.termination, "restarts": self.restarts}

    def constructor_options(self) -> dict[str, Any]:
        """Keyword arguments of the pymoo class: prior sampling, then the user's options."""
        return {"sampling": PriorSampling(self.space.prior), **self.options}

    @contextlib.contextmanager
    def _in_pymoo(self) -> Iterator[None]:
        """Swap NumPy's global RNG for this adapter's own, and use the fast paths, in pymoo."""
        outer = np.random.get_state()  # noqa: NPY002 - saved to be restored
        np.random.set_state(self._np_state)  # noqa: NPY002 - our own seeded state
        try:
            with pymoo_fast_paths(self.fast_paths):
                yield
        finally:
            self._np_state = np.random.get_state()  # noqa: NPY002
            np.random.set_state(outer)  # noqa: NPY002

    def _start(self) -> None:
        """(Re)start the pymoo algorithm with a fresh seed from the run's sequence."""
        self.restarts += 1
        seed = int_seed(self._restart_seeds.spawn(1)[0])
        with self._in_pymoo():
            algorithm = self.pymoo_class(**self.constructor_options())
            setup: dict[str, Any] = {"seed": seed, "verbose": False}
            if self.termination == "none":
                setup["termination"] = NoTermination()
            algorithm.setup(self.problem, **setup)
        self.algorithm = algorithm

    def _pull(self) -> None:
        """Ask pymoo for its next population, restarting it when it has stopped."""
        for _ in range(MAX_RESTARTS_PER_ASK):
            pop = None
            with self._in_pymoo():
                if self.algorithm.has_next():
                    pop = self.algorithm.ask()
            if pop is None:
                self._start()
                continue
            todo = Population.create(pop) if isinstance(pop, Individual) else pop
            pending = [i for i, ind in enumerate(todo) if not set(EVALUATED) <= ind.evaluated]
            self._pop, self._todo = pop, todo[pending]
            self._todo_x = np.asarray(self._todo.get("X"), dtype=np.float64)
            self._loss, self._next = np.full(len(pending), np.nan), 0
            if len(pending):
                return
            self._push()  # nothing new to evaluate: hand it straight back
        raise RuntimeError(
            f"{self.pymoo_class.__name__}: {MAX_RESTARTS_PER_ASK} pymoo asks without a new point"
        )

    def _push(self) -> None:
        """Give pymoo the losses of its whole population."""
        with self._in_pymoo():
            if len(self._todo):
                static = StaticProblem(self.problem, F=self._loss[:, None])
                Evaluator().eval(static, self._todo, skip_already_evaluated=False)
            self.algorithm.tell(infills=self._pop)
        self._pop = self._todo = self._todo_x = None

    def _ask(self) -> np.ndarray:
        if self._todo_x is None:
            self._pull()
        # batch_size, not batch: should pymoo ever ask for more than its population
        # attributes said, the population is split into more asks, with the same points
        size = self.batch_size
        return self._todo_x[self._next : self._next + size].reshape(-1, self.space.dim)

    def _tell(self, genomes: np.ndarray, loss: np.ndarray, measures: np.ndarray | None) -> None:
        self._loss[self._next : self._next + len(loss)] = loss
        self._next += len(loss)
        if self._next == len(self._loss):
            self._push()

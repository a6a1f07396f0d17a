"""The problem contract: what a search is asked to optimise.

A problem maps a batch of flat genomes ``[N, D]`` to a batch of fitness values
``[N]`` in one call; there is no per-individual path. It declares its genome
shape, its prior (every GAN problem samples latents from N(0, 1)), its objective
sense, and optionally behaviour descriptors (``measures``) for quality-diversity
archives, a ``render`` method that turns genomes into images for galleries and
a ``report`` method that adds problem-specific figures to a run's record.

Problems never write files, print, or touch a global random number generator.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Sense = Literal["min", "max"]


WEIGHTS_OPTION = (
    "the file as weights=PATH (`bench run ... --set problem.weights=PATH`; in a campaign plan, "
    '`weights = "PATH"` under [problem.NAME]; `bench calibrate-crop ... --weights PATH`)'
)
"""How a user hands a problem's generator a weight file, for messages."""


class MissingWeightsError(FileNotFoundError):
    """A weight file a problem or generator needs is absent; the message says how to get it."""


class UnreadableWeightsError(MissingWeightsError):
    """A weight file exists but does not hold what it should (corrupt, or another kind of file)."""


def exception_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters), for one-line errors."""
    first = (str(exc).splitlines() or ["no detail"])[0][:200]
    return f"{type(exc).__name__}: {first}"


def read_torch_file(path: str | Path, what: str, weights_only: bool = True) -> object:
    """``torch.load(path)`` on the CPU, or ``UnreadableWeightsError`` naming the file and cause.

    Args:
        path: The file.
        what: What it should hold, for the message (``"weights of 'dcgan-mnist'"``).
        weights_only: Refuse pickled code (files we did not write ourselves).

    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as exc:  # torch raises KeyError, RuntimeError, UnpicklingError, ...
        raise UnreadableWeightsError(
            f"cannot read {what} from {path}: not a PyTorch file this suite wrote or can read "
            f"({exception_line(exc)})"
        ) from None


def check_batch_shape(array: np.ndarray, shape: tuple[int | None, ...], name: str) -> None:
    """Raise ``ValueError`` unless ``array`` has ``shape`` (``None`` matches any size).

    Args:
        array: The array to check.
        shape: Expected shape; ``None`` entries match any extent.
        name: What the array is, for the message.

    """
    actual = tuple(np.shape(array))
    ok = len(actual) == len(shape) and all(
        e is None or e == a for e, a in zip(shape, actual, strict=True)
    )
    if not ok:
        expected = "[" + ", ".join("N" if e is None else str(e) for e in shape) + "]"
        raise ValueError(f"{name}: expected shape {expected}, got {list(actual)}")


def _shown(value: object) -> str:
    """``value`` for a one-line message: arrays by their shape, anything else its short repr."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {list(value.shape)}"
    if isinstance(value, tuple | list) and any(isinstance(v, np.ndarray) for v in value):
        items = ", ".join(_shown(v) for v in value)
        return f"({items})" if isinstance(value, tuple) else f"[{items}]"
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _is_real(value: object) -> bool:
    """Whether ``value`` is one real number (NumPy's too; a boolean is none)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


Bounds = tuple[float, float] | tuple[np.ndarray, np.ndarray]
"""``(low, high)``: two floats (one box for every gene) or two read-only ``[D]`` arrays."""


def checked_bounds(
    bounds: object, owner: str, shape: tuple[int, ...] | None = None
) -> Bounds | None:
    """``bounds`` as ``(low, high)``: floats, or per-gene ``[D]`` arrays; else ``ValueError``.

    Args:
        bounds: ``None``, or a pair ``(low, high)`` (a tuple, a list or an array of
            two): two finite real numbers with ``low < high``, the same box for every
            gene; or per gene, where either side is an array of the genome's shape
            (or flat, ``[D]``) and the other one too or a number, ``low < high`` in
            every gene.
        owner: Who declared them, for the message (``"MyProblem"``).
        shape: The genome's shape, which per-gene bounds must have (``None``: only
            numbers are accepted).

    Returns:
        ``None``; ``(low, high)`` as Python floats; or, per gene, two read-only
        float64 arrays ``[D]`` (C order of ``shape``).

    Raises:
        ValueError: Anything else (three numbers, arrays of another shape, NaN or
            infinite values, ``low >= high``); the message says what to write.

    """
    if bounds is None:
        return None
    pair = bounds if isinstance(bounds, tuple | list | np.ndarray) else None
    if pair is not None and len(pair) == 2 and any(_is_array(v) for v in pair):
        return _per_gene_bounds(pair, owner, shape)
    if pair is None or len(pair) != 2 or not all(_is_real(v) for v in pair):
        raise ValueError(
            f"{owner}.bounds must be None or (low, high): two finite numbers with low < high "
            "(one box for every gene), or arrays of the genome's shape for bounds per gene; "
            f"got {_shown(bounds)}; write e.g. bounds = (-1.0, 1.0)"
        )
    low, high = float(pair[0]), float(pair[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            f"{owner}.bounds {(low, high)}: low and high must be finite numbers; write e.g. "
            "bounds = (-5.0, 5.0), or bounds = None for none"
        )
    if not low < high:
        fix = f"({high}, {low}), low first" if low > high else f"({low}, {low + 1.0}), a width"
        raise ValueError(
            f"{owner}.bounds {(low, high)}: low must be less than high; write e.g. bounds = {fix}"
        )
    return low, high


def _is_array(value: object) -> bool:
    """An array or a list/tuple of values (a side of per-gene bounds), not one number."""
    return isinstance(value, np.ndarray | list | tuple) and np.ndim(value) > 0


def _per_gene_bounds(
    pair: Sequence[object], owner: str, shape: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of per-gene bounds as read-only ``[D]`` float64 arrays (``checked_bounds``)."""
    if shape is None:
        raise ValueError(f"{owner}.bounds per gene need the genome's shape to be checked against")
    dim = math.prod(shape)
    sides = []
    for name, side in zip(("low", "high"), pair, strict=True):
        if _is_real(side):
            sides.append(np.full(dim, float(side)))
            continue
        try:
            array = np.asarray(side, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{owner}.bounds {name} must be a number or an array of numbers, got {_shown(side)}"
            ) from None
        if array.shape not in (tuple(shape), (dim,)):
            flat = f" (or [{dim}])" if len(shape) > 1 else ""
            raise ValueError(
                f"{owner}.bounds {name} has shape {list(array.shape)}; per-gene bounds take "
                f"the genome's shape {list(shape)}{flat}, or one number"
            )
        sides.append(array.reshape(dim).copy())
    low, high = sides
    bad = np.flatnonzero(~(np.isfinite(low) & np.isfinite(high)))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{owner}.bounds of gene {i}: ({low[i]}, {high[i]}); low and high must be finite "
            f"in every gene ({len(bad)} gene(s) are not)"
        )
    bad = np.flatnonzero(~(low < high))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{owner}.bounds of gene {i}: ({low[i]}, {high[i]}); low must be less than high "
            f"in every gene ({len(bad)} gene(s) are not)"
        )
    for side in sides:
        side.flags.writeable = False
    return low, high


def bounds_text(bounds: Bounds | None) -> str:
    """Bounds for a message: ``(0.6, 1.0)``, or per gene ``low -2 to 0.6, high ... (8 genes)``."""
    if bounds is None:
        return "none"
    low, high = bounds
    if isinstance(low, float):
        return f"({low}, {high})"
    return (
        f"per gene: low {low.min():.4g} to {low.max():.4g}, high {high.min():.4g} to "
        f"{high.max():.4g} ({len(low)} genes)"
    )


def checked_genome_shape(shape: object, owner: str) -> tuple[int, ...]:
    """``shape`` as a tuple of Python ints, or ``ValueError`` unless it holds positive ints.

    Args:
        shape: A problem's ``genome_shape``: a tuple (or list) of positive ints,
            NumPy's included.
        owner: The problem class, for the message.

    Returns:
        The shape, e.g. ``(50, 100)``.

    Raises:
        ValueError: ``shape`` is no sequence of positive ints (``(4.5,)``, ``("8",)``, ``(0,)``).

    """
    items = shape if isinstance(shape, tuple | list) else ()
    ints = all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool | np.bool_) for n in items
    )
    if not items or not ints or min(items) < 1:
        hint = (
            " (a constructor parameter without a type hint reaches the problem as given: "
            "--set dim=4.5 stays 4.5)"
        )
        raise ValueError(
            f"{owner}.genome_shape must be a tuple of positive ints, e.g. (8,) or (50, 100); "
            f"got {_shown(shape)}{'' if ints else hint}"
        )
    return tuple(int(n) for n in items)


def checked_worst_fitness(worst: object, owner: str) -> float | None:
    """``worst`` as a float, or ``ValueError`` unless it is ``None`` or a finite real number.

    Args:
        worst: A problem's ``worst_fitness``.
        owner: The problem class, for the message.

    Returns:
        ``None`` or the worst fitness as a Python float.

    """
    if worst is None:
        return None
    if not _is_real(worst) or not math.isfinite(float(worst)):
        raise ValueError(
            f"{owner}.worst_fitness must be None or a finite number, the worst fitness a "
            f"solution can score (it replaces NaN fitness); got {_shown(worst)}"
        )
    return float(worst)


FACE_STUDY = "face-similarity study (seeds digest §1)"
SET_DIVERSITY_STUDY = "set-diversity study (seeds digest §2)"


@dataclass(frozen=True)
class GaussianPrior:
    """An isotropic normal prior N(mean, std²) over every gene."""

    mean: float = 0.0
    std: float = 1.0

    def sample(self, rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
        """Draw ``n`` genomes.

        Args:
            rng: The caller's generator (never a global one).
            n: Number of genomes.
            dim: Genes per genome.

        Returns:
            Array of shape ``[n, dim]``, float64.

        """
        return rng.normal(self.mean, self.std, size=(n, dim))


@dataclass(frozen=True)
class MeasureSpace:
    """Behaviour descriptors of a problem, for quality-diversity archives.

    Attributes:
        names: One name per measure, e.g. ``("mean similarity", "max similarity")``.
        ranges: ``(low, high)`` per measure; values outside are clipped (``clip``) by
            the suite's archives.
        bins: Default number of archive cells per measure.

    """

    names: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    bins: tuple[int, ...]

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.ranges) == len(self.bins)):
            raise ValueError("MeasureSpace: names, ranges and bins must have one entry per measure")

    @property
    def dim(self) -> int:
        """Number of measures."""
        return len(self.names)

    def clip(self, measures: np.ndarray) -> np.ndarray:
        """``measures [n, M]`` clipped into ``ranges``: an archive's edge cells take the rest.

        Archives clip cell indices too, but only after turning a measure into an
        integer: one far outside (3e8 on [0, 1]) overflowed into the cell at the
        other edge.
        """
        low, high = np.asarray(self.ranges, dtype=np.float64).T
        return np.clip(measures, low, high)


@dataclass(frozen=True, eq=False)  # per-gene bounds are arrays: compared by identity
class SearchSpace:
    """What an algorithm may know about a problem: sizes, prior, bounds and measures.

    Algorithms always *minimise*; the runner hands them ``loss = fitness`` for a
    ``min`` problem and ``loss = -fitness`` for a ``max`` problem.

    Attributes:
        dim: Genes per flat genome.
        genome_shape: Shape of one genome before flattening.
        prior: Distribution of initial genomes.
        bounds: ``None``, or ``(low, high)``: two finite floats, ``low < high``, one
            box for every gene, or two ``[D]`` arrays, one box per gene (checked, and
            made floats or read-only arrays, on construction; ``checked_bounds``).
        measure_space: Behaviour descriptors, or ``None``.

    """

    dim: int
    genome_shape: tuple[int, ...]
    prior: GaussianPrior
    bounds: Bounds | None = None
    measure_space: MeasureSpace | None = None

    def __post_init__(self) -> None:
        """Refuse bounds that make no box (``checked_bounds``); keep them as floats or arrays."""
        bounds = checked_bounds(self.bounds, type(self).__name__, self.genome_shape)
        object.__setattr__(self, "bounds", bounds)


class Problem(abc.ABC):
    """Base class of every problem.

    Subclasses set ``genome_shape`` and ``sense`` and implement ``evaluate``.

    Attributes:
        genome_shape: Shape of one genome before flattening, e.g. ``(512,)`` for a
            face latent or ``(50, 100)`` for a set of 50 DCGAN latents.
        sense: ``"min"`` or ``"max"``.
        prior: Distribution that initial genomes are drawn from.
        bounds: ``None`` (unbounded, the GAN case) or ``(low, high)``: two finite
            numbers with ``low < high`` that bound every gene alike, or per gene, arrays
            of the genome's shape (either side may stay one number). Algorithms'
            genomes are clipped into them.
        measure_space: Behaviour descriptors, or ``None``.
        worst_fitness: Finite fitness that replaces NaN or infinite values: the
            worst a solution can score (e.g. 2.0 for a distance between unit
            vectors), so *no greater than* every fitness for a ``max`` problem and
            *no less* for a ``min`` one. ``None`` means the largest float64 of the
            wrong sign. One on the wrong side would make invalid genomes look best:
            ``check_problem`` refuses it, and a run fails at the first fitness worse
            than it (see ``loss``).

    ``genome_shape``, ``bounds`` and ``worst_fitness`` are checked where the search
    space is made (``search_space``, before a run starts): anything else is a
    one-line ``ValueError`` naming the class.
        default_budget: Evaluations a single ``bench run`` uses when none is given.
        study: The source study the problem comes from (``FACE_STUDY``,
            ``SET_DIVERSITY_STUDY``), or ``None``; a ``paper`` preset of another
            study's algorithm earns a note.

    """

    genome_shape: tuple[int, ...]
    sense: Sense = "min"
    prior: GaussianPrior = GaussianPrior()
    bounds: tuple[float, float] | tuple[np.ndarray, np.ndarray] | None = None
    measure_space: MeasureSpace | None = None
    worst_fitness: float | None = None
    default_budget: int = 10_000
    study: str | None = None

    @property
    def dim(self) -> int:
        """Genes per flat genome, ``prod(genome_shape)``.

        Raises:
            ValueError: ``genome_shape`` is no tuple of positive ints.

        """
        return math.prod(checked_genome_shape(self.genome_shape, type(self).__name__))

    @property
    def search_space(self) -> SearchSpace:
        """The view of this problem that algorithms receive.

        Raises:
            ValueError: ``genome_shape``, ``bounds`` or ``worst_fitness`` is not of
                the documented kind; the message names the class and what to write.

        """
        name = type(self).__name__
        shape = checked_genome_shape(self.genome_shape, name)
        checked_worst_fitness(self.worst_fitness, name)
        return SearchSpace(
            dim=math.prod(shape),
            genome_shape=shape,
            prior=self.prior,
            bounds=checked_bounds(self.bounds, name, shape),
            measure_space=self.measure_space,
        )

    @abc.abstractmethod
    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """Score a batch of genomes.

        Args:
            genomes: Array ``[N, D]`` with ``D = dim``.

        Returns:
            Fitness ``[N]`` (float64); may contain NaN, which the runner records.

        """

    def evaluate_with_measures(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score a batch and describe its behaviour, in one pass where possible.

        Problems with a ``measure_space`` override this (or ``measures``).

        Args:
            genomes: Array ``[N, D]``.

        Returns:
            ``(fitness [N], measures [N, M])``.

        """
        return self.evaluate(genomes), self.measures(genomes)

    def measures(self, genomes: np.ndarray) -> np.ndarray:
        """Behaviour descriptors ``[N, M]`` of a batch ``[N, D]``."""
        raise NotImplementedError(f"{type(self).__name__} has no measures")

    def render(self, genomes: np.ndarray) -> list[np.ndarray] | None:
        """Images of solutions for galleries, or ``None`` if the problem has none.

        Args:
            genomes: Array ``[N, D]``.

        Returns:
            ``N`` uint8 images ``[H, W, C]`` (C is 1 or 3), or ``None``.

        """
        return None

    def report(self, genomes: np.ndarray) -> dict:
        """Problem-specific figures about a run's best solution, for its record.

        The runner calls this once after a finished run with the best genome
        (``N = 1``) and stores the result as ``record["report"]``; scalar values
        also appear as ``report_<key>`` columns of the results table. An error
        here is kept as ``record["report_error"]`` and never fails the run.

        Args:
            genomes: Array ``[N, D]``.

        Returns:
            A JSON-serialisable dict (numbers, strings, booleans, ``None``,
            lists); ``{}`` when the problem has nothing to add.

        """
        return {}

    def weight_files(self) -> Sequence[Path]:
        """Files whose sha256 goes into every record's provenance."""
        return ()

    def fed_genomes(self, genomes: np.ndarray) -> np.ndarray:
        """The genomes as the problem feeds them to its model: ``genomes`` themselves here.

        A problem that maps genomes before use (set diversity's ``sphere``, which
        scales every latent to the length of a prior draw) returns the mapped ones,
        so that where a run's best genome lies against the prior
        (``bench.prior_distance``) is measured on what the generator saw.

        Args:
            genomes: Array ``[N, D]``.

        Returns:
            Array ``[N, D]``.

        """
        return genomes

    def describe(self) -> dict:
        """Parameters that identify this problem instance, for records."""
        return {}

    def loss(self, fitness: np.ndarray) -> np.ndarray:
        """Convert fitness ``[N]`` to a minimisation loss ``[N]``.

        Where the problem declares a ``worst_fitness``, an array ``fitness`` is
        also checked against it: the evaluator stands the worst in for NaN and
        hands every batch through here, so a fitness worse than the worst (beyond
        a rounding error) shows a ``worst_fitness`` on the wrong side of the sense.

        Raises:
            ValueError: A fitness is worse than ``worst_fitness``.

        """
        loss = fitness if self.sense == "min" else -fitness
        if self.worst_fitness is not None and isinstance(fitness, np.ndarray):
            self.check_worst(fitness)
        return loss

    def check_worst(self, fitness: np.ndarray) -> None:
        """Raise ``ValueError`` where a fitness is worse than the declared ``worst_fitness``.

        A rounding error past it (a relative ``1e-4``) is no contradiction: float32
        networks round past a bound they meet. NaN or infinite fitness is never worse:
        it is an invalid evaluation, which the worst fitness stands in for.

        Args:
            fitness: Array ``[N]``.

        """
        if self.worst_fitness is None:
            return
        worst = self.worst
        sign = 1.0 if self.sense == "min" else -1.0
        slack = 1e-4 * max(1.0, abs(worst))
        values = np.asarray(fitness, dtype=np.float64)
        over = np.isfinite(values) & (sign * values > sign * worst + slack)
        if over.any():
            value = float(values.flat[int(np.argmax(over))])
            raise ValueError(
                f"{type(self).__name__}.worst_fitness {worst:g} is better than a fitness "
                f"evaluate() returned ({value:g}) for sense '{self.sense}': it stands in for "
                "NaN fitness, so it must be the worst a solution can score "
                f"({'at least' if self.sense == 'min' else 'at most'} every fitness), or None"
            )

    def is_better(self, a: float, b: float) -> bool:
        """Whether fitness ``a`` is strictly better than ``b`` for this sense."""
        return a < b if self.sense == "min" else a > b

    @property
    def worst(self) -> float:
        """The finite fitness that stands in for a non-finite one.

        Raises:
            ValueError: ``worst_fitness`` is neither ``None`` nor a finite number.

        """
        worst = checked_worst_fitness(self.worst_fitness, type(self).__name__)
        if worst is not None:
            return worst
        big = float(np.finfo(np.float64).max)
        return big if self.sense == "min" else -big

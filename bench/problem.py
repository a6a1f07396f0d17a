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


@dataclass(frozen=True)
class SearchSpace:
    """What an algorithm may know about a problem: sizes, prior, bounds and measures.

    Algorithms always *minimise*; the runner hands them ``loss = fitness`` for a
    ``min`` problem and ``loss = -fitness`` for a ``max`` problem.
    """

    dim: int
    genome_shape: tuple[int, ...]
    prior: GaussianPrior
    bounds: tuple[float, float] | None = None
    measure_space: MeasureSpace | None = None


class Problem(abc.ABC):
    """Base class of every problem.

    Subclasses set ``genome_shape`` and ``sense`` and implement ``evaluate``.

    Attributes:
        genome_shape: Shape of one genome before flattening, e.g. ``(512,)`` for a
            face latent or ``(50, 100)`` for a set of 50 DCGAN latents.
        sense: ``"min"`` or ``"max"``.
        prior: Distribution that initial genomes are drawn from.
        bounds: ``None`` (unbounded, the GAN case) or ``(low, high)`` per gene.
        measure_space: Behaviour descriptors, or ``None``.
        worst_fitness: Finite fitness that replaces NaN or infinite values: the
            worst a solution can score (e.g. 2.0 for a distance between unit
            vectors). ``None`` means the largest float64 of the wrong sign.
        default_budget: Evaluations a single ``bench run`` uses when none is given.
        study: The source study the problem comes from (``FACE_STUDY``,
            ``SET_DIVERSITY_STUDY``), or ``None``; a ``paper`` preset of another
            study's algorithm earns a note.

    """

    genome_shape: tuple[int, ...]
    sense: Sense = "min"
    prior: GaussianPrior = GaussianPrior()
    bounds: tuple[float, float] | None = None
    measure_space: MeasureSpace | None = None
    worst_fitness: float | None = None
    default_budget: int = 10_000
    study: str | None = None

    @property
    def dim(self) -> int:
        """Genes per flat genome, ``prod(genome_shape)``."""
        return int(np.prod(self.genome_shape))

    @property
    def search_space(self) -> SearchSpace:
        """The view of this problem that algorithms receive."""
        return SearchSpace(
            dim=self.dim,
            genome_shape=tuple(self.genome_shape),
            prior=self.prior,
            bounds=self.bounds,
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

    def describe(self) -> dict:
        """Parameters that identify this problem instance, for records."""
        return {}

    def loss(self, fitness: np.ndarray) -> np.ndarray:
        """Convert fitness ``[N]`` to a minimisation loss ``[N]``."""
        return fitness if self.sense == "min" else -fitness

    def is_better(self, a: float, b: float) -> bool:
        """Whether fitness ``a`` is strictly better than ``b`` for this sense."""
        return a < b if self.sense == "min" else a > b

    @property
    def worst(self) -> float:
        """The finite fitness that stands in for a non-finite one."""
        if self.worst_fitness is not None:
            return float(self.worst_fitness)
        big = float(np.finfo(np.float64).max)
        return big if self.sense == "min" else -big

"""The algorithm contract: seeded ask/tell with an order guard.

An algorithm proposes genomes with ``ask()`` and learns their losses with
``tell()``. It always *minimises* a loss (the runner negates fitness for
maximisation problems), declares the most genomes one ``ask()`` returns
(``batch_size``), draws every random number from the ``SeedSequence`` it was
given, and never counts evaluations: the runner's evaluator does, and ends the
run when the budget is spent, possibly in the middle of a batch. Where the
problem declares ``bounds``, ``ask()`` clips every genome into them, so the
problem sees only genomes in its box whatever the algorithm proposes (an
algorithm that handles bounds itself, like pymoo's, never gets clipped).

Subclasses implement ``_ask`` and ``_tell``; the public methods check the call
order, the shapes and the values: ``ask()`` takes from ``_ask`` only a real
(float or integer) array ``[n, D]`` of finite genes, ``1 <= n <= batch_size``,
with ``batch_size`` a positive int. Anything else (strings, complex numbers,
NaN or infinite genes, a float ``batch_size`` such as ``10.0``) is a bug of the
algorithm and raises a one-line error naming it; the runner records the run as
failed with that message.
"""

from __future__ import annotations

import abc
import inspect
import numbers
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from bench.problem import SearchSpace, bounds_text, check_batch_shape, exception_line


class OrderError(RuntimeError):
    """``tell()`` was called without a pending ``ask()``, or ``ask()`` twice."""


def checked_batch_size(algo: Algorithm) -> int:
    """``algo.batch_size`` as an ``int``, or ``TypeError`` unless it is a positive int.

    A float, even an integral one like ``10.0``, is refused: a batch size is a
    count, and the runner, its records and ``bench.testing`` must all see one
    value of one type.

    Args:
        algo: The algorithm.

    Returns:
        Its declared batch size.

    Raises:
        TypeError: ``batch_size`` is not a positive int (NumPy integers count as ints).

    """
    size = algo.batch_size
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise TypeError(
            f"{type(algo).__name__}.batch_size must be a positive int, "
            f"got {size!r} ({type(size).__name__})"
        )
    return int(size)


def _describe(value: object) -> str:
    """What ``value`` is, in a few words, for messages (``"None"``, ``"a str"``, ...)."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        kind = {"U": "strings", "S": "bytes", "c": "complex numbers", "b": "booleans"}
        what = kind.get(value.dtype.kind, f"{value.dtype} values")
        return f"an array of {what} of shape {list(value.shape)}"
    return f"a {type(value).__name__}"


class Algorithm(abc.ABC):
    """Base class of every search algorithm.

    Class attributes:
        presets: Named parameter sets, e.g. ``{"paper": {...}, "quick": {...}}``.
            A preset may carry ``"budget"``, the evaluations its source used.
        paper_study: The study whose settings the ``paper`` preset holds
            (``bench.problem.FACE_STUDY`` or ``SET_DIVERSITY_STUDY``), or ``None``.
        learns: Whether later batches depend on what ``tell()`` reported; a run
            whose budget is one batch of such an algorithm gets a note (it never
            acted on an evaluation).

    Args:
        space: What the algorithm may know of the problem.
        seed: The run's seed sequence for this algorithm (or an int).

    """

    presets: ClassVar[dict[str, dict]] = {}
    paper_study: ClassVar[str | None] = None  # whose settings "paper" holds (bench.problem)
    learns: ClassVar[bool] = True  # False: its batches ignore what tell() said (random sampling)

    def __init__(self, space: SearchSpace, seed: np.random.SeedSequence | int) -> None:
        self.space = space
        self.seed = (
            seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        )
        self.rng = np.random.default_rng(self.seed)
        self._pending: np.ndarray | None = None
        self.told_valid: np.ndarray | None = None  # [n] of the last tell(), None if not given

    @property
    @abc.abstractmethod
    def batch_size(self) -> int:
        """The most genomes a single ``ask()`` returns."""

    def warm_up(self) -> None:
        """One-off work of the first run in a process (JIT compiling), before the clock starts.

        The runner calls it after construction and outside the timed search, so
        that a run's algorithm time is its own and not the process's start-up.
        The default does nothing.
        """
        return None

    def default_options(self, given: Iterable[str] = ()) -> dict[str, Any]:
        """The options this instance runs with that the run did not set, for its record.

        Args:
            given: Names the run set (its preset's and ``--set``'s).

        Returns:
            Each keyword of the constructor (beyond ``space`` and ``seed``) with a
            default, and not in ``given``, with that default. Adapters add the
            defaults of the library they wrap.

        """
        given = set(given)
        return {
            name: p.default
            for name, p in inspect.signature(type(self)).parameters.items()
            if name not in ("space", "seed", *given)
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.default is not p.empty
        }

    def ask(self) -> np.ndarray:
        """Propose genomes to evaluate.

        Returns:
            Float array ``[n, D]`` with ``1 <= n <= batch_size``, every gene
            finite, inside the space's ``bounds`` where it has them (clipped;
            ``_tell`` gets these genomes). Genes are checked as ``_ask`` gave them
            and again after clipping.

        Raises:
            OrderError: The last ``ask()`` has had no ``tell()``.
            TypeError: ``_ask`` returned no real number array, or ``batch_size``
                is no positive int.
            ValueError: ``_ask`` returned the wrong shape, more genomes than
                ``batch_size``, or NaN or infinite genes.

        """
        name = type(self).__name__
        if self._pending is not None:
            raise OrderError(f"{name}: ask() called twice without tell()")
        batch = checked_batch_size(self)
        genomes = self._as_genomes(self._ask())
        check_batch_shape(genomes, (None, self.space.dim), f"{name}.ask()")
        if not 1 <= len(genomes) <= batch:
            raise ValueError(
                f"{name}.ask() returned {len(genomes)} genomes; declared batch_size is {batch}"
            )
        self._check_finite(genomes)
        if self.space.bounds is not None:
            genomes = np.clip(genomes, *self.space.bounds)  # a copy: the algorithm keeps its own
            self._check_finite(genomes, clipped=True)
        self._pending = genomes
        return genomes

    def _check_finite(self, genomes: np.ndarray, clipped: bool = False) -> None:
        """``ValueError`` unless every gene of ``genomes [n, D]`` is finite.

        Args:
            genomes: The batch.
            clipped: Looked at after clipping into the bounds, not as ``_ask`` gave it
                (the message, made only on failure, says so).

        """
        bad = int((~np.isfinite(genomes).all(axis=1)).sum())
        if bad:
            where = ""
            if clipped:
                where = f" after clipping into the bounds {bounds_text(self.space.bounds)}"
            raise ValueError(
                f"{type(self).__name__}.ask() returned {bad} of {len(genomes)} genomes with "
                f"NaN or infinite genes{where}; an algorithm must propose finite genomes"
            )

    def _as_genomes(self, raw: object) -> np.ndarray:
        """``raw`` from ``_ask`` as float64, or ``TypeError`` unless it holds real numbers.

        Args:
            raw: What ``_ask`` returned, meant to be an array ``[n, D]``.

        Returns:
            The same values as a float64 array (a shape not yet checked).

        """
        name, dim = type(self).__name__, self.space.dim
        array: np.ndarray | None = None
        try:
            array = np.asarray(raw)
            if array.dtype.kind == "O":  # Python objects: numbers are fine, complex ones not
                array = np.asarray(array.tolist(), dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:  # ragged lists, complex objects
            got = f"{_describe(raw)} that is no array of numbers ({exception_line(exc)})"
            array = None
        else:
            got = _describe(raw if raw is None else array)
        if raw is None or array is None or array.dtype.kind not in "fiu":
            raise TypeError(
                f"{name}.ask(): _ask() must return a real float array [N, {dim}] "
                f"(N genomes of {dim} genes), got {got}"
            )
        return array.astype(np.float64, copy=False)

    def tell(
        self,
        loss: np.ndarray,
        measures: np.ndarray | None = None,
        valid: np.ndarray | None = None,
    ) -> None:
        """Report the losses of the genomes from the last ``ask()``.

        Args:
            loss: Array ``[n]``, finite, lower is better.
            measures: Array ``[n, M]`` of behaviour descriptors, or ``None``.
            valid: Array ``[n]`` of booleans, ``False`` where the evaluation was
                invalid and the evaluator stood the problem's worst fitness in
                (``bench.evaluator``), or ``None`` when the caller does not say.
                ``_tell`` finds it in ``self.told_valid``; most algorithms need
                not look, since the stand-in loss is finite and never the best.

        """
        if self._pending is None:
            raise OrderError(f"{type(self).__name__}: tell() called without ask()")
        n = len(self._pending)
        loss = np.asarray(loss, dtype=np.float64)
        check_batch_shape(loss, (n,), f"{type(self).__name__}.tell() loss")
        if measures is not None:
            measures = np.asarray(measures, dtype=np.float64)
            check_batch_shape(measures, (n, None), f"{type(self).__name__}.tell() measures")
        if valid is not None:
            valid = np.asarray(valid, dtype=bool)
            check_batch_shape(valid, (n,), f"{type(self).__name__}.tell() valid")
        self.told_valid = valid
        genomes, self._pending = self._pending, None
        self._tell(genomes, loss, measures)

    @abc.abstractmethod
    def _ask(self) -> np.ndarray:
        """Return genomes ``[n, D]``."""

    @abc.abstractmethod
    def _tell(self, genomes: np.ndarray, loss: np.ndarray, measures: np.ndarray | None) -> None:
        """Learn from ``genomes [n, D]`` and their ``loss [n]``."""

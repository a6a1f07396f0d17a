"""Contract checks for plugin authors (and for the suite's own registries).

Call these from your own tests::

    from bench.testing import check_algorithm
    from my_package import MyAlgorithm

    def test_contract():
        check_algorithm(MyAlgorithm, params={"population": 20})

Each check raises ``AssertionError``, and only that, with a message that says
which promise of the contract was broken: an error the checked code raises on
its own (a ``TypeError`` from a ``_tell`` of the wrong signature, a
``ValueError`` from fitness of the wrong shape, an ``AttributeError`` from a
problem without ``genome_shape``) becomes an ``AssertionError`` that names the
promise and gives the error's type and first line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.algorithm import Algorithm, OrderError, checked_batch_size
from bench.evaluator import BudgetEvaluator, as_batch
from bench.generator import Generator
from bench.images import check_images
from bench.problem import MeasureSpace, Problem, bounds_text, check_batch_shape, exception_line
from bench.runner import search


class ProbeSphere(Problem):
    """Sphere with an optimum at 0.5 in every gene; optionally NaN for every k-th row.

    Args:
        dim: Genes per genome.
        nan_every: Return NaN for rows ``0, k, 2k, ...`` of each batch (0: never).

    """

    sense = "min"

    def __init__(self, dim: int = 8, nan_every: int = 0):
        self.genome_shape = (dim,)
        self.nan_every = nan_every

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """Squared distance to 0.5 in every gene, ``[N, D]`` → ``[N]``."""
        fitness = np.sum((genomes - 0.5) ** 2, axis=1)
        if self.nan_every:
            fitness[:: self.nan_every] = np.nan
        return fitness


class ProbeBox(ProbeSphere):
    """``ProbeSphere`` in the box ``[0.6, 1]`` per gene, narrower than the prior.

    It counts the genomes it was given outside the box or with a NaN gene
    (``outside``): NaN compares false with both ends, yet is in no box.

    Args:
        dim: Genes per genome.
        per_gene: A box of its own for every gene instead: lows from -3 to 0.6,
            widths from 0.2 to 3 prior stds, and gene 0 in ``[5, 6]``, outside
            the prior's likely values altogether.

    """

    bounds = (0.6, 1.0)

    def __init__(self, dim: int = 8, per_gene: bool = False):
        super().__init__(dim)
        self.outside = 0
        if per_gene:
            low = np.linspace(-3.0, 0.6, dim)
            high = low + np.linspace(0.2, 3.0, dim)
            low[0], high[0] = 5.0, 6.0
            self.bounds = (low, high)

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """As ``ProbeSphere``, counting rows with a gene outside ``bounds`` (or NaN)."""
        low, high = self.bounds
        inside = (genomes >= low) & (genomes <= high)
        self.outside += int((~inside.all(axis=1)).sum())
        return super().evaluate(genomes)


class ProbeMeasures(ProbeSphere):
    """``ProbeSphere`` with measures (the first and last gene); optionally NaN for every k-th row.

    The fitness is always finite: a NaN measure makes the row invalid on its own
    (``nan_rows`` counts them).

    Args:
        dim: Genes per genome.
        nan_every: Make the last measure NaN for rows ``0, k, 2k, ...`` of each batch (0: never).

    """

    measure_space = MeasureSpace(
        names=("first gene", "last gene"), ranges=((-3.0, 3.0), (-3.0, 3.0)), bins=(10, 10)
    )

    def __init__(self, dim: int = 8, nan_every: int = 0):
        super().__init__(dim)
        self.nan_measures_every = nan_every
        self.nan_rows = 0  # rows given a NaN measure so far

    def measures(self, genomes: np.ndarray) -> np.ndarray:
        """The first and the last gene, ``[N, D]`` → ``[N, 2]``."""
        measures = genomes[:, [0, -1]].astype(np.float64)
        if self.nan_measures_every:
            measures[:: self.nan_measures_every, 1] = np.nan
            self.nan_rows += len(measures[:: self.nan_measures_every])
        return measures


def run_once(
    algo_cls: type[Algorithm],
    problem: Problem,
    budget: int,
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> BudgetEvaluator:
    """Run ``algo_cls`` on ``problem`` for ``budget`` evaluations; return the evaluator."""
    algo = algo_cls(problem.search_space, np.random.SeedSequence(seed), **(params or {}))
    evaluator = BudgetEvaluator(
        problem,
        budget,
        with_measures=getattr(algo, "uses_measures", False) and problem.measure_space is not None,
    )
    search(algo, evaluator)
    return evaluator


@contextlib.contextmanager
def _requires(promise: str | None = None) -> Iterator[None]:
    """Turn any error but ``AssertionError`` inside into an ``AssertionError``.

    Args:
        promise: What the contract requires of the step, put before the error's
            own line; ``None`` when that line says it already.

    """
    try:
        yield
    except AssertionError:
        raise
    except Exception as exc:  # TypeError, ValueError, AttributeError, ...: one clear failure
        line = exception_line(exc)
        raise AssertionError(f"{promise}: {line}" if promise else line) from exc


def check_algorithm(
    algo_cls: type[Algorithm],
    params: dict[str, Any] | None = None,
    dim: int = 8,
    problem: Problem | None = None,
) -> None:
    """Check the algorithm contract on a cheap problem.

    Checks: a positive int ``batch_size``, ``ask()`` returns a real array
    ``[N, D]`` of finite genes, the ask/tell order guard, ``_tell(genomes, loss,
    measures)`` accepts what ``tell()`` hands it, exact budgets (a multiple of
    the batch size and not), same seed → same result bit for bit, different
    seeds → different results, NaN fitness survived, NaN measures next to a
    finite fitness survived and counted as invalid evaluations, no genome
    outside a problem's bounds evaluated, no global RNG touched.

    Args:
        algo_cls: The algorithm class (``cls(space, seed, **params)``).
        params: Keyword arguments for it.
        dim: Genome size of the probe problem.
        problem: Problem to use instead of the probe sphere.

    Raises:
        AssertionError: A promise was broken; any other error of the algorithm
            becomes one, its message naming the promise and the error.

    """
    assert isinstance(dim, int) and dim >= 1, f"dim must be an int of at least 1, got {dim!r}"
    assert problem is None or not isinstance(problem, type), (
        f"problem= takes a problem instance, not the class {problem.__name__}"
    )
    problem = problem or ProbeSphere(dim)
    params = params or {}
    name = getattr(algo_cls, "__name__", repr(algo_cls))
    with _requires(f"{name}(space, seed, **params) must build the algorithm"):
        algo = algo_cls(problem.search_space, np.random.SeedSequence(0), **params)
    with _requires():
        batch = checked_batch_size(algo)

    with _requires("tell() before ask() must raise OrderError"):
        try:
            algo.tell(np.zeros(1))
        except OrderError:
            pass
        else:
            raise AssertionError("tell() before ask() must raise OrderError")
    with _requires(f"ask() must return a real float array [N, {problem.dim}], 1 <= N <= {batch}"):
        genomes = algo.ask()
        check_batch_shape(genomes, (None, problem.dim), f"{name}.ask()")
    assert 1 <= len(genomes) <= batch, f"ask() returned {len(genomes)} genomes, batch is {batch}"
    bad = int((~np.isfinite(genomes).all(axis=1)).sum())
    assert not bad, f"ask() returned {bad} of {len(genomes)} genomes with NaN or infinite genes"
    with _requires("ask() twice without tell() must raise OrderError"):
        try:
            algo.ask()
        except OrderError:
            pass
        else:
            raise AssertionError("ask() twice without tell() must raise OrderError")
    with _requires(f"{type(problem).__name__}.evaluate() of the genomes ask() returned"):
        loss = problem.loss(problem.evaluate(genomes))
    with _requires(
        "tell(loss [n]) must hand _tell(genomes [n, D], loss [n], measures [n, M] or None) "
        "on to the algorithm"
    ):
        algo.tell(loss)

    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it is untouched
    for budget in (batch, 3 * batch, 3 * batch + 1, 5 * batch - 1):
        with _requires(f"a run of budget {budget} must complete"):
            used = run_once(algo_cls, problem, budget, 1, params).used
        assert used == budget, f"budget {budget}: {used} evaluations were spent"
    np_now = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(np_now, np_state), "the global NumPy RNG was used"

    budget = 4 * batch + 3
    with _requires(f"a run of budget {budget} must complete"):
        a = run_once(algo_cls, problem, budget, 7, params)
        b = run_once(algo_cls, problem, budget, 7, params)
    assert a.best_fitness == b.best_fitness and np.array_equal(a.best_genome, b.best_genome), (
        "same seed gave different results"
    )
    assert [r["best"] for r in a.curve] == [r["best"] for r in b.curve], "same seed, other curve"
    with _requires(f"a run of budget {budget} must complete"):
        c = run_once(algo_cls, problem, budget, 8, params)
    assert not np.array_equal(a.best_genome, c.best_genome), "different seeds gave one result"

    nan_problem = ProbeSphere(problem.dim, nan_every=3)
    with _requires("a run whose problem returns NaN fitness must complete"):
        ev = run_once(algo_cls, nan_problem, budget, 3, params)
    assert ev.used == budget and ev.nonfinite > 0, "NaN fitness must be counted, run completed"
    assert np.isfinite(ev.best_fitness), "NaN must never become the best fitness"

    for box in (ProbeBox(problem.dim), ProbeBox(problem.dim, per_gene=True)):
        shown = bounds_text(box.search_space.bounds)
        with _requires(f"a run on a problem with bounds {shown} must complete"):
            ev = run_once(algo_cls, box, budget, 3, params)
        assert ev.used == budget and box.outside == 0, (
            f"{box.outside} genomes outside the problem's bounds {shown} (or not finite) "
            "were evaluated"
        )

    measured = ProbeMeasures(problem.dim, nan_every=3)
    with _requires("a NaN measure next to a finite fitness must not end the run"):
        ev = run_once(algo_cls, measured, budget, 3, params)
    assert ev.used == budget, "a NaN measure next to a finite fitness must not end the run"
    assert ev.nonfinite == measured.nan_rows > 0, (
        f"{measured.nan_rows} evaluations had a NaN measure, {ev.nonfinite} were counted invalid"
    )


def check_problem(problem: Problem, n: int = 4, seed: int = 0) -> None:
    """Check the problem contract: declarations, fitness, measures and render.

    Fitness: its shape, determinism, independence of the batch. Declarations:
    ``genome_shape`` a tuple of positive ints, ``bounds`` ``None`` or one finite
    ``(low, high)`` box, ``worst_fitness`` ``None`` or a finite number
    (``Problem.search_space`` checks all three). The genomes tried are drawn from
    the prior and clipped into the bounds, as ``Algorithm.ask()`` clips; a declared
    ``worst_fitness`` must be no better (for the sense) than any of their finite
    fitness values (``Problem.check_worst``).

    Args:
        problem: The problem instance.
        n: Batch size to try.
        seed: Seed of the genomes tried.

    Raises:
        AssertionError: A promise was broken; any other error of the problem
            becomes one, its message naming the promise and the error.

    """
    assert not isinstance(problem, type), (
        f"check_problem takes a problem instance, not the class {problem.__name__}: "
        f"check_problem({problem.__name__}(...))"
    )
    name = type(problem).__name__
    sense = getattr(problem, "sense", None)
    assert sense in ("min", "max"), f"{name}.sense must be 'min' or 'max', got {sense!r}"
    with _requires(f"{name} must set genome_shape, a tuple of positive ints"):
        dim = problem.dim
    with _requires():  # the line names the attribute and what to write
        space = problem.search_space
    with _requires(f"{name}.prior.sample(rng, {n}, {dim}) must draw genomes [{n}, {dim}]"):
        genomes = problem.prior.sample(np.random.default_rng(seed), n, dim)
        check_batch_shape(genomes, (n, dim), f"{name}.prior.sample()")
    if space.bounds is not None:
        genomes = np.clip(genomes, *space.bounds)  # what an algorithm's ask() hands on

    def evaluate(batch: np.ndarray) -> np.ndarray:
        """Fitness ``[N]`` of ``batch [N, D]``, or ``ValueError`` saying what came instead."""
        return as_batch(problem.evaluate(batch), (len(batch),), f"{name}.evaluate() fitness")

    with _requires():
        fitness = evaluate(genomes)
        again = evaluate(genomes)
    assert np.array_equal(fitness, again, equal_nan=True), "evaluate() is not deterministic"
    with _requires():
        halves = np.concatenate([evaluate(genomes[: n // 2]), evaluate(genomes[n // 2 :])])
    assert np.allclose(fitness, halves, rtol=1e-4, atol=1e-5, equal_nan=True), (
        "fitness depends on the batch a genome is evaluated in"
    )
    with _requires():  # the line names worst_fitness and what it must be
        problem.check_worst(fitness)
    if problem.measure_space is not None:
        what = f"{name}.evaluate_with_measures()"
        with _requires(f"{what} must return (fitness [{n}], measures [{n}, M])"):
            fit2, measures = problem.evaluate_with_measures(genomes)
        with _requires():
            fit2 = as_batch(fit2, (n,), f"{what} fitness")
            as_batch(measures, (n, problem.measure_space.dim), f"{what} measures")
        assert np.allclose(fit2, fitness, rtol=1e-4, atol=1e-5, equal_nan=True), (
            "evaluate_with_measures() disagrees with evaluate()"
        )
    with _requires(f"{name}.render(genomes [2, D]) must return None or 2 images"):
        images = problem.render(genomes[:2])
    with _requires():  # the runner's own check of what render() returns, one wording
        check_images(images, 2, f"{name}.render()")


def check_generator(generator: Generator, n: int = 3) -> None:
    """Check the generator contract: attributes, output shape and range, determinism, chunking.

    A fixed latent must give fixed images (same ``z`` twice, same images), whatever
    the chunk size. A style-based generator (``num_ws`` set) must also have an int
    ``w_dim``, a ``mapping`` (z ``[N, z_dim]`` → ws ``[N, num_ws, w_dim]``) and a
    ``synthesis`` (ws → images ``[N, C, H, W]`` in [-1, 1] of the generator's
    channels and resolution) whose images for ``mapping(z)`` are ``generate(z)``'s.

    Args:
        generator: The generator (in eval mode).
        n: Number of latents to try.

    Raises:
        AssertionError: A promise was broken; any other error of the generator
            becomes one, its message naming the promise and the error.

    """
    import torch

    for attr in ("z_dim", "img_resolution", "img_channels"):
        assert isinstance(getattr(generator, attr, None), int), f"{attr} must be an int"
    z = np.random.default_rng(0).normal(size=(n, generator.z_dim))
    with _requires(f"generate(z [{n}, z_dim], chunk={n}) must return images [N, C, H, W]"):
        images = generator.generate(z, chunk=n)
    _check_images(images, generator, n, "images")
    with _requires(f"generate(z [{n}, z_dim], chunk={n}) must return images [N, C, H, W]"):
        again = generator.generate(z, chunk=n)
    assert torch.allclose(images, again, atol=1e-5), (
        "same z twice must give the same images: generate() draws something anew for a "
        "fixed latent (noise?); a latent must always give one image (e.g. constant noise)"
    )
    with _requires(f"generate(z [{n}, z_dim], chunk=1) must return images [N, C, H, W]"):
        chunked = generator.generate(z, chunk=1)
    assert torch.allclose(images, chunked, atol=1e-5), "chunking changes the images"
    if generator.num_ws is not None:
        _check_styles(generator, z, images)


def _check_images(images: Any, generator: Generator, n: int, what: str) -> None:
    """Assert that ``images`` are ``[n, C, res, res]`` in [-1, 1] for ``generator``'s C and res."""
    res, ch = generator.img_resolution, generator.img_channels
    shape = tuple(getattr(images, "shape", ()))
    assert shape == (n, ch, res, res), f"{what} have shape {shape}, expected {(n, ch, res, res)}"
    assert images.min() >= -1 and images.max() <= 1, f"{what} must lie in [-1, 1]"


def _check_styles(generator: Generator, z: np.ndarray, images: Any) -> None:
    """Assert the style half of the contract: ``w_dim``, ``mapping`` and ``synthesis``.

    Args:
        generator: A generator with ``num_ws`` set.
        z: Latents ``[n, z_dim]``.
        images: ``generator.generate(z)``, ``[n, C, H, W]``.

    """
    import torch

    n, num_ws, w_dim = len(z), generator.num_ws, generator.w_dim
    for attr, value in (("num_ws", num_ws), ("w_dim", w_dim)):
        assert isinstance(value, int) and not isinstance(value, bool) and value >= 1, (
            f"num_ws is set (a style-based generator), so {attr} must be an int of at least 1, "
            f"got {value!r}"
        )
    with torch.inference_mode():
        with _requires("mapping(z [N, z_dim]) must return ws [N, num_ws, w_dim]"):
            ws = generator.mapping(torch.as_tensor(z, dtype=torch.float32, device=generator.device))
            shape = tuple(ws.shape)
        assert shape == (n, num_ws, w_dim), (
            f"mapping() output {shape}, expected {(n, num_ws, w_dim)}"
        )
        with _requires("synthesis(ws [N, num_ws, w_dim]) must return images [N, C, H, W]"):
            out = generator.synthesis(ws)
        _check_images(out, generator, n, "synthesis() images")
        assert torch.allclose(out, images, atol=1e-4), (
            "synthesis(mapping(z)) differs from generate(z): a search in W or W+ would see "
            "other images than one in Z"
        )

"""Contract checks for plugin authors (and for the suite's own registries).

Call these from your own tests::

    from bench.testing import check_algorithm
    from my_package import MyAlgorithm

    def test_contract():
        check_algorithm(MyAlgorithm, params={"population": 20})

Each check raises ``AssertionError`` with a message that says which promise of
the contract was broken.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.algorithm import Algorithm, OrderError
from bench.evaluator import BudgetEvaluator
from bench.generator import Generator
from bench.problem import MeasureSpace, Problem, check_batch_shape
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

    It counts the genomes it was given outside the box (``outside``).
    """

    bounds = (0.6, 1.0)

    def __init__(self, dim: int = 8):
        super().__init__(dim)
        self.outside = 0

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """As ``ProbeSphere``, counting rows with a gene outside ``bounds``."""
        low, high = self.bounds
        self.outside += int(np.any((genomes < low) | (genomes > high), axis=1).sum())
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


def check_algorithm(
    algo_cls: type[Algorithm],
    params: dict[str, Any] | None = None,
    dim: int = 8,
    problem: Problem | None = None,
) -> None:
    """Check the algorithm contract on a cheap problem.

    Checks: batch shape, the ask/tell order guard, exact budgets (a multiple of
    the batch size and not), same seed → same result bit for bit, different
    seeds → different results, NaN fitness survived, NaN measures next to a
    finite fitness survived and counted as invalid evaluations, no genome
    outside a problem's bounds evaluated, no global RNG touched.

    Args:
        algo_cls: The algorithm class (``cls(space, seed, **params)``).
        params: Keyword arguments for it.
        dim: Genome size of the probe problem.
        problem: Problem to use instead of the probe sphere.

    """
    problem = problem or ProbeSphere(dim)
    params = params or {}
    algo = algo_cls(problem.search_space, np.random.SeedSequence(0), **params)
    batch = algo.batch_size
    assert isinstance(batch, int) and batch >= 1, f"batch_size must be a positive int, got {batch}"

    try:
        algo.tell(np.zeros(1))
    except OrderError:
        pass
    else:
        raise AssertionError("tell() before ask() must raise OrderError")
    genomes = algo.ask()
    check_batch_shape(genomes, (None, problem.dim), "ask()")
    assert 1 <= len(genomes) <= batch, f"ask() returned {len(genomes)} genomes, batch is {batch}"
    try:
        algo.ask()
    except OrderError:
        pass
    else:
        raise AssertionError("ask() twice without tell() must raise OrderError")
    algo.tell(problem.evaluate(genomes))

    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it is untouched
    for budget in (batch, 3 * batch, 3 * batch + 1, 5 * batch - 1):
        used = run_once(algo_cls, problem, budget, 1, params).used
        assert used == budget, f"budget {budget}: {used} evaluations were spent"
    np_now = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(np_now, np_state), "the global NumPy RNG was used"

    budget = 4 * batch + 3
    a = run_once(algo_cls, problem, budget, 7, params)
    b = run_once(algo_cls, problem, budget, 7, params)
    assert a.best_fitness == b.best_fitness and np.array_equal(a.best_genome, b.best_genome), (
        "same seed gave different results"
    )
    assert [r["best"] for r in a.curve] == [r["best"] for r in b.curve], "same seed, other curve"
    c = run_once(algo_cls, problem, budget, 8, params)
    assert not np.array_equal(a.best_genome, c.best_genome), "different seeds gave one result"

    nan_problem = ProbeSphere(problem.dim, nan_every=3)
    ev = run_once(algo_cls, nan_problem, budget, 3, params)
    assert ev.used == budget and ev.nonfinite > 0, "NaN fitness must be counted, run completed"
    assert np.isfinite(ev.best_fitness), "NaN must never become the best fitness"

    box = ProbeBox(problem.dim)
    ev = run_once(algo_cls, box, budget, 3, params)
    assert ev.used == budget and box.outside == 0, (
        f"{box.outside} genomes outside the problem's bounds {box.bounds} were evaluated"
    )

    measured = ProbeMeasures(problem.dim, nan_every=3)
    ev = run_once(algo_cls, measured, budget, 3, params)
    assert ev.used == budget, "a NaN measure next to a finite fitness must not end the run"
    assert ev.nonfinite == measured.nan_rows > 0, (
        f"{measured.nan_rows} evaluations had a NaN measure, {ev.nonfinite} were counted invalid"
    )


def check_problem(problem: Problem, n: int = 4, seed: int = 0) -> None:
    """Check the problem contract: shapes, batch independence, determinism, measures, render.

    Args:
        problem: The problem instance.
        n: Batch size to try.
        seed: Seed of the genomes tried.

    """
    assert problem.sense in ("min", "max"), f"sense must be 'min' or 'max', got {problem.sense!r}"
    rng = np.random.default_rng(seed)
    genomes = problem.prior.sample(rng, n, problem.dim)
    fitness = np.asarray(problem.evaluate(genomes))
    check_batch_shape(fitness, (n,), "evaluate()")
    again = np.asarray(problem.evaluate(genomes))
    assert np.array_equal(fitness, again, equal_nan=True), "evaluate() is not deterministic"
    halves = np.concatenate(
        [problem.evaluate(genomes[: n // 2]), problem.evaluate(genomes[n // 2 :])]
    )
    assert np.allclose(fitness, halves, rtol=1e-4, atol=1e-5, equal_nan=True), (
        "fitness depends on the batch a genome is evaluated in"
    )
    if problem.measure_space is not None:
        fit2, measures = problem.evaluate_with_measures(genomes)
        check_batch_shape(measures, (n, problem.measure_space.dim), "measures")
        assert np.allclose(fit2, fitness, rtol=1e-4, atol=1e-5, equal_nan=True), (
            "evaluate_with_measures() disagrees with evaluate()"
        )
    images = problem.render(genomes[:2])
    if images is not None:
        assert len(images) == 2, f"render() of 2 genomes returned {len(images)} images"
        for im in images:
            assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] in (1, 3), (
                f"render() must return uint8 [H, W, 1|3] images, got {im.dtype} {im.shape}"
            )


def check_generator(generator: Generator, n: int = 3) -> None:
    """Check the generator contract: attributes, output shape and range, chunking.

    Args:
        generator: The generator (in eval mode).
        n: Number of latents to try.

    """
    import torch

    for attr in ("z_dim", "img_resolution", "img_channels"):
        assert isinstance(getattr(generator, attr, None), int), f"{attr} must be an int"
    z = np.random.default_rng(0).normal(size=(n, generator.z_dim))
    images = generator.generate(z, chunk=n)
    res, ch = generator.img_resolution, generator.img_channels
    assert tuple(images.shape) == (n, ch, res, res), f"images have shape {tuple(images.shape)}"
    assert images.min() >= -1 and images.max() <= 1, "images must lie in [-1, 1]"
    chunked = generator.generate(z, chunk=1)
    assert torch.allclose(images, chunked, atol=1e-5), "chunking changes the images"
    if generator.num_ws is not None:
        ws = generator.mapping(torch.as_tensor(z, dtype=torch.float32, device=generator.device))
        assert tuple(ws.shape) == (n, generator.num_ws, generator.w_dim), (
            f"mapping() output {tuple(ws.shape)}, expected {(n, generator.num_ws, generator.w_dim)}"
        )

"""Set diversity: vectorised similarities against a plain loop, the problem contract."""

import numpy as np
import pytest
import torch
from bench.generators.dcgan import DCGANGenerator
from bench.problems.diversity import (
    DiversityMnistNcc,
    DiversityMnistRmse,
    SetDiversity,
    pairwise_similarity,
    set_statistics,
)

from bench.testing import check_problem


def _loop_similarity(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    if metric == "rmse":
        return 1.0 - np.sqrt(np.sum((a - b) ** 2) / a.size)
    return np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b))


@pytest.mark.parametrize("metric", ["rmse", "ncc"])
def test_vectorised_statistics_match_a_plain_loop(metric):
    rng = np.random.default_rng(1)
    images = rng.random((3, 6, 5, 5)).astype(np.float32)  # [N, K, H, W] in [0, 1]
    mean, top = set_statistics(torch.from_numpy(images).flatten(2), metric)
    for n in range(3):
        sims = [
            _loop_similarity(images[n, i], images[n, j], metric)
            for i in range(6)
            for j in range(i + 1, 6)
        ]
        assert len(sims) == 15
        assert mean[n] == pytest.approx(np.mean(sims), abs=1e-9)
        assert top[n] == pytest.approx(np.max(sims), abs=1e-9)


def test_similarity_extremes():
    same = torch.ones(1, 4, 10) * 0.3
    assert set_statistics(same, "rmse")[0][0] == pytest.approx(1.0)
    assert set_statistics(same, "ncc")[0][0] == pytest.approx(1.0)
    black_white = torch.stack([torch.zeros(10), torch.ones(10)])[None]
    assert set_statistics(black_white, "rmse")[0][0] == pytest.approx(0.0)
    disjoint = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    assert set_statistics(disjoint, "ncc")[0][0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="Valid: rmse, ncc"):
        pairwise_similarity(same, "l1")


@pytest.fixture(scope="module")
def random_generator():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return DCGANGenerator(28, 1).eval()


@pytest.mark.parametrize("cls", [DiversityMnistRmse, DiversityMnistNcc])
def test_problem_contract_and_loop_agreement(cls, random_generator):
    problem = cls(k=5, generator=random_generator)
    assert problem.genome_shape == (5, 100) and problem.dim == 500
    check_problem(problem, n=4)
    genomes = np.random.default_rng(2).normal(size=(3, 500))
    fitness, measures = problem.evaluate_with_measures(genomes)
    with torch.inference_mode():
        for n in range(3):
            imgs = (random_generator(torch.tensor(genomes[n].reshape(5, 100)).float()) + 1) / 2
            imgs = imgs.numpy()
            sims = [
                _loop_similarity(imgs[i], imgs[j], problem.metric)
                for i in range(5)
                for j in range(i + 1, 5)
            ]
            assert fitness[n] == pytest.approx(np.mean(sims), abs=1e-6)
            assert measures[n, 1] == pytest.approx(np.max(sims), abs=1e-6)
    assert problem.measure_space.bins == (100, 100)
    assert ((measures >= 0) & (measures <= 1)).all()


def test_render_is_one_grid_per_set(random_generator):
    problem = DiversityMnistRmse(k=50, generator=random_generator)
    images = problem.render(np.zeros((2, 5000)))
    assert len(images) == 2
    assert images[0].shape == (7 * 30 - 2, 8 * 30 - 2, 1) and images[0].dtype == np.uint8


def test_chunking_does_not_change_fitness(random_generator):
    genomes = np.random.default_rng(3).normal(size=(4, 10 * 100))
    a = SetDiversity(k=10, generator=random_generator, chunk=7).evaluate(genomes)
    b = SetDiversity(k=10, generator=random_generator, chunk=1000).evaluate(genomes)
    assert np.allclose(a, b, atol=1e-6)


def test_default_chunk_is_the_cpu_chunk_and_a_given_one_is_kept(random_generator):
    from bench.device import CPU_CHUNK

    assert SetDiversity(k=10, generator=random_generator).chunk == CPU_CHUNK
    assert SetDiversity(k=10, generator=random_generator, chunk=7).chunk == 7
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        SetDiversity(k=10, generator=random_generator, chunk=0)


def test_bad_parameters(random_generator):
    with pytest.raises(ValueError, match="at least 2"):
        SetDiversity(k=1, generator=random_generator)
    with pytest.raises(ValueError, match=r"expected shape \[N, 500\]"):
        SetDiversity(k=5, generator=random_generator).evaluate(np.zeros((2, 499)))


def test_large_sets_are_refused_and_batches_scored_in_passes(random_generator, monkeypatch):
    """k=100000 failed deep in a run with a MemoryError that did not mention k."""
    import bench.problems.diversity as diversity

    monkeypatch.setattr(diversity, "machine_memory", lambda: 16 * 2**30)
    with pytest.raises(ValueError, match=r"k=100000: scoring one set needs about .* lower k"):
        SetDiversity(k=100_000, generator=random_generator)
    genomes = np.random.default_rng(4).normal(size=(5, 10 * 100))
    whole = SetDiversity(k=10, generator=random_generator)
    monkeypatch.setattr(diversity, "PASS_BYTES", 1)  # one set a pass
    passes = SetDiversity(k=10, generator=random_generator)
    assert passes.sets_per_pass == 1 and whole.sets_per_pass > 5
    a, b = whole.evaluate_with_measures(genomes), passes.evaluate_with_measures(genomes)
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)

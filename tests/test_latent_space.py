"""Searching Z, W and W+: standardised genomes that map back to the generator's own images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.generators.dcgan import DCGANGenerator
from bench.generators.stylegan2 import StyleGAN2Generator
from bench.problems.face import FaceSimilarity, seed_latent
from bench.problems.latent_space import LatentSpace


@pytest.fixture(scope="module")
def stylegan() -> StyleGAN2Generator:
    torch.manual_seed(0)
    G = StyleGAN2Generator(
        z_dim=16, w_dim=16, img_resolution=32, channel_base=256, channel_max=32
    ).eval()
    with torch.no_grad():
        for m in G.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.3)  # constant noise must still be deterministic
    return G


@pytest.mark.parametrize("space, dim", [("z", 16), ("w", 16), ("W+", 16 * 8)])
def test_genome_of_z_reproduces_the_generators_image(stylegan, space, dim):
    latent = LatentSpace(stylegan, space, samples=2000)
    assert latent.genome_shape == (dim,)
    z = np.random.default_rng(1).standard_normal((3, 16))
    g = latent.genome_of_z(z)
    assert g.shape == (3, dim)
    expected = stylegan.generate(z)
    np.testing.assert_allclose(latent.images(g, chunk=2), expected, atol=2e-5)
    np.testing.assert_array_equal(latent.images(g, chunk=2), latent.images(g, chunk=2))


def test_w_genomes_are_standardised(stylegan):
    latent = LatentSpace(stylegan, "w", samples=4000)
    z = np.random.default_rng(7).standard_normal((4000, 16))  # not the fitting sample
    g = latent.genome_of_z(z)
    assert np.abs(g.mean(0)).max() < 0.1 and np.abs(g.std(0) - 1).max() < 0.1
    # the raw W coordinates are not standard: the scaling does real work
    assert latent.w_std.min() < 0.9 or latent.w_std.max() > 1.1 or latent.w_mean.abs().max() > 0.1


def test_bad_spaces_are_refused(stylegan):
    with pytest.raises(ValueError, match="unknown latent space 'x'; valid: z, w, w\\+"):
        LatentSpace(stylegan, "x")
    with pytest.raises(ValueError, match=r"needs a style-based generator.*use space=z"):
        LatentSpace(DCGANGenerator(28, 1, 100), "w+")


def test_face_problem_searches_w_plus_with_a_perfect_seed_solution(stylegan, facenet_cache):
    problem = FaceSimilarity(
        "seed:4", generator=stylegan, space="w+", crop="0,0,32,32", measure_samples=8,
        facenet=str(facenet_cache / "weights" / "facenet-casia.pt"),
    )
    assert problem.genome_shape == (stylegan.num_ws * 16,)
    best = problem.seed_genome(4)
    assert problem.evaluate(best)[0] < 1e-4
    other = np.random.default_rng(0).standard_normal((2, problem.genome_shape[0]))
    assert np.all(problem.evaluate(other) > 1e-3)
    assert problem.describe()["space"] == "w+" and len(problem.render(best)) == 1
    again = problem.latent.genome_of_z(seed_latent(4, 16)[None])
    np.testing.assert_array_equal(problem.evaluate(best), problem.evaluate(again))

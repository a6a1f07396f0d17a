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


@pytest.mark.parametrize("space, row", [("z", 100), ("w", 16), ("w+", 16)])
def test_sphere_feeds_every_latent_at_a_prior_draws_length(stylegan, space, row):
    """Growing a latent must gain nothing: scaled genomes make the same images.

    Z is tried on a DCGAN: StyleGAN2's mapping network normalises z itself.
    """
    torch.manual_seed(0)
    generator = DCGANGenerator(28, 1, 100).eval() if space == "z" else stylegan
    latent = LatentSpace(generator, space, samples=2000, sphere=True)
    rng = np.random.default_rng(3)
    g = rng.standard_normal((3, latent.dim))
    grown = g * rng.uniform(0.3, 3.0, size=(3, latent.dim // row, 1)).repeat(row, 2).reshape(
        3, latent.dim
    )  # each latent (each w+ row) by its own factor
    fed = latent.fed(grown).reshape(3, -1, row)
    np.testing.assert_allclose(np.linalg.norm(fed, axis=2), np.sqrt(row))
    np.testing.assert_allclose(latent.images(grown, chunk=2), latent.images(g, chunk=2), atol=2e-5)
    free = LatentSpace(generator, space, samples=2000)
    np.testing.assert_array_equal(free.fed(grown), grown)
    assert not np.allclose(free.images(grown, chunk=2), free.images(g, chunk=2), atol=1e-3)
    # as_given skips the scaling: the free space's images
    np.testing.assert_array_equal(
        latent.images(grown, chunk=2, as_given=True), free.images(grown, chunk=2)
    )


def test_face_problem_on_the_sphere_keeps_a_seed_targets_own_face(stylegan, facenet_cache):
    kwargs = dict(
        generator=stylegan, crop="0,0,32,32", measure_samples=8,
        facenet=str(facenet_cache / "weights" / "facenet-casia.pt"),
    )
    free = FaceSimilarity("seed:4", **kwargs)
    sphere = FaceSimilarity("seed:4", sphere=True, **kwargs)
    torch.testing.assert_close(sphere.target, free.target)  # the face of seed 4's own latent
    best = sphere.seed_genome(4)
    direction = best / np.linalg.norm(best) * np.sqrt(16)
    assert sphere.evaluate(best * 2.5)[0] == pytest.approx(free.evaluate(direction)[0], abs=1e-5)
    np.testing.assert_allclose(np.linalg.norm(sphere.fed_genomes(best * 2.5)), 4.0)
    assert sphere.describe()["sphere"] and not free.describe()["sphere"]
    np.testing.assert_array_equal(free.fed_genomes(best * 2.5), best * 2.5)

"""Set diversity (seeds digest §2): find K latents whose K images differ most.

A genome is a set of ``K`` latents of a generator, flattened to
``[K · z_dim]`` (50 × 100 = 5,000 genes for the study's DCGANs), prior N(0, 1).
Its fitness is the mean over all ``K(K−1)/2`` pairs of its images of a
*similarity*, to be minimised:

- ``rmse``: ``1 − sqrt(Σ (A − B)² / size)`` on images scaled to [0, 1];
- ``ncc``: normalised cross-correlation ``Σ A·B / sqrt(Σ A·A · Σ B·B)`` (the
  study's printed formula has ``(A − B)`` in the numerator, a typo).

Both are computed for a whole batch at once: the ``N·K`` images come from one
chunked generator pass and the pairwise terms from one batched matrix product
``[N, K, P] @ [N, P, K]`` in float64. The behaviour descriptors for
quality-diversity archives are the mean and the maximum pairwise similarity,
each in [0, 1] (100 × 100 bins, as in the study).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from bench.device import auto_chunk, compile_and_measure
from bench.generator import Generator, load_generator, to_uint8
from bench.images import image_grid
from bench.prior_distance import onto_prior_sphere
from bench.problem import SET_DIVERSITY_STUDY, MeasureSpace, Problem, check_batch_shape

METRICS = ("rmse", "ncc")


def pairwise_similarity(images: torch.Tensor, metric: str) -> torch.Tensor:
    """Similarity of every pair of images within each set.

    Args:
        images: ``[N, K, P]`` flattened images scaled to [0, 1].
        metric: ``"rmse"`` (1 − RMSE) or ``"ncc"``.

    Returns:
        ``[N, K, K]`` float64 similarities (the diagonal compares an image with itself).

    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'. Valid: {', '.join(METRICS)}")
    x = images.to(torch.float64)
    gram = x @ x.transpose(1, 2)  # [N, K, K]
    sq = torch.diagonal(gram, dim1=1, dim2=2)  # [N, K]
    if metric == "rmse":
        d2 = (sq[:, :, None] + sq[:, None, :] - 2.0 * gram).clamp_min(0.0) / x.shape[2]
        return 1.0 - d2.sqrt()
    return gram / (sq[:, :, None] * sq[:, None, :]).sqrt()


def set_statistics(images: torch.Tensor, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and maximum pairwise similarity of each set of images.

    Args:
        images: ``[N, K, P]`` flattened images in [0, 1], ``K >= 2``.
        metric: ``"rmse"`` or ``"ncc"``.

    Returns:
        ``(mean [N], max [N])`` over the ``K(K−1)/2`` distinct pairs, float64.

    """
    k = images.shape[1]
    sim = pairwise_similarity(images, metric)
    iu = torch.triu_indices(k, k, offset=1)
    pairs = sim[:, iu[0], iu[1]]  # [N, K(K-1)/2]
    return pairs.mean(dim=1).cpu().numpy(), pairs.max(dim=1).values.cpu().numpy()


PASS_BYTES = 2 * 2**30  # peak memory of one scoring pass over sets (2 GiB)


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes, or ``None`` where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class SetDiversity(Problem):
    """A set of K generated images as different from each other as possible.

    Subclasses fix the generator and the metric; ``generator`` swaps in any
    registered generator (or a ``Generator`` instance, for tests).

    Args:
        k: Latents (images) per set.
        generator: Registered generator name; default: the subclass's.
        weights: Weight file for that generator instead of its shipped one.
        device: Torch device of the generator.
        chunk: Most images per generator pass; default (``None``): ``auto_chunk``,
            64 on a CPU (on one core of AMD EPYC Zen 4 a 28-px DCGAN makes 1.2–1.3
            times the images per second in batches of 50–100 as in batches of 1,000,
            whose activations no longer fit the caches), on a GPU as many as half
            its free memory holds.
        compile: Opt-in ``torch.compile`` of the generator; the largest fitness change
            it causes on a probe batch is measured and described.
        sphere: Scale every latent to length ``sqrt(z_dim)`` (where draws from the
            N(0, 1) prior lie) before the generator. Growing the latents then gains
            nothing: unconstrained, larger latents give saturated, more different
            images, and CMA-ES finds them (``bench.prior_distance``). Off in the study.

    """

    sense = "min"
    worst_fitness = 1.0  # a set of identical images
    default_budget = 25_000  # 500 generations of 50 (seeds digest §2)
    study = SET_DIVERSITY_STUDY
    metric: ClassVar[str] = "rmse"
    default_generator: ClassVar[str] = "dcgan-mnist"

    def __init__(
        self,
        k: int = 50,
        generator: str | Generator | None = None,
        weights: str | None = None,
        device: str = "cpu",
        chunk: int | None = None,
        compile: bool = False,  # the user-facing name: --set compile=true
        sphere: bool = False,
    ):
        if k < 2:
            raise ValueError(f"k must be at least 2 (a set needs pairs), got {k}")
        if chunk is not None and chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self.k, self.sphere = k, bool(sphere)
        self.generator_name = generator or self.default_generator
        self.generator = self._load_generator(self.generator_name, weights, device)
        self.z_dim = self.generator.z_dim
        self.chunk = chunk or auto_chunk(self.generator.device, self._probe)
        self.genome_shape = (k, self.z_dim)
        self.sets_per_pass = self._sets_per_pass()
        self.measure_space = MeasureSpace(
            names=(f"mean {self.metric} similarity", f"max {self.metric} similarity"),
            ranges=((0.0, 1.0), (0.0, 1.0)),
            bins=(100, 100),
        )
        self.compile_deviation = self._compile() if compile else None

    def _probe(self, n: int) -> torch.Tensor:
        """Images ``[n, C, H, W]`` of ``n`` seeded latents (``auto_chunk``'s memory probe)."""
        z = np.random.default_rng(np.random.SeedSequence(0)).standard_normal((n, self.z_dim))
        return self.generator.generate(z, chunk=n)

    def _set_bytes(self) -> int:
        """Rough peak memory of scoring one set: its images (three copies) and similarities."""
        res, channels = int(self.generator.img_resolution), int(self.generator.img_channels)
        return 3 * self.k * channels * res * res * 4 + 3 * self.k * self.k * 8

    def _sets_per_pass(self) -> int:
        """Sets scored together, so that a pass needs at most ``PASS_BYTES``.

        Raises:
            ValueError: One set alone needs more than half of this machine's memory
                (``k`` in the thousands: K images and K² pairwise similarities).

        """
        one = self._set_bytes()
        total = machine_memory()
        if total is not None and one > total // 2:
            raise ValueError(
                f"k={self.k}: scoring one set needs about {one / 2**30:.1f} GiB ({self.k} "
                f"images and {self.k}² pairwise similarities), more than half of this "
                f"machine's {total / 2**30:.0f} GiB; lower k"
            )
        return max(1, PASS_BYTES // one)

    def _compile(self) -> float:
        """Compile the generator; return the largest fitness change it makes on 4 sets."""
        probe = np.random.default_rng(np.random.SeedSequence(12345)).standard_normal((4, self.dim))
        return compile_and_measure(self.evaluate, probe, self.generator)

    @staticmethod
    def _load_generator(name: str | Generator, weights: str | None, device: str) -> Generator:
        if isinstance(name, Generator):
            return name.to(device).eval()
        return load_generator(name, device, weights)  # factory(device=, weights=), checked

    def describe(self) -> dict:
        """Metric, set size and generator of this instance."""
        name = self.generator_name
        return {
            "metric": self.metric,
            "k": self.k,
            "generator": name if isinstance(name, str) else type(name).__name__,
            "z_dim": self.z_dim,
            "compile": self.compile_deviation is not None,
            "compile_max_fitness_deviation": self.compile_deviation,
            "sphere": self.sphere,
        }

    def weight_files(self) -> Sequence[Path]:
        """The generator's weight file, if it has one."""
        path = getattr(self.generator, "weight_path", None)
        return (Path(path),) if path else ()

    def images(self, genomes: np.ndarray) -> torch.Tensor:
        """The sets' images in [0, 1].

        Args:
            genomes: ``[N, K · z_dim]``.

        Returns:
            ``[N, K, C, H, W]`` float32 on the generator's device.

        """
        check_batch_shape(genomes, (None, self.dim), f"{type(self).__name__} genomes")
        n = len(genomes)
        z = np.asarray(self.fed_genomes(genomes), dtype=np.float32).reshape(n * self.k, self.z_dim)
        imgs = self.generator.generate(z, chunk=self.chunk)  # [N*K, C, H, W] in [-1, 1]
        return ((imgs + 1.0) / 2.0).reshape(n, self.k, *imgs.shape[1:])

    def fed_genomes(self, genomes: np.ndarray) -> np.ndarray:
        """``genomes [N, K · z_dim]`` as the generator reads them (float64).

        With ``sphere`` each latent is scaled to length ``sqrt(z_dim)`` (a latent of
        zeros stays zeros: it has no direction); without, they are as given.
        """
        genomes = np.asarray(genomes, dtype=np.float64)
        if not self.sphere:
            return genomes
        z = genomes.reshape(len(genomes), self.k, self.z_dim)
        return onto_prior_sphere(z).reshape(genomes.shape)

    def evaluate_with_measures(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fitness ``[N]`` (mean similarity) and measures ``[N, 2]`` (mean, max) of ``[N, D]``.

        Sets are scored ``sets_per_pass`` at a time, so that a large batch of large
        sets does not hold every image and similarity at once.
        """
        step = self.sets_per_pass  # images() checks each pass's genomes
        parts = [
            set_statistics(self.images(genomes[i : i + step]).flatten(2), self.metric)
            for i in range(0, max(len(genomes), 1), step)
        ]
        mean = np.concatenate([m for m, _ in parts])
        top = np.concatenate([t for _, t in parts])
        return mean, np.clip(np.stack([mean, top], axis=1), 0.0, 1.0)

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """Mean pairwise similarity ``[N]`` of each set ``[N, D]`` (lower is more diverse)."""
        return self.evaluate_with_measures(genomes)[0]

    def measures(self, genomes: np.ndarray) -> np.ndarray:
        """Mean and maximum pairwise similarity ``[N, 2]``."""
        return self.evaluate_with_measures(genomes)[1]

    def render(self, genomes: np.ndarray) -> list[np.ndarray]:
        """One grid picture of the K images per genome (uint8 ``[H, W, C]``)."""
        imgs = self.images(genomes)  # [N, K, C, H, W] in [0, 1]
        ncol = int(np.ceil(np.sqrt(self.k)))
        return [image_grid(to_uint8(s * 2.0 - 1.0), ncol=ncol) for s in imgs]


class DiversityMnistRmse(SetDiversity):
    """Set diversity: 50 MNIST digits from our DCGAN, minimise mean pairwise 1 − RMSE."""

    metric, default_generator = "rmse", "dcgan-mnist"


class DiversityMnistNcc(SetDiversity):
    """Set diversity: 50 MNIST digits from our DCGAN, minimise mean pairwise NCC."""

    metric, default_generator = "ncc", "dcgan-mnist"


class DiversityFashionRmse(SetDiversity):
    """Set diversity: 50 Fashion-MNIST items from our DCGAN, minimise mean pairwise 1 − RMSE."""

    metric, default_generator = "rmse", "dcgan-fashion"


class DiversityFashionNcc(SetDiversity):
    """Set diversity: 50 Fashion-MNIST items from our DCGAN, minimise mean pairwise NCC."""

    metric, default_generator = "ncc", "dcgan-fashion"


class DiversityFacesRmse(SetDiversity):
    """Set diversity: 50 faces from our UTKFace DCGAN, minimise mean pairwise 1 − RMSE."""

    metric, default_generator = "rmse", "dcgan-faces"


class DiversityFacesNcc(SetDiversity):
    """Set diversity: 50 faces from our UTKFace DCGAN, minimise mean pairwise NCC."""

    metric, default_generator = "ncc", "dcgan-faces"

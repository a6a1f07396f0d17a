"""Where a face search runs: Z, W or W+ of a generator, with an N(0, 1) genome.

Every algorithm of the suite samples and mutates genomes from the prior
N(0, 1). Z already has that prior. W (the output of a style-based generator's
mapping network) does not: its coordinates have their own means and spreads.
So a W genome is *standardised*: ``w = mean + std · g`` per coordinate, with
``mean`` and ``std`` measured once on the mapping of ``samples`` seeded latents
(seed 0). A standard-normal genome then lands where the mapping puts its mass,
and the same mutation step means the same thing in every coordinate.

- ``z``: genome ``[z_dim]``; images = ``G(z)`` (any generator).
- ``w``: genome ``[w_dim]``; one w broadcast to all ``num_ws`` layers.
- ``w+``: genome ``[num_ws · w_dim]``; one w per layer (row-major ``[num_ws, w_dim]``).

With ``sphere`` every latent (z; w; each of the ``num_ws`` rows of w+) is scaled to
the length of a prior draw before the generator (``bench.prior_distance``), so
that a search gains nothing by growing the latents.

Style-based generators synthesise with constant noise, so fitness is deterministic.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.generator import Generator
from bench.prior_distance import onto_prior_sphere

SPACES = ("z", "w", "w+")
W_SAMPLES = 10_000  # mapped latents behind the W standardisation


class LatentSpace:
    """A generator's search space and the map from genomes to images.

    Args:
        generator: Any generator for ``z``; a style-based one (with ``mapping``,
            ``synthesis``, ``w_dim`` and ``num_ws``) for ``w`` and ``w+``.
        space: ``"z"``, ``"w"`` or ``"w+"``.
        samples: Seeded latents whose mapping sets the W standardisation.
        sphere: Scale every latent to the length of a prior draw before the generator.

    Raises:
        ValueError: Unknown space, or W/W+ asked of a generator without a mapping network.

    """

    def __init__(
        self, generator: Generator, space: str = "z", samples: int = W_SAMPLES, sphere: bool = False
    ):
        space = str(space).lower()
        if space not in SPACES:
            raise ValueError(f"unknown latent space {space!r}; valid: {', '.join(SPACES)}")
        styled = all(hasattr(generator, a) for a in ("mapping", "synthesis")) and bool(
            getattr(generator, "w_dim", None)
        )
        if space != "z" and not styled:
            raise ValueError(
                f"space {space!r} needs a style-based generator (mapping + synthesis); "
                f"{type(generator).__name__} has only Z: use space=z"
            )
        self.generator, self.space, self.sphere = generator, space, bool(sphere)
        self.z_dim = int(generator.z_dim)
        if space == "z":
            self.dim = self.z_dim
            return
        self.w_dim, self.num_ws = int(generator.w_dim), int(generator.num_ws)
        self.dim = self.w_dim if space == "w" else self.num_ws * self.w_dim
        self.w_mean, self.w_std = self._w_statistics(samples)  # [w_dim] each, on the device

    @torch.inference_mode()
    def _w_statistics(self, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(np.random.SeedSequence(0))
        z = torch.as_tensor(rng.standard_normal((samples, self.z_dim)), dtype=torch.float32)
        dev = self.generator.device
        ws = torch.cat(
            [self.generator.mapping(c.to(dev), truncation_psi=1.0)[:, 0] for c in z.split(1000)]
        )  # [samples, w_dim]
        return ws.mean(0), ws.std(0).clamp_min(1e-8)

    @property
    def genome_shape(self) -> tuple[int]:
        """Shape of one genome."""
        return (self.dim,)

    @torch.inference_mode()
    def genome_of_z(self, z: np.ndarray) -> np.ndarray:
        """The genomes ``[N, dim]`` that make the same images as latents ``z [N, z_dim]``."""
        if self.space == "z":
            return np.asarray(z, dtype=np.float64)
        zt = torch.as_tensor(z, dtype=torch.float32, device=self.generator.device)
        ws = self.generator.mapping(zt, truncation_psi=1.0)  # [N, num_ws, w_dim]
        g = (ws - self.w_mean) / self.w_std
        g = g[:, 0] if self.space == "w" else g.reshape(len(g), -1)
        return g.double().cpu().numpy()

    def fed(self, genomes: np.ndarray) -> np.ndarray:
        """``genomes [N, dim]`` as the generator reads them (float64).

        With ``sphere`` each latent is scaled to the length of a prior draw; without,
        the genomes are as given.
        """
        genomes = np.asarray(genomes, dtype=np.float64)
        if not self.sphere:
            return genomes
        row = self.z_dim if self.space == "z" else self.w_dim  # a w+ genome: num_ws rows
        rows = genomes.reshape(len(genomes), -1, row)
        return onto_prior_sphere(rows).reshape(genomes.shape)

    @torch.inference_mode()
    def images(self, genomes: np.ndarray, chunk: int, as_given: bool = False) -> torch.Tensor:
        """Images ``[N, C, H, W]`` in [-1, 1] of ``genomes [N, dim]``, ``chunk`` at a time.

        ``as_given`` feeds the genomes without ``sphere``'s scaling: a target made
        from a seed's latent is the face of that latent, whatever the search space.
        """
        if not as_given:
            genomes = self.fed(genomes)
        if self.space == "z":
            return self.generator.generate(genomes, chunk=chunk)
        dev = self.generator.device
        g = torch.as_tensor(genomes, dtype=torch.float32, device=dev)
        out = []
        for part in g.split(chunk):
            if self.space == "w":
                ws = (self.w_mean + self.w_std * part)[:, None].expand(-1, self.num_ws, -1)
            else:
                ws = self.w_mean + self.w_std * part.reshape(len(part), self.num_ws, self.w_dim)
            out.append(self.generator.synthesis(ws, noise_mode="const"))
        if not out:
            res, ch = int(self.generator.img_resolution), int(self.generator.img_channels)
            return torch.empty((0, ch, res, res), device=dev)
        return torch.cat(out).float()

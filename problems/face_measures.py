"""Measures for quality-diversity on faces: the main axes of FaceNet's view of a generator.

A face archive needs two coordinates a person can read. Here they are the
first two principal axes of FaceNet embeddings of ``samples`` random faces of
the generator (seeded), fitted once per generator and FaceNet weights and
stored as JSON (shipped beside the generator's weights, or in the cache). A
face's measures are its embedding's coordinates on those axes in units of
their standard deviation, so the archive range ``±RANGE_STD`` covers nearly
every face the generator makes, whatever its scale. The fit also records the
share of variance each axis explains.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

RANGE_STD = 3.0  # archive range: ± this many standard deviations on each axis


def pca_filename(
    gen_id: str, facenet_file: str | Path, crop: tuple[int, int, int, int] | None = None
) -> str:
    """Name of the stored axes of generator ``gen_id`` (``face_crop.generator_id``) and FaceNet.

    Args:
        gen_id: The generator's id.
        facenet_file: The FaceNet weights.
        crop: A crop box ``(x0, y0, x1, y1)`` given by hand, or ``None`` for the
            generator's calibrated box.

    """
    from bench.provenance import sha256_file

    box = "" if crop is None else "-crop-" + "-".join(str(int(v)) for v in crop)
    return f"{gen_id}-facenet-{sha256_file(facenet_file)[:12]}{box}-pca.json"


@dataclass(frozen=True)
class FacePCA:
    """Two principal axes of FaceNet embeddings of a generator's faces.

    Attributes:
        mean: Mean embedding ``[512]``.
        axes: Unit principal axes ``[2, 512]``, largest variance first.
        std: Standard deviation of the samples along each axis ``[2]``.
        explained: Share of the embedding variance each axis explains ``[2]``.
        samples: Faces fitted.
        seed: Seed of their latents.

    """

    mean: tuple[float, ...]
    axes: tuple[tuple[float, ...], ...]
    std: tuple[float, ...]
    explained: tuple[float, ...]
    samples: int
    seed: int

    @classmethod
    def fit(cls, embeddings: np.ndarray, seed: int) -> FacePCA:
        """Fit on embeddings ``[N, 512]`` (N ≥ 3) of faces made from latents of ``seed``."""
        emb = np.asarray(embeddings, dtype=np.float64)
        if emb.ndim != 2 or len(emb) < 3:
            raise ValueError(f"need embeddings [N >= 3, D], got shape {emb.shape}")
        mean = emb.mean(axis=0)
        cov = np.cov(emb - mean, rowvar=False)
        vals, vecs = np.linalg.eigh(cov)  # ascending
        order = np.argsort(vals)[::-1][:2]
        axes = vecs[:, order].T  # [2, D]
        # Fix each axis' sign so that the sample's projections are skewed positive:
        # the same data always gives the same axes.
        proj = (emb - mean) @ axes.T
        axes *= np.where(np.mean(proj**3, axis=0) < 0, -1.0, 1.0)[:, None]
        return cls(
            tuple(mean.tolist()),
            tuple(tuple(a.tolist()) for a in axes),
            tuple(np.sqrt(np.maximum(vals[order], 0)).tolist()),
            tuple((vals[order] / max(vals.sum(), 1e-30)).tolist()),
            len(emb),
            seed,
        )

    def project(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Measures ``[N, 2]`` (standard deviations along each axis) of embeddings ``[N, 512]``."""
        dev, dt = embeddings.device, embeddings.dtype
        mean = torch.as_tensor(self.mean, device=dev, dtype=dt)
        axes = torch.as_tensor(self.axes, device=dev, dtype=dt)
        std = torch.as_tensor(self.std, device=dev, dtype=dt).clamp_min(1e-12)
        return ((embeddings - mean) @ axes.T) / std

    def save(self, path: Path) -> None:
        """Write the fit as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)) + "\n")

    @classmethod
    def load(cls, path: Path) -> FacePCA:
        """Read a fit written by ``save``."""
        d = json.loads(Path(path).read_text())
        return cls(
            tuple(d["mean"]),
            tuple(tuple(a) for a in d["axes"]),
            tuple(d["std"]),
            tuple(d["explained"]),
            int(d["samples"]),
            int(d["seed"]),
        )

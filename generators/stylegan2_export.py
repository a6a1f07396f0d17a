"""Ship a trained StyleGAN2: float16 EMA weights, measured figures and a model card.

``export_stylegan2`` reads a training folder (``bench train-generator stylegan2``),
measures the EMA generator and writes into the weights folder::

    NAME.pt     {"arch", "state_dict" (float16), "training"}; read by load_stylegan2
    NAME.json   the model card: data and split, training settings, images seen, time
                and device, sha256 and size of NAME.pt, quality figures, deviations
    NAME.png    64 samples (constant noise, ψ = 1)

Quality figures: MTCNN's face-detection rate on generated images
(``bench.generators.quality.face_detection_rate``), and the Fréchet distance
between FaceNet embeddings of generated faces and of held-out real faces (twice
as many as the samples, at most all of them), next to its floor (the same distance
between as many real training faces as samples and those held-out ones: what a
perfect generator would score). Like the DCGAN export, it is all or nothing and
refuses data other than the training data (``bench.generators.export``).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench.generators.export import check_training_data, stage_reporter, staged_export
from bench.generators.quality import face_detection_rate, frechet_distance, generated_samples
from bench.generators.stylegan2_checkpoints import load_stylegan2
from bench.generators.stylegan2_training import export_generator
from bench.generators.zoo import WEIGHTS_DIR, sha256_file

from bench.datasets import LabelledImages
from bench.generator import Generator, to_uint8
from bench.images import save_grid

FACENET_SIZE = 160


def deviations(config: dict) -> list[str]:
    """How a training run departs from StyleGAN2 config-f, for the model card."""
    out = [
        "no path-length regularisation and no adaptive augmentation (StyleGAN2-ADA's 'auto' "
        "config has both); otherwise StyleGAN2's recipe: non-saturating loss, lazy R1, "
        "style mixing, EMA generator"
    ]
    if (config["channel_base"], config["channel_max"]) != (32768, 512):
        out.append(
            f"channels min({config['channel_base']} / R, {config['channel_max']}) instead of "
            "config-f's min(32768 / R, 512), to ship under 25 MB"
        )
    return out


@torch.inference_mode()
def facenet_embeddings(
    images: torch.Tensor, facenet: torch.nn.Module, chunk: int = 100
) -> np.ndarray:
    """FaceNet embeddings of whole face images.

    Args:
        images: ``[N, 3, H, W]`` RGB in 0..255 (aligned, cropped faces).
        facenet: ``load_facenet()`` model.
        chunk: Images per forward pass.

    Returns:
        ``[N, 512]`` float64.

    """
    from bench.problems.face_targets import standardise

    dev = next(facenet.parameters()).device
    out = []
    for i in range(0, len(images), chunk):
        x = images[i : i + chunk].to(dev, torch.float32)
        x = F.interpolate(
            x, size=(FACENET_SIZE, FACENET_SIZE), mode="bilinear", align_corners=False,
            antialias=True,
        )
        out.append(facenet(standardise(x)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 512))


def _real(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` → float ``[N, 3, H, W]`` in 0..255."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


HELDOUT_PER_SAMPLE = 2  # held-out faces per generated one: 2,000 at the default 1,000 samples


def heldout_faces(n: int, data: LabelledImages) -> int:
    """Held-out faces the Fréchet distance of ``n`` samples compares with (at most all)."""
    return min(len(data.heldout), HELDOUT_PER_SAMPLE * n)


def facenet_frechet(
    generator: Generator,
    data: LabelledImages,
    facenet: torch.nn.Module,
    n: int = 1000,
    seed: int = 0,
) -> dict:
    """Fréchet distance of FaceNet embeddings: ``n`` generated vs held-out faces.

    The held-out side is the first ``heldout_faces(n, data)`` held-out faces (all
    2,000 at the default ``n``), so a small ``n`` makes a quick measurement.

    Returns:
        ``samples``, ``seed``, ``heldout`` (faces compared with), ``distance`` and
        ``floor`` (``n`` real training faces vs the same held-out ones).

    """
    held = data.heldout[: heldout_faces(n, data)]
    fake = (generated_samples(generator, n, seed).clamp(-1, 1) + 1) * 127.5
    e_fake = facenet_embeddings(fake, facenet)
    e_held = facenet_embeddings(_real(held), facenet)
    e_train = facenet_embeddings(_real(data.train[:n]), facenet)
    return {
        "samples": n,
        "seed": seed,
        "heldout": len(held),
        "distance": frechet_distance(e_fake, e_held),
        "floor": frechet_distance(e_train, e_held),
    }


def export_stylegan2(
    name: str,
    train_dir: Path,
    data: LabelledImages,
    out: Path = WEIGHTS_DIR,
    samples: int = 1000,
    seed: int = 0,
    facenet: str = "casia-webface",
    device: str = "cpu",
    notes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write ``NAME.pt``, ``NAME.json`` and ``NAME.png`` for a training folder.

    The measurements take minutes on a CPU (about 17 for 1,000 samples at 64 px on
    2 cores, MTCNN twice and 4,000 FaceNet embeddings); ``progress`` hears of each.
    Nothing in ``out`` changes until every measurement is done
    (``bench.generators.export.staged_export``).

    Args:
        name: Generator name, e.g. ``"stylegan2-utkface64"``.
        train_dir: Folder written by ``stylegan2_training.train``.
        data: The split it was trained on (held-out faces for the figures).
        out: Destination folder.
        samples: Generated images measured.
        seed: Seed of their latents.
        facenet: FaceNet weights for the Fréchet distance.
        device: Where to run the measurements.
        notes: Remarks for the card (e.g. how the weights left the training machine).
        progress: Called with a line as each measurement starts (e.g. ``print``).

    Returns:
        The model card.

    Raises:
        ExportError: ``data`` is not the data the checkpoint was trained on.
        WeightsError: No FaceNet weights (before anything is measured).

    """
    from bench.problems.face_calibration import face_problem_card
    from bench.problems.facenet_weights import load_facenet

    stage = stage_reporter(progress)
    with staged_export(Path(out), name) as folder:
        weights = folder / f"{name}.pt"
        training = export_generator(Path(train_dir), weights)
        check_training_data(training["data"], data)
        facenet_model = load_facenet(facenet, device=device)  # fail now, not after minutes
        G = load_stylegan2(weights, device=device)  # measure what ships: the float16 weights
        grid = torch.from_numpy(
            np.random.default_rng(np.random.SeedSequence(seed)).normal(size=(64, G.z_dim))
        )
        save_grid(to_uint8(G.generate(grid)), folder / f"{name}.png", ncol=8)
        stage(f"MTCNN face rate on {samples} samples")
        rate = face_detection_rate(G.cpu(), n=samples, seed=seed)
        stage(
            f"FaceNet Fréchet distance: {samples} samples, {heldout_faces(samples, data)} "
            f"held-out and {min(samples, len(data.train))} training faces"
        )
        frechet = facenet_frechet(G.to(device), data, facenet_model, samples, seed)
        quality = {  # the same figures as the face DCGAN's card
            **rate,
            "facenet_frechet": {"weights": facenet, **frechet},
        }
        stage(f"face problem: crop box (MTCNN) and measure axes (FaceNet) on {samples} samples")
        card = {
            "name": name,
            "architecture": "StyleGAN2 (config-f family, this suite's own implementation)",
            "arch": G.arch,
            "num_ws": G.num_ws,
            "data": data.description,
            "training": training,
            "weights": {
                "file": weights.name,
                "sha256": sha256_file(weights),
                "dtype": "float16",
                "bytes": weights.stat().st_size,
            },
            "quality": quality,
            "face_problem": face_problem_card(name, G.cpu(), folder, samples, facenet),
            "deviations_from_paper": deviations(training["config"]) + list(notes or []),
            "measured_on": platform.platform(),
        }
        (folder / f"{name}.json").write_text(json.dumps(card, indent=2))
    stage(f"wrote {weights.name}, {name}.json and {name}.png")
    return card

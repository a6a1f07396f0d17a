"""Ship a trained DCGAN: weights, measured quality figures and a model card.

``export_dcgan`` reads a training folder (``bench train-generator``), measures
the generator (``bench.generators.quality``) and writes into the weights
folder::

    NAME.pt          {"arch": {...}, "state_dict": {...}} (float32)
    NAME.json        the model card: data and split, training settings, time and
                     device, sha256 of NAME.pt, quality figures, deviations
    NAME.png         64 samples
    NAME-classifier.pt   (digits only) the classifier behind the figures
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
from bench.generators.dcgan_training import CHECKPOINT, load_trained_generator
from bench.generators.quality import (
    accuracy,
    digit_quality,
    face_detection_rate,
    frechet_floor,
    train_classifier,
)
from bench.generators.zoo import WEIGHTS_DIR, sha256_file

from bench.datasets import LabelledImages
from bench.generator import to_uint8
from bench.images import save_grid
from bench.provenance import utc_now

PAPER_EPOCHS = {"dcgan-mnist": 200, "dcgan-fashion": 800, "dcgan-faces": 1000}


def export_dcgan(
    name: str,
    train_dir: Path,
    data: LabelledImages,
    out_dir: Path = WEIGHTS_DIR,
    samples: int | None = None,
    seed: int = 0,
    notes: list[str] | None = None,
) -> dict:
    """Measure the generator of ``train_dir`` and write its weights, card and grid.

    Args:
        name: Generator name, e.g. ``"dcgan-mnist"``.
        train_dir: Folder with ``checkpoint.pt`` from ``bench train-generator``.
        data: The same split it was trained on (held-out images for the figures).
        out_dir: Where to write the files.
        samples: Generated samples measured (default 10,000 digits, 1,000 faces).
        seed: Seed of those samples' latents (and of the classifier).
        notes: Extra deviations or remarks for the card.

    Returns:
        The model card.

    """
    train_dir, out_dir = Path(train_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = torch.load(train_dir / CHECKPOINT, map_location="cpu", weights_only=False)
    cfg, log = ckpt["config"], ckpt["log"]
    G = load_trained_generator(train_dir)
    weights = out_dir / f"{name}.pt"
    arch = {"img_resolution": G.img_resolution, "img_channels": G.img_channels, "z_dim": G.z_dim}
    torch.save({"arch": arch, "state_dict": G.state_dict()}, weights)
    grid_z = np.random.default_rng(np.random.SeedSequence(seed)).normal(size=(64, G.z_dim))
    save_grid(to_uint8(G.generate(grid_z)), out_dir / f"{name}.png", ncol=8)

    if G.img_channels == 1:
        clf = train_classifier(data.train, data.train_labels, seed=seed)
        clf_path = out_dir / f"{name}-classifier.pt"
        torch.save(clf.state_dict(), clf_path)
        quality = {
            "classifier": {
                "file": clf_path.name,
                "sha256": sha256_file(clf_path),
                "heldout_accuracy": accuracy(clf, data.heldout, data.heldout_labels),
                "heldout_images": len(data.heldout),
            },
            **digit_quality(G, clf, data.heldout, n=samples or 10_000, seed=seed),
        }
        # The floor of the Fréchet distance: real training vs real held-out images.
        quality["frechet_distance_real_vs_real"] = frechet_floor(clf, data.train, data.heldout)
    else:
        # Same figures as StyleGAN2's card, so the face problem's default can be chosen on them.
        from bench.generators.stylegan2_export import facenet_frechet
        from bench.problems.facenet_weights import load_facenet

        n = samples or 1000
        quality = {
            **face_detection_rate(G, n=n, seed=seed),
            "facenet_frechet": {
                "weights": "casia-webface",
                **facenet_frechet(G, data, load_facenet("casia-webface"), n, seed),
            },
        }
    seconds = sum(e["seconds"] for e in log["epochs"])
    deviations = [
        f"{ckpt['epoch']} epochs instead of the study's {PAPER_EPOCHS.get(name, '?')} "
        f"(CPU time; {len(data.train)} training images)",
        "weights initialised with PyTorch defaults (the study used Keras defaults)",
        "discriminator outputs a logit; the sigmoid is inside BCEWithLogits (same loss)",
    ]
    card = {
        "name": name,
        "architecture": "DCGAN of the set-diversity study (seeds digest §2)",
        "arch": arch,
        "weights": {"file": weights.name, "sha256": sha256_file(weights), "dtype": "float32"},
        "data": data.description,
        "training": {
            **cfg,
            "epochs_done": ckpt["epoch"],
            "images_seen": log["epochs"][-1]["images_seen"] if log["epochs"] else 0,
            "seconds": seconds,
            "device": log.get("device"),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "torch_threads": log.get("torch_threads"),
            "final_losses": {k: log["epochs"][-1][k] for k in ("loss_d", "loss_g")}
            if log["epochs"]
            else None,
        },
        "quality": quality,
        **({"face_problem": _face_calibration(name, weights)} if G.img_channels == 3 else {}),
        "deviations_from_paper": deviations + list(notes or []),
        "exported": utc_now(),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def _face_calibration(name: str, weights: Path) -> dict:
    """Crop box and measure axes of the face problem, written beside ``weights``."""
    from bench.generators.zoo import load_dcgan
    from bench.problems.face_calibration import face_problem_card

    return face_problem_card(name, load_dcgan(name, weights), weights.parent)

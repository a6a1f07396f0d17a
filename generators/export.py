"""Ship a trained DCGAN: weights, measured quality figures and a model card.

``export_dcgan`` reads a training folder (``bench train-generator``), measures
the generator (``bench.generators.quality``) and writes into the weights
folder::

    NAME.pt          {"arch": {...}, "state_dict": {...}} (float32)
    NAME.json        the model card: data and split, training settings, time and
                     device, sha256 of NAME.pt, quality figures, deviations
    NAME.png         64 samples
    NAME-classifier.pt   (digits only) the classifier behind the figures

An export is all or nothing (``staged_export``, shared with the StyleGAN2
export): every file is written into a hidden folder beside its destination and
moved into place only once all measurements are done, so a failed or
interrupted export leaves the previous files (by default the shipped ones) as
they were. The data given must be the data the model was trained on
(``check_training_data``): a model card's held-out figures are worthless on
images the model has seen.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from bench.generators.dcgan import DCGANGenerator
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
from bench.results import remove_orphaned_folders

PAPER_EPOCHS = {"dcgan-mnist": 200, "dcgan-fashion": 800, "dcgan-faces": 1000}
DIGIT_SAMPLES = 10_000  # generated samples measured by default (what the shipped cards used)
FACE_SAMPLES = 1000


class ExportError(ValueError):
    """An export that cannot be made as asked (e.g. data other than the training data)."""


def check_training_data(recorded: str | None, data: LabelledImages) -> None:
    """Refuse data other than the split the model was trained on.

    A model trained from a face pack (``bench pack-dataset``) records the photos'
    description followed by ``"; packed: ..."``; the photos themselves match it.

    Args:
        recorded: The data description its training log recorded (None: not recorded).
        data: The data given to the export.

    Raises:
        ExportError: The descriptions differ (another folder, size or held-out split).

    """
    given = data.description
    if recorded is None or recorded == given or recorded.startswith(f"{given}; packed: "):
        return
    raise ExportError(
        f"the model was trained on \"{recorded}\", but the data given is \"{given}\": export "
        "with the data it was trained on, so that its held-out images were never trained on"
    )


def stage_reporter(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    """A function that passes ``message`` to ``progress`` after the seconds since this call."""
    t0 = time.perf_counter()

    def stage(message: str) -> None:
        if progress is not None:
            progress(f"{time.perf_counter() - t0:6.0f} s  {message}")

    return stage


@contextlib.contextmanager
def staged_export(out_dir: Path, name: str) -> Iterator[Path]:
    """A hidden folder in ``out_dir`` to write an export into, published all at once.

    When the block ends without error, every file in the folder moves into
    ``out_dir`` (``os.replace``, same file system), the card ``NAME.json`` last.
    On any error, Ctrl-C included, the folder is deleted and ``out_dir`` keeps
    its previous files untouched. A folder left behind by a killed export is
    deleted by the next export of ``name`` into ``out_dir``.

    Args:
        out_dir: Destination folder (created).
        name: Generator name (names the staging folder).

    Yields:
        The staging folder; write the files into it under their final names.

    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_orphaned_folders(out_dir, f".{name}.export-")  # of killed exports
    folder = Path(tempfile.mkdtemp(prefix=f".{name}.export-{os.getpid()}-", dir=out_dir))
    try:
        yield folder
        card = folder / f"{name}.json"
        for path in sorted(folder.iterdir(), key=lambda p: (p == card, p.name)):
            os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def export_dcgan(
    name: str,
    train_dir: Path,
    data: LabelledImages,
    out_dir: Path = WEIGHTS_DIR,
    samples: int | None = None,
    seed: int = 0,
    notes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure the generator of ``train_dir`` and write its weights, card and grid.

    Measuring takes minutes on a CPU; ``progress`` hears of each stage. Nothing in
    ``out_dir`` changes until every measurement is done (``staged_export``).

    Args:
        name: Generator name, e.g. ``"dcgan-mnist"``.
        train_dir: Folder with ``checkpoint.pt`` from ``bench train-generator``.
        data: The same split it was trained on (held-out images for the figures).
        out_dir: Where to write the files.
        samples: Generated samples measured (default 10,000 digits, 1,000 faces).
        seed: Seed of those samples' latents (and of the classifier).
        notes: Extra deviations or remarks for the card.
        progress: Called with a line as each stage starts (e.g. ``print``).

    Returns:
        The model card.

    Raises:
        ExportError: ``data`` is not the data the checkpoint was trained on.
        WeightsError: Faces, and no FaceNet weights (before anything is measured).

    """
    stage = stage_reporter(progress)
    train_dir, out_dir = Path(train_dir), Path(out_dir)
    ckpt = torch.load(train_dir / CHECKPOINT, map_location="cpu", weights_only=False)
    recorded = ckpt["log"].get("data")
    check_training_data(recorded, data)
    G = load_trained_generator(train_dir)
    faces = G.img_channels == 3
    n = samples or (FACE_SAMPLES if faces else DIGIT_SAMPLES)
    if faces:  # fail now, not after minutes of measuring
        from bench.problems.facenet_weights import load_facenet

        facenet = load_facenet("casia-webface")
    arch = {"img_resolution": G.img_resolution, "img_channels": G.img_channels, "z_dim": G.z_dim}
    with staged_export(out_dir, name) as folder:
        weights = folder / f"{name}.pt"
        torch.save({"arch": arch, "state_dict": G.state_dict()}, weights)
        grid_z = np.random.default_rng(np.random.SeedSequence(seed)).normal(size=(64, G.z_dim))
        save_grid(to_uint8(G.generate(grid_z)), folder / f"{name}.png", ncol=8)
        if faces:
            quality = _face_quality(G, data, facenet, n, seed, stage)
            stage(f"face problem: crop box (MTCNN) and measure axes (FaceNet) on {n} samples")
            extra = {"face_problem": _face_calibration(name, weights, n)}
        else:
            quality, extra = _digit_quality(name, G, data, folder, n, seed, stage), {}
        card = {
            "name": name,
            "architecture": "DCGAN of the set-diversity study (seeds digest §2)",
            "arch": arch,
            "weights": {"file": weights.name, "sha256": sha256_file(weights), "dtype": "float32"},
            "data": recorded or data.description,
            "training": _training_summary(ckpt),
            "quality": quality,
            **extra,
            "deviations_from_paper": _deviations(name, ckpt, data, recorded) + list(notes or []),
            "exported": utc_now(),
        }
        (folder / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    stage(f"wrote {name}.pt, {name}.json and {name}.png")
    return card


def _digit_quality(
    name: str,
    G: DCGANGenerator,
    data: LabelledImages,
    folder: Path,
    n: int,
    seed: int,
    stage: Callable[[str], None],
) -> dict:
    """Classifier figures of ``n`` samples; writes ``NAME-classifier.pt`` into ``folder``."""
    stage(f"classifier: training on {len(data.train)} real images")
    clf = train_classifier(data.train, data.train_labels, seed=seed)
    clf_path = folder / f"{name}-classifier.pt"
    torch.save(clf.state_dict(), clf_path)
    stage(f"classifier figures on {n} samples and {len(data.heldout)} held-out images")
    quality = {
        "classifier": {
            "file": clf_path.name,
            "sha256": sha256_file(clf_path),
            "heldout_accuracy": accuracy(clf, data.heldout, data.heldout_labels),
            "heldout_images": len(data.heldout),
        },
        **digit_quality(G, clf, data.heldout, n=n, seed=seed),
    }
    # The floor of the Fréchet distance: real training vs real held-out images.
    quality["frechet_distance_real_vs_real"] = frechet_floor(clf, data.train, data.heldout)
    return quality


def _face_quality(
    G: DCGANGenerator,
    data: LabelledImages,
    facenet: torch.nn.Module,
    n: int,
    seed: int,
    stage: Callable[[str], None],
) -> dict:
    """Same figures as StyleGAN2's card, so the face problem's default can be chosen on them."""
    from bench.generators.stylegan2_export import facenet_frechet, heldout_faces

    stage(f"MTCNN face rate on {n} samples")
    rate = face_detection_rate(G, n=n, seed=seed)
    stage(
        f"FaceNet Fréchet distance: {n} samples, {heldout_faces(n, data)} held-out and "
        f"{min(n, len(data.train))} training faces"
    )
    frechet = facenet_frechet(G, data, facenet, n, seed)
    return {**rate, "facenet_frechet": {"weights": "casia-webface", **frechet}}


def _training_summary(ckpt: dict) -> dict:
    """The card's ``training``: settings, epochs, images seen, time, device, final losses."""
    log = ckpt["log"]
    return {
        **ckpt["config"],
        "epochs_done": ckpt["epoch"],
        "images_seen": log["epochs"][-1]["images_seen"] if log["epochs"] else 0,
        "seconds": sum(e["seconds"] for e in log["epochs"]),
        "device": log.get("device"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch_threads": log.get("torch_threads"),
        "final_losses": {k: log["epochs"][-1][k] for k in ("loss_d", "loss_g")}
        if log["epochs"]
        else None,
    }


def _time_on(device: str | None) -> str:
    """What bounded the epochs: ``"CPU time"``, ``"GPU time"`` (``cuda:N``), or plain time."""
    kind = str(device or "").split(":")[0]
    return {"cpu": "CPU time", "cuda": "GPU time"}.get(kind, "training time")


def _deviations(name: str, ckpt: dict, data: LabelledImages, recorded: str | None) -> list[str]:
    out = [
        f"{ckpt['epoch']} epochs instead of the study's {PAPER_EPOCHS.get(name, '?')} "
        f"({_time_on(ckpt['log'].get('device'))}; {len(data.train)} training images)",
        "weights initialised with PyTorch defaults (the study used Keras defaults)",
        "discriminator outputs a logit; the sigmoid is inside BCEWithLogits (same loss)",
    ]
    if recorded is None:
        out.append(
            "the training checkpoint does not record its data: 'data' is what the export "
            "was given, not checked against the training data"
        )
    return out


def _face_calibration(name: str, weights: Path, samples: int) -> dict:
    """Crop box and measure axes of the face problem on ``samples`` faces, beside ``weights``."""
    from bench.generators.zoo import load_dcgan
    from bench.problems.face_calibration import face_problem_card

    return face_problem_card(name, load_dcgan(name, weights), weights.parent, samples)

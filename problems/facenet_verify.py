"""Proof that FaceNet weights are right: verification on labelled photo pairs.

The pairs folder holds photos and a ``master.csv`` with columns ``file_x``,
``file_y``, ``Decision`` (``Yes`` = same person). Every photo is aligned once
(largest face), embedded, and each pair's L2 distance is compared with a
threshold; the report gives the accuracy at the best threshold and the mean
distances of same-person and different-person pairs. A faithful CASIA-WebFace
import separates the faces-pairs set (300 pairs, 38 same) perfectly, with mean
distances near 0.68 and 1.41.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bench.problems.face_targets import FaceAligner, embed_faces

PAIRS_FILE = "master.csv"


@dataclass(frozen=True)
class PairSet:
    """Labelled pairs over a set of photos.

    Attributes:
        files: The distinct photos, sorted.
        pairs: ``[P, 2]`` indices into ``files``.
        same: ``[P]`` bool, True for same-person pairs.

    """

    files: tuple[Path, ...]
    pairs: np.ndarray
    same: np.ndarray


@dataclass(frozen=True)
class Verification:
    """Figures of one verification.

    Attributes:
        accuracy: Fraction of pairs classified right at ``threshold``.
        threshold: The best distance threshold (same person below it).
        mean_same: Mean distance of same-person pairs.
        mean_different: Mean distance of different-person pairs.
        max_same: Largest same-person distance.
        min_different: Smallest different-person distance.
        pairs: Number of pairs.
        same_pairs: Number of same-person pairs.

    """

    accuracy: float
    threshold: float
    mean_same: float
    mean_different: float
    max_same: float
    min_different: float
    pairs: int
    same_pairs: int


def read_pairs(folder: Path) -> PairSet:
    """Read ``folder/master.csv``; raise ``ValueError`` naming what is wrong.

    Args:
        folder: Holds ``master.csv`` and the photos it names.

    Returns:
        The pairs; ``Decision`` is ``Yes`` or ``No`` in any case.

    Raises:
        ValueError: No such file, columns missing, or a row with an empty photo name
            or a ``Decision`` other than Yes or No (the message names its line).

    """
    path = Path(folder) / PAIRS_FILE
    if not path.is_file():
        raise ValueError(f"{folder} has no {PAIRS_FILE} (columns file_x, file_y, Decision)")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [(reader.line_num, row) for row in reader]
    if not rows or not {"file_x", "file_y", "Decision"} <= set(rows[0][1]):
        raise ValueError(f"{path}: expected columns file_x, file_y, Decision")
    same = np.array([_decision(path, line, row) for line, row in rows], dtype=bool)
    names = sorted({r["file_x"] for _, r in rows} | {r["file_y"] for _, r in rows})
    index = {n: i for i, n in enumerate(names)}
    pairs = np.array([[index[r["file_x"]], index[r["file_y"]]] for _, r in rows], dtype=np.int64)
    return PairSet(tuple(Path(folder) / n for n in names), pairs, same)


def _decision(path: Path, line: int, row: dict[str, str | None]) -> bool:
    """Whether a ``master.csv`` row is a same-person pair; ``ValueError`` for a bad row."""
    if not row.get("file_x") or not row.get("file_y"):
        raise ValueError(f"{path} line {line}: file_x and file_y must both name a photo")
    decision = (row.get("Decision") or "").strip()
    if decision.lower() not in ("yes", "no"):
        raise ValueError(f"{path} line {line}: Decision must be Yes or No, got {decision!r}")
    return decision.lower() == "yes"


def align_all(files: tuple[Path, ...], aligner: FaceAligner) -> torch.Tensor:
    """Aligned faces ``[N, 3, 160, 160]`` (0..255) of ``files``, largest face each."""
    return torch.stack([aligner.align(f).face for f in files])


def verify(embeddings: np.ndarray, pair_set: PairSet) -> Verification:
    """Score embeddings ``[N, 512]`` (rows in ``pair_set.files`` order) on the pairs."""
    d = np.linalg.norm(embeddings[pair_set.pairs[:, 0]] - embeddings[pair_set.pairs[:, 1]], axis=1)
    same = pair_set.same
    cuts = np.unique(d)
    candidates = np.concatenate([[cuts[0] - 1e-6], (cuts[:-1] + cuts[1:]) / 2, [cuts[-1] + 1e-6]])
    acc = np.array([np.mean((d < t) == same) for t in candidates])
    best = int(np.argmax(acc))
    return Verification(
        accuracy=float(acc[best]),
        threshold=float(candidates[best]),
        mean_same=float(d[same].mean()) if same.any() else float("nan"),
        mean_different=float(d[~same].mean()) if (~same).any() else float("nan"),
        max_same=float(d[same].max()) if same.any() else float("nan"),
        min_different=float(d[~same].min()) if (~same).any() else float("nan"),
        pairs=len(d),
        same_pairs=int(same.sum()),
    )


def verify_folder(
    folder: Path, model: torch.nn.Module, aligner: FaceAligner
) -> tuple[Verification, dict[str, float]]:
    """Align, embed and verify every pair of ``folder``.

    Returns:
        ``(figures, timings)``; timings hold ``align_seconds``, ``embed_seconds``, ``images``.

    """
    pair_set = read_pairs(folder)
    start = time.perf_counter()
    faces = align_all(pair_set.files, aligner)
    mid = time.perf_counter()
    emb = embed_faces(model, faces)
    end = time.perf_counter()
    timings = {"align_seconds": mid - start, "embed_seconds": end - mid, "images": len(faces)}
    return verify(emb, pair_set), timings

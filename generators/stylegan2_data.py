"""Face photos for StyleGAN2 training, decoded once and kept in the suite's cache.

Reading and resizing UTKFace's 23,708 JPEGs takes a minute or more, which every
chunk of a chunked training run (under 10 minutes each) would pay again. The
split of ``bench.datasets.load_face_split`` is therefore stored as ``.npz`` under
``bench.cache.cache_dir("datasets")``, keyed by the photo files' names, sizes and
modification times, the resolution and the held-out count; a changed folder gets
a new key. The cache is derived data on this machine, never part of the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from bench.cache import cache_dir
from bench.datasets import LabelledImages, load_face_split


def _fingerprint(folder: Path, resolution: int, heldout: int) -> str:
    files = sorted(
        (str(p.relative_to(folder)), p.stat().st_size, int(p.stat().st_mtime))
        for p in folder.rglob("*")
        if p.is_file()
    )
    blob = json.dumps([str(folder.resolve()), resolution, heldout, files]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def cached_face_split(root: Path, resolution: int = 64, heldout: int = 2000) -> LabelledImages:
    """``load_face_split(root, resolution, heldout)``, read from the cache when it is there.

    Args:
        root: The data directory (photos under ``root/utkface``).
        resolution: Height and width.
        heldout: Photos held out (never trained on).

    Returns:
        The split, identical to ``load_face_split``'s.

    Raises:
        DataError: No photos (from ``load_face_split``).

    """
    folder = Path(root) / "utkface"
    if not folder.is_dir():
        return load_face_split(root, resolution, heldout)  # raises its DataError
    key = _fingerprint(folder, resolution, heldout)
    path = cache_dir("datasets") / f"utkface-{resolution}-{key}.npz"
    if path.is_file():
        with np.load(path) as f:
            return LabelledImages(f["train"], None, f["heldout"], None, str(f["description"]))
    data = load_face_split(root, resolution, heldout)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, train=data.train, heldout=data.heldout, description=data.description)
    os.replace(tmp, path)
    return data

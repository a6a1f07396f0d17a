"""Image datasets read from a data directory: MNIST-style IDX files and face photos.

The data directory comes from a flag (``--data-dir``) or the environment variable
``LATENT_BENCH_DATA``. It holds one folder per dataset::

    DATA/mnist/t10k-images-idx3-ubyte.gz     (train-* too where available)
    DATA/fashion-mnist/train-images-idx3-ubyte.gz ...
    DATA/utkface/*.tar  or  DATA/utkface/**/*.jpg

IDX files may be gzipped or not. Nothing is downloaded here; a missing file
raises ``DataError`` with a message that says where to get it.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

DATA_ENV = "LATENT_BENCH_DATA"

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

SOURCES = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ (or torchvision.datasets.MNIST"
    "(root, download=True)); put the *-idx?-ubyte(.gz) files in DATA/mnist/",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist (or Debian's "
    "dataset-fashion-mnist); put the *-idx?-ubyte(.gz) files in DATA/fashion-mnist/",
    "utkface": "https://susanqq.github.io/UTKFace/ ('Aligned & Cropped Faces'); put the tar "
    "or the extracted folder of *.jpg files in DATA/utkface/",
}


class DataError(FileNotFoundError):
    """A dataset is missing or unreadable; the message says how to get it."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path`` if given, else ``$LATENT_BENCH_DATA``.

    Raises:
        DataError: Neither is set, or the folder does not exist.

    """
    chosen = path if path is not None else os.environ.get(DATA_ENV)
    if not chosen:
        raise DataError(f"no data directory: pass --data-dir DIR or set ${DATA_ENV}")
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise DataError(f"data directory {folder} does not exist")
    return folder


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of its stored shape and type.

    Args:
        path: File such as ``t10k-images-idx3-ubyte.gz``.

    Returns:
        The array, e.g. ``[N, 28, 28]`` uint8 for images or ``[N]`` uint8 for labels.

    Raises:
        DataError: The file is not a valid IDX file.

    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: truncated or corrupt IDX file ({len(raw) - header} bytes of data, "
            f"shape {list(shape)} needs {expected})"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_split(name: str, split: str, root: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images and labels of one split of an MNIST-style dataset.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"`` (the folder under ``root``).
        split: ``"train"`` or ``"test"`` (files ``train-*`` and ``t10k-*``).
        root: The data directory.

    Returns:
        ``(images [N, 28, 28] uint8, labels [N] uint8 or None if absent)``.

    Raises:
        DataError: The images of that split are missing.

    """
    prefix = {"train": "train", "test": "t10k"}[split]
    folder = Path(root) / name
    images = _find(folder, f"{prefix}-images-idx3-ubyte")
    if images is None:
        raise DataError(
            f"{name} {split} images not found in {folder} "
            f"(expected {prefix}-images-idx3-ubyte[.gz]); get them from {SOURCES[name]}"
        )
    labels = _find(folder, f"{prefix}-labels-idx1-ubyte")
    x = read_idx(images)
    y = read_idx(labels) if labels is not None else None
    if y is not None and len(y) != len(x):
        raise DataError(f"{folder}: {len(x)} images but {len(y)} labels in the {split} split")
    return x, y


@dataclass(frozen=True)
class LabelledImages:
    """A dataset split for training and evaluation.

    Attributes:
        train: ``[N, H, W, C]`` uint8 images a model may learn from.
        train_labels: ``[N]`` class labels, or ``None``.
        heldout: ``[M, H, W, C]`` uint8 images never trained on (for quality figures).
        heldout_labels: ``[M]`` class labels, or ``None``.
        description: Which files and which split, for model cards.

    """

    train: np.ndarray
    train_labels: np.ndarray | None
    heldout: np.ndarray
    heldout_labels: np.ndarray | None
    description: str


def load_digits_like(name: str, root: Path, heldout: int = 2000) -> LabelledImages:
    """Training and held-out images of MNIST or Fashion-MNIST.

    With both splits present, ``train`` is the training split and ``heldout`` the
    test split. With only the test split (offline MNIST), its first
    ``len - heldout`` images are for training and the last ``heldout`` are held out.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        root: The data directory.
        heldout: Held-out images taken from the test split when no train split exists.

    Returns:
        The split, images ``[N, 28, 28, 1]`` uint8.

    Raises:
        DataError: The test split is missing, or (with no train split) unlabelled or
            no larger than ``heldout``.

    """
    try:
        xtr, ytr = load_idx_split(name, "train", root)
    except DataError:
        xtr = None
    xte, yte = load_idx_split(name, "test", root)
    if xtr is not None:
        desc = f"{name}: train split ({len(xtr)} images); held out: test split ({len(xte)})"
        return LabelledImages(xtr[..., None], ytr, xte[..., None], yte, desc)
    if yte is None:
        raise DataError(f"{name}: test labels are needed to split the test images")
    if not 0 <= heldout < len(xte):
        raise DataError(
            f"{len(xte)} {name} test images and no train split under {Path(root) / name}: "
            f"cannot hold out {heldout} and still train on some"
        )
    cut = len(xte) - heldout
    desc = (
        f"{name}: no train split available; first {cut} images of the test split for "
        f"training, last {heldout} held out"
    )
    return LabelledImages(xte[:cut, ..., None], yte[:cut], xte[cut:, ..., None], yte[cut:], desc)


def _face_sources(folder: Path) -> Iterator[tuple[str, bytes]]:
    """``(name, jpeg bytes)`` of every face photo in ``folder`` (tars and loose files), sorted.

    A photo is read once by its file name: a folder holding both the tar and the
    photos extracted from it would otherwise put every face in twice, some on
    both sides of the held-out split (UTKFace's names, age_gender_race_time, are
    unique).
    """
    seen: set[str] = set()
    loose = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for p in loose:
        if p.name not in seen:
            seen.add(p.name)
            yield str(p.relative_to(folder)), p.read_bytes()
    for tar_path in sorted(folder.glob("*.tar*")):
        try:
            with tarfile.open(tar_path) as tar:
                members = sorted(
                    (m for m in tar.getmembers() if m.isfile() and ".jpg" in m.name.lower()),
                    key=lambda m: m.name,
                )
                for m in members:
                    name = Path(m.name).name
                    f = None if name in seen else tar.extractfile(m)
                    if f is not None:
                        seen.add(name)
                        yield m.name, f.read()
        except tarfile.TarError as exc:
            raise DataError(f"{tar_path}: unreadable tar ({exc})") from exc


def load_faces(root: Path, resolution: int = 64, limit: int | None = None) -> np.ndarray:
    """Face photos of UTKFace (or any folder of aligned face photos), resized.

    Photos are read in name order (deterministic), converted to RGB and resized
    with a Lanczos filter. Unreadable photos are skipped.

    Args:
        root: The data directory (photos under ``root/utkface``).
        resolution: Output height and width.
        limit: Read at most this many photos.

    Returns:
        ``[N, resolution, resolution, 3]`` uint8.

    Raises:
        DataError: No photos were found.

    """
    folder = Path(root) / "utkface"
    if not folder.is_dir():
        raise DataError(
            f"face photos not found: no folder {folder}; get them from {SOURCES['utkface']}"
        )
    out = []
    for _, blob in _face_sources(folder):
        try:
            with Image.open(io.BytesIO(blob)) as im:
                im = im.convert("RGB").resize((resolution, resolution), Image.Resampling.LANCZOS)
                out.append(np.asarray(im, dtype=np.uint8))
        except (UnidentifiedImageError, OSError):
            continue
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise DataError(f"no readable face photos in {folder}; get them from {SOURCES['utkface']}")
    return np.stack(out)


def load_face_split(root: Path, resolution: int = 64, heldout: int = 2000) -> LabelledImages:
    """UTKFace split at random (fixed seed 0) into training photos and ``heldout`` held out.

    File names start with the age, so a split in name order would hold out one
    age group; a seeded permutation does not.
    """
    faces = load_faces(root, resolution)
    if not 0 <= heldout < len(faces):
        raise DataError(
            f"{len(faces)} face photos under {Path(root) / 'utkface'}: cannot hold out {heldout} "
            "and still train on some"
        )
    order = np.random.default_rng(np.random.SeedSequence(0)).permutation(len(faces))
    cut = len(faces) - heldout
    desc = (
        f"utkface aligned & cropped, {len(faces)} photos resized to {resolution}x{resolution}; "
        f"a seeded permutation (seed 0) keeps {cut} for training and holds out {heldout}"
    )
    return LabelledImages(faces[order[:cut]], None, faces[order[cut:]], None, desc)

"""Face photos for StyleGAN2 training, decoded once and kept in the suite's cache.

Reading and resizing UTKFace's 23,708 JPEGs takes a minute or more, which every
chunk of a chunked training run (under 10 minutes each) would pay again. The
split of ``bench.datasets.load_face_split`` is therefore stored as ``.npz`` under
``bench.cache.cache_dir("datasets")``, keyed by the photo files' names, sizes and
modification times, the resolution and the held-out count; a changed folder gets
a new key. The cache is derived data on this machine, never part of the repository.

A *pack* (:func:`write_face_pack`, ``bench pack-dataset``) is the training part
of that split in one portable file small enough to travel to a lent GPU machine
(whose working tree is limited to 64 MiB, the repository included): every image
WebP-encoded (quality 90 by default: UTKFace's 21,707 training faces at 64 px
take 27 MiB, 38.9 dB PSNR against the decoded photos; ``max_bytes`` lowers the
quality until the pack fits), with the measured PSNR recorded in the pack and in
the description a model card quotes. A pack is for training: it records how many
photos were held out, not the photos, since figures that compare generated faces
with real ones (``bench export-generator``) read the photos themselves. Packs of
the first format, which stored the held-out faces too, still read.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from bench.atomic_file import write_atomically
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
    _atomic_savez(path, train=data.train, heldout=data.heldout, description=data.description)
    return data


def _atomic_savez(path: Path, **arrays: object) -> None:
    """``np.savez`` to a temporary name beside ``path``, then rename; no leftover on failure."""
    write_atomically(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


PACK_FORMAT = "latent-bench face pack 2"  # training faces only
_PACK_FORMATS = (PACK_FORMAT, "latent-bench face pack 1")  # 1 also held the held-out faces
_FIT_SAMPLE = 1000  # faces encoded at each quality to foresee a pack's size
_MIN_QUALITY = 30  # below this, WebP faces are too blocky to train on


def _encode(images: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, H, W, C]`` uint8 as one WebP byte string and its ``[N]`` lengths."""
    blobs = []
    for image in images:
        buf = io.BytesIO()
        pil = Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
        pil.save(buf, "WEBP", quality=quality, method=6)
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    sizes = np.array([len(b) for b in blobs], np.int64)
    return np.concatenate(blobs) if blobs else np.zeros(0, np.uint8), sizes


def _decode(
    blob: np.ndarray, sizes: np.ndarray, channels: int, resolution: int
) -> np.ndarray:
    """Inverse of :func:`_encode`: ``[N, resolution, resolution, channels]`` uint8."""
    if len(sizes) == 0:
        return np.zeros((0, resolution, resolution, channels), np.uint8)
    mode = "RGB" if channels == 3 else "L"
    ends = np.cumsum(sizes)
    images = [
        np.asarray(Image.open(io.BytesIO(blob[end - size : end].tobytes())).convert(mode))
        for size, end in zip(sizes, ends, strict=True)
    ]
    out = np.stack(images)
    return out if channels == 3 else out[..., None]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of uint8 images ``b`` against ``a`` (same shape)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _qualities(quality: int) -> list[int]:
    """``quality`` and then every multiple of 5 below it, down to ``_MIN_QUALITY``."""
    return [quality, *(q for q in range(95, _MIN_QUALITY - 1, -5) if q < quality)]


def _foreseen_bytes(train: np.ndarray, quality: int) -> float:
    """The bytes of a pack's images at ``quality``, from an even sample of ``_FIT_SAMPLE``.

    The file adds a kilobyte or so (headers, ``info``): the file itself is checked.
    """
    step = max(1, len(train) // _FIT_SAMPLE)
    _, sizes = _encode(train[::step][:_FIT_SAMPLE], quality)
    return float(sizes.mean()) * len(train)


def write_face_pack(
    data: LabelledImages, path: Path, quality: int = 90, max_bytes: int | None = None
) -> dict:
    """Write the training faces of a split as a portable pack of WebP images.

    With ``max_bytes`` the pack is written at ``quality`` or, where it would not
    fit, at the highest of the multiples of 5 below it (down to 30) at which it
    does: sizes are foreseen from a sample of 1,000 faces and checked on the file.

    Args:
        data: ``train`` ``[N, R, R, C]`` uint8; of ``heldout`` only the count is kept.
        path: The ``.npz`` file to write (atomically).
        quality: WebP quality of the training images, 1–100 (the highest tried).
        max_bytes: The most bytes the pack may take, or ``None`` for no limit.

    Returns:
        What the pack holds: counts, resolution, codec (with the quality used),
        PSNR, bytes, sha256.

    Raises:
        ValueError: A quality outside 1–100, ``path`` is a folder, or the pack
            does not fit ``max_bytes`` even at quality 30.

    """
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be within 1..100, got {quality}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; name the pack file, e.g. {path / 'pack.npz'}")
    candidates = [quality] if max_bytes is None else _qualities(quality)
    if max_bytes is not None:  # the first quality foreseen to fit, the lowest one at worst
        fit = next((q for q in candidates if _foreseen_bytes(data.train, q) <= max_bytes), None)
        candidates = candidates[candidates.index(fit) :] if fit is not None else candidates[-1:]
    from bench.provenance import sha256_file

    for q in candidates:
        info = _write_pack(data, path, q)
        size = path.stat().st_size
        if max_bytes is None or size <= max_bytes:
            return {**info, "bytes": size, "sha256": sha256_file(path)}
    path.unlink()
    raise ValueError(
        f"{len(data.train)} faces take {size / 2**20:.1f} MiB even at WebP quality "
        f"{candidates[-1]}, over the {max_bytes / 2**20:.1f} MiB allowed; allow more room "
        "or pack at a lower --resolution"
    )


def _write_pack(data: LabelledImages, path: Path, quality: int) -> dict:
    """Write the pack of ``data`` at one ``quality``; return its ``info``."""
    train_blob, train_sizes = _encode(data.train, quality)
    channels, resolution = int(data.train.shape[-1]), int(data.train.shape[1])
    decoded = _decode(train_blob, train_sizes, channels, resolution)
    info = {
        "format": PACK_FORMAT,
        "train": len(data.train),
        "heldout": len(data.heldout),  # held out of training; their photos are not packed
        "resolution": resolution,
        "channels": channels,
        "codec": f"WebP quality {quality}",
        "train_psnr_db": round(psnr(data.train, decoded), 2),
        "source": data.description,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_savez(path, train_blob=train_blob, train_sizes=train_sizes, info=json.dumps(info))
    return info


def read_face_pack(path: Path) -> LabelledImages:
    """The split stored by :func:`write_face_pack`.

    Args:
        path: A pack file.

    Returns:
        The decoded training faces ``[N, R, R, C]`` uint8; ``heldout`` is empty
        (``[0, R, R, C]``) but in packs of the first format, which stored those
        faces too. The description names the source, the codec and the PSNR.

    Raises:
        DataError: No such file, or not a pack.

    """
    from bench.datasets import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"no face pack at {path}: write one with `bench pack-dataset utkface --out {path}`"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            info = json.loads(str(f["info"]))
            if info.get("format") not in _PACK_FORMATS:
                raise DataError(f"{path} is not a face pack ({info.get('format')!r})")
            channels, resolution = info["channels"], info["resolution"]
            train = _decode(f["train_blob"], f["train_sizes"], channels, resolution)
            heldout = (
                _decode(f["heldout_blob"], f["heldout_sizes"], channels, resolution)
                if "heldout_blob" in f.files
                else np.zeros((0, resolution, resolution, channels), np.uint8)
            )
    except (OSError, ValueError, KeyError) as exc:
        # NumPy's own text for a file that is no .npz advises allow_pickle=, an unsafe step
        raise DataError(
            f"{path} is not a readable face pack ({type(exc).__name__}); write one with "
            "`bench pack-dataset utkface`"
        ) from exc
    desc = f"{info['source']}; packed: {info['codec']} ({info['train_psnr_db']} dB PSNR)"
    return LabelledImages(train, None, heldout, None, desc)

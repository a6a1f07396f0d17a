"""The target of a face problem as a picture, to show beside the best faces.

- ``seed:N``: the registered generator named in the run records makes the face
  of latent ``bench.problems.face.seed_latent(N, z_dim)`` (the same face in Z, W
  and W+ searches), with the weight file the runs used if they named one;
- photo paths (comma separated): the first photo, upright by its EXIF
  orientation (``bench.problems.face_targets.load_photo``), shrunk to at most
  ``MAX_SIDE`` pixels.

A target is also shown as FaceNet saw it, resized to ``FACENET_SIDE`` pixels: for
``seed:N``, the problem's recorded ``crop_box`` of the face; for photos, the first
photo's ``target_regions`` entry (MTCNN's box with the margin, recorded by the run:
the leaderboard runs no face detector). Runs recorded before either was kept show
the target alone.

Where neither works (weights missing, generator not registered, photo gone) the
page says ``target unavailable: <reason>`` instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from bench.leaderboard.pictures import save_picture
from bench.registry import RegistryError

MAX_SIDE = 512
FACENET_SIDE = 160  # FaceNet's input, bench.problems.face_targets.IMAGE_SIZE
NO_RECORD = "no run recorded its problem (each failed before the problem was built)"


class TargetUnavailable(Exception):
    """The target cannot be pictured; the message says why."""


@dataclass(frozen=True)
class TargetImage:
    """One target of a problem, as shown on its page.

    Attributes:
        target: The target as the runs state it (``seed:N`` or photo paths).
        caption: What the picture is (``seed 3 of dcgan-mnist``, ``photo a.jpg``).
        path: The picture, relative to the leaderboard folder; ``None`` if unavailable.
        reason: Why it is unavailable (empty when ``path`` is set).
        crop: The face as FaceNet saw it, relative to the leaderboard folder; ``None``
            where the runs recorded no usable crop box or photo region.
        crop_caption: What ``crop`` is.

    """

    target: str
    caption: str
    path: str | None = None
    reason: str = ""
    crop: str | None = None
    crop_caption: str = ""

    @property
    def text(self) -> str:
        """The caption, or ``target unavailable: <reason>``."""
        return self.caption if self.path else f"target unavailable: {self.reason}"


def seed_target(generator: str, seed: int, z_dim: int, weights: str | None = None) -> np.ndarray:
    """The face of a ``seed:N`` target.

    Args:
        generator: Registered generator name.
        seed: The target's latent seed.
        z_dim: Latent size the runs recorded (checked against the generator's).
        weights: Weight file the runs gave the generator, or ``None`` for its shipped one.

    Returns:
        uint8 image ``[H, W, C]``.

    Raises:
        TargetUnavailable: The generator cannot be loaded or its latent size differs.

    """
    from bench.generator import load_generator, to_uint8
    from bench.problems.face import seed_latent

    try:
        gen = load_generator(generator, "cpu", weights)
    except (RegistryError, OSError, ValueError, RuntimeError, ImportError) as exc:
        raise TargetUnavailable(f"generator '{generator}' cannot be loaded: {exc}") from exc
    if int(gen.z_dim) != z_dim:
        raise TargetUnavailable(f"generator '{generator}' has z_dim {gen.z_dim}, runs used {z_dim}")
    return to_uint8(gen.generate(seed_latent(seed, z_dim)[None]))[0]


def photo_target(path: str) -> np.ndarray:
    """The first photo of a photo target, upright, at most ``MAX_SIDE`` pixels a side.

    Returns:
        uint8 image ``[H, W, 3]``.

    Raises:
        TargetUnavailable: The photo is missing or unreadable.

    """
    from bench.problems.face_targets import FaceInputError, load_photo

    try:
        photo = load_photo(path)
    except FaceInputError as exc:
        raise TargetUnavailable(str(exc)) from exc
    photo.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(photo, dtype=np.uint8)


def face_crop(image: np.ndarray, box: object) -> np.ndarray | None:
    """The crop box of ``image`` resized to FaceNet's input, as the face problem cuts it.

    The problem resizes float images (bilinear, antialiased); this resizes the
    uint8 picture with Pillow's antialiased bilinear filter, so pixels may differ
    by rounding.

    Args:
        image: uint8 image ``[H, W, C]``.
        box: The record's ``crop_box``, ``[x0, y0, x1, y1]`` in pixels, end exclusive.

    Returns:
        uint8 image ``[FACENET_SIDE, FACENET_SIDE, C]``, or ``None`` where ``box``
        is not four integers inside the image.

    """
    if not _integer_box(box):
        return None
    x0, y0, x1, y1 = box
    height, width, channels = image.shape
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        return None
    crop = image[y0:y1, x0:x1]  # [h, w, C]
    picture = Image.fromarray(crop[..., 0] if channels == 1 else crop)
    resized = picture.resize((FACENET_SIDE, FACENET_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8).reshape(FACENET_SIDE, FACENET_SIDE, channels)


def _picture(
    target: str, problem: dict[str, Any], params: dict[str, Any]
) -> tuple[np.ndarray, str]:
    """The picture ``[H, W, C]`` of ``target`` and its caption (raises ``TargetUnavailable``)."""
    if target.startswith("seed:"):
        try:
            seed = int(target.removeprefix("seed:"))
        except ValueError:
            raise TargetUnavailable(f"target seed is not an integer: {target!r}") from None
        name, z_dim = problem.get("generator"), problem.get("z_dim")
        if not isinstance(name, str) or not isinstance(z_dim, int):
            raise TargetUnavailable("the run records name no generator and latent size")
        weights = params.get("weights")
        image = seed_target(name, seed, z_dim, None if weights is None else str(weights))
        return image, f"target: seed {seed} of {name}"
    first = next((p.strip() for p in target.split(",") if p.strip()), "")
    if not first:
        raise TargetUnavailable(f"no photo path in target {target!r}")
    return photo_target(first), f"target: photo {Path(first).name}"


def photo_crop(path: str, region: object) -> np.ndarray | None:
    """The pixels FaceNet saw of a target photo, cut as the face problem cut them.

    The upright photo's ``region`` resized to ``FACENET_SIDE`` pixels with Pillow's
    bilinear filter: facenet-pytorch's ``extract_face`` on a Pillow image, so the
    picture is the face FaceNet embedded, pixel for pixel.

    Args:
        path: The photo.
        region: The record's ``target_regions`` entry, ``[x0, y0, x1, y1]``, end exclusive.

    Returns:
        uint8 image ``[FACENET_SIDE, FACENET_SIDE, 3]``, or ``None`` where ``region``
        is not four integers inside the photo, or the photo cannot be read.

    """
    from bench.problems.face_targets import FaceInputError, load_photo

    if not _integer_box(region):
        return None
    try:
        photo = load_photo(path)
    except FaceInputError:
        return None
    x0, y0, x1, y1 = region
    if not (0 <= x0 < x1 <= photo.width and 0 <= y0 < y1 <= photo.height):
        return None
    face = photo.crop((x0, y0, x1, y1)).resize(
        (FACENET_SIDE, FACENET_SIDE), Image.Resampling.BILINEAR
    )
    return np.asarray(face, dtype=np.uint8)


def _integer_box(box: object) -> bool:
    """Whether ``box`` is four integers (not booleans)."""
    return (
        isinstance(box, list | tuple)
        and len(box) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in box)
    )


def _crop(
    image: np.ndarray, target: str, problem: dict[str, Any], out: Path, path: Path
) -> tuple[str | None, str]:
    """Save the target as FaceNet saw it beside its picture ``path``.

    Returns:
        ``(crop picture relative to out, caption)``, or ``(None, "")`` where the runs
        recorded no usable ``crop_box`` (seed targets) or ``target_regions`` (photos).

    """
    side = FACENET_SIDE
    if target.startswith("seed:"):
        box = problem.get("crop_box")
        face = face_crop(image, box)
        where = "pixels"
    else:
        first = next((p.strip() for p in target.split(",") if p.strip()), "")
        regions = problem.get("target_regions")
        box = regions[0] if isinstance(regions, list) and regions else None
        face = photo_crop(first, box)
        where = f"MTCNN's face with margin, pixels of {Path(first).name}"
    if face is None:
        return None, ""
    crop = path.with_name(f"{path.stem}-crop{path.suffix}")
    save_picture(face, out / crop)
    x0, y0, x1, y1 = box
    caption = f"as FaceNet saw it: {where} ({x0}, {y0})–({x1}, {y1}), resized to {side}×{side}"
    return crop.as_posix(), caption


def target_images(
    runs: pd.DataFrame,
    records: dict[str, dict[str, Any]],
    out: Path,
    folder: Path,
    image_format: str = "png",
) -> list[TargetImage]:
    """Picture every target of one face problem's runs into ``out/folder``.

    Args:
        runs: Rows of ``bench.leaderboard.runs.load_runs`` for one problem.
        records: Run records by run id.
        out: The leaderboard folder.
        folder: Where the pictures go, relative to ``out`` (``images/<problem>``).
        image_format: ``"png"`` or ``"webp"`` (see ``bench.leaderboard.pictures``).

    Returns:
        One ``TargetImage`` per distinct target, in the order the runs name them
        (one unavailable target if no run recorded its problem).

    """
    described = [
        records[i]
        for i in runs["run_id"]
        if "target" in ((records.get(i) or {}).get("problem") or {})
    ]
    if not described:
        return [TargetImage("unknown", "", reason=NO_RECORD)]
    seen: dict[str, TargetImage] = {}
    for record in described:
        problem = record["problem"]
        target = str(problem["target"])
        if target in seen:
            continue
        params = (record.get("spec") or {}).get("problem_params") or {}
        try:
            image, caption = _picture(target, problem, params)
        except TargetUnavailable as exc:
            seen[target] = TargetImage(target, target, reason=str(exc))
            continue
        path = folder / f"target-{len(seen)}.{image_format}"
        save_picture(image, out / path)
        crop, crop_caption = _crop(image, target, problem, out, path)
        seen[target] = TargetImage(target, caption, path.as_posix(), "", crop, crop_caption)
    return list(seen.values())

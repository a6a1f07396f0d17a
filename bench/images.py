"""Image grids for galleries and sample sheets, and the check of what ``render()`` returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HINT = "uint8 [H, W, C] with C 1 or 3 (bench.generator.to_uint8)"
LIST_HINT = f"return a list with one image per genome, each NumPy {HINT}"


class ImageError(ValueError):
    """Images are not ``N`` uint8 arrays ``[H, W, 1|3]`` of one shape; the message says why."""


def _described(value: Any) -> str:
    """``value`` in a few words: ``"a torch Tensor [1, 1, 8, 8]"``, ``"a str"``, ..."""
    shape = getattr(value, "shape", None)
    kind = type(value).__name__
    if type(value).__module__.partition(".")[0] == "torch":
        kind = f"torch {kind}"
    return f"a {kind} {list(shape)}" if shape is not None else f"a {kind}"


def _image_defect(image: Any) -> str | None:
    """What keeps ``image`` from being a uint8 ``[H, W, 1|3]`` array, or ``None``."""
    if not isinstance(image, np.ndarray):
        return f"{_described(image)} as an image; return NumPy {HINT}"
    if image.dtype != np.uint8:
        return f"{image.dtype} images; return {HINT}"
    if image.ndim != 3 or image.shape[2] not in (1, 3) or 0 in image.shape:
        first = image.ndim == 3 and image.shape[0] in (1, 3)
        flipped = " (channels first: np.transpose(image, (1, 2, 0)))" if first else ""
        return f"uint8 images of shape {list(image.shape)}{flipped}; return {HINT}"
    return None


def check_images(images: Any, n: int | None, what: str) -> list[np.ndarray] | None:
    """``images`` as a list of ``n`` uint8 arrays ``[H, W, C]``, or ``ImageError``.

    The contract of ``Problem.render``: ``None``, or one uint8 image ``[H, W, C]``
    (C is 1 or 3) per genome, all of one shape, in a list, a tuple or one array
    ``[N, H, W, C]``. A torch tensor, float images (which a grid would cast to
    black) and channels-first images are refused.

    Args:
        images: What ``render()`` returned.
        n: How many genomes were rendered (``None``: any number but none).
        what: Who returned it, for the message (``"Sphere.render()"``).

    Returns:
        ``None`` or the images as a list of ``[H, W, C]`` arrays.

    Raises:
        ImageError: One line that names ``what`` and says what was wrong.

    """
    if images is None:
        return None
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ImageError(f"{what} returned one array {list(images.shape)}; {LIST_HINT}")
        images = list(images)  # [N, H, W, C]
    elif not isinstance(images, Sequence) or isinstance(images, str | bytes):
        raise ImageError(f"{what} returned {_described(images)}; {LIST_HINT}")
    genomes = "genome" if n == 1 else "genomes"
    if n is not None and len(images) != n:
        raise ImageError(f"{what} returned {len(images)} images for {n} {genomes}; {LIST_HINT}")
    if not images:
        raise ImageError(f"{what} returned no images; {LIST_HINT}")
    for image in images:
        defect = _image_defect(image)
        if defect is not None:
            raise ImageError(f"{what} returned {defect}")
    shapes = sorted({tuple(im.shape) for im in images})
    if len(shapes) > 1:
        raise ImageError(
            f"{what} returned images of shapes {[list(s) for s in shapes]}; give them one shape"
        )
    return list(images)


def image_grid(images: list[np.ndarray], ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile equally sized images into one picture.

    Args:
        images: ``N`` uint8 arrays ``[H, W, C]`` (C is 1 or 3) or ``[H, W]``.
        ncol: Columns; default is the smallest square that fits.
        pad: White pixels between tiles.

    Returns:
        uint8 array ``[rows*(H+pad)-pad, ncol*(W+pad)-pad, C]``.

    Raises:
        ValueError: No images, images of another dtype than uint8 (they would be
            cast, floats in [0, 1] to black), or of differing shapes.

    """
    if not len(images):
        raise ValueError("image_grid: no images")
    dtypes = sorted({str(getattr(im, "dtype", type(im).__name__)) for im in images})
    if dtypes != ["uint8"]:
        raise ValueError(
            f"image_grid: {', '.join(dtypes)} images; images must be uint8 "
            "(bench.generator.to_uint8)"
        )
    tiles = [im[..., None] if im.ndim == 2 else im for im in images]
    h, w, c = tiles[0].shape
    if any(t.shape != (h, w, c) for t in tiles):
        raise ValueError("image_grid: images differ in shape")
    ncol = ncol or math.ceil(math.sqrt(len(tiles)))
    nrow = math.ceil(len(tiles) / ncol)
    grid = np.full((nrow * (h + pad) - pad, ncol * (w + pad) - pad, c), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, ncol)
        grid[r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = tile
    return grid


def save_grid(
    images: list[np.ndarray], path: Path, ncol: int | None = None, **options: Any
) -> None:
    """Write ``image_grid(images)`` to ``path`` (PNG; another suffix names another format).

    ``options`` go to Pillow's writer, e.g. ``quality=90`` for a ``.webp`` file.
    """
    grid = image_grid(images, ncol)
    Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid).save(path, **options)

"""Image grids for galleries and sample sheets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image


def image_grid(images: list[np.ndarray], ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile equally sized images into one picture.

    Args:
        images: ``N`` uint8 arrays ``[H, W, C]`` (C is 1 or 3) or ``[H, W]``.
        ncol: Columns; default is the smallest square that fits.
        pad: White pixels between tiles.

    Returns:
        uint8 array ``[rows*(H+pad)-pad, ncol*(W+pad)-pad, C]``.

    """
    if not images:
        raise ValueError("image_grid: no images")
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


def save_grid(images: list[np.ndarray], path: Path, ncol: int | None = None) -> None:
    """Write ``image_grid(images)`` as a PNG file."""
    grid = image_grid(images, ncol)
    Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid).save(path)

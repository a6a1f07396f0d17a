"""How a leaderboard writes its pictures: PNG, or WebP for a board that is published.

``bench leaderboard --image-format webp`` writes every figure as lossless WebP
(the same pixels as the PNG, about a fifth of its size for heatmaps and half for
curves) and every picture of generated images or photos (galleries, targets, the
best face of each run) as lossy WebP at quality ``WEBP_QUALITY`` (about a fifth of
the PNG for 64-px face sets). Run folders keep their exact ``best.png``; only the
board's copies change. Every browser and code-hosting site shows WebP; LaTeX does
not, hence PNG by default.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from bench.images import save_grid
from bench.spec import SpecError

IMAGE_FORMATS = ("png", "webp")
"""Values of ``--image-format``; the first is the default."""
WEBP_QUALITY = 90
"""Quality of the lossy WebP pictures (generated images and photos), 0-100."""
WEBP_METHOD = 6
"""libwebp's effort, 0 (fast) to 6 (smallest file): pictures are few and small."""


def check_format(image_format: str) -> str:
    """``image_format`` if it is one of ``IMAGE_FORMATS``.

    Raises:
        SpecError: Any other value, naming the valid ones.

    """
    if image_format not in IMAGE_FORMATS:
        raise SpecError(
            f"unknown image format {image_format!r}; valid: {', '.join(IMAGE_FORMATS)}"
        )
    return image_format


def save_options(path: Path, *, figure: bool) -> dict[str, object]:
    """Pillow's options for writing ``path`` (its suffix names the format).

    Args:
        path: The file to write, ending in ``.png`` or ``.webp``.
        figure: A drawn figure (lossless WebP) rather than a picture of generated
            images or photos (lossy WebP at ``WEBP_QUALITY``).

    """
    if path.suffix.lower() != ".webp":
        return {}
    if figure:
        return {"lossless": True, "method": WEBP_METHOD}
    return {"quality": WEBP_QUALITY, "method": WEBP_METHOD}


def save_picture(image: Image.Image | np.ndarray, path: Path) -> Path:
    """Write a picture of generated images or photos to ``path`` in its suffix's format.

    Args:
        image: A Pillow image, or pixels ``[H, W]`` or ``[H, W, C]`` (uint8; C = 1 or 3).
        path: ``.png`` (lossless) or ``.webp`` (lossy, quality ``WEBP_QUALITY``).

    Returns:
        ``path``.

    """
    path.parent.mkdir(parents=True, exist_ok=True)
    options = save_options(path, figure=False)
    if isinstance(image, np.ndarray):
        save_grid([image], path, **options)  # a grid of one: the picture itself
    else:
        image.save(path, **options)
    return path


def copy_picture(source: Path, target: Path, max_side: int | None = None) -> Path:
    """Copy the picture ``source`` to ``target``, in the format of ``target``'s suffix.

    A PNG kept at its size is copied byte for byte; otherwise the picture is decoded,
    shrunk to ``max_side`` pixels a side if it is larger (aspect kept), and written
    by ``save_picture``.

    Returns:
        ``target``.

    """
    with Image.open(source) as im:
        small = max_side is None or max(im.size) <= max_side
        if small and target.suffix.lower() == source.suffix.lower() == ".png":
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return target
        im.load()
        if not small:
            im.thumbnail((max_side, max_side))
        return save_picture(im, target)

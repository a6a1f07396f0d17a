"""The target of a face problem as a picture, to show beside the best faces.

- ``seed:N``: the registered generator named in the run records makes the face
  of latent ``bench.problems.face.seed_latent(N, z_dim)`` (the same face in Z, W
  and W+ searches), with the weight file the runs used if they named one;
- photo paths (comma separated): the first photo, upright by its EXIF
  orientation (``bench.problems.face_targets.load_photo``), shrunk to at most
  ``MAX_SIDE`` pixels.

Where neither works (weights missing, generator not registered, photo gone) the
page says ``target unavailable: <reason>`` instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.images import save_grid
from bench.registry import RegistryError

MAX_SIDE = 512
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

    """

    target: str
    caption: str
    path: str | None = None
    reason: str = ""

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


def target_images(
    runs: pd.DataFrame, records: dict[str, dict[str, Any]], out: Path, folder: Path
) -> list[TargetImage]:
    """Picture every target of one face problem's runs into ``out/folder``.

    Args:
        runs: Rows of ``bench.leaderboard.runs.load_runs`` for one problem.
        records: Run records by run id.
        out: The leaderboard folder.
        folder: Where the pictures go, relative to ``out`` (``images/<problem>``).

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
        path = folder / f"target-{len(seen)}.png"
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        save_grid([image], out / path)
        seen[target] = TargetImage(target, caption, path.as_posix())
    return list(seen.values())

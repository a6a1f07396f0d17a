"""The generator contract: latents in, images in [-1, 1] out.

Every generator is a ``torch.nn.Module`` with the attributes ``z_dim``,
``img_resolution`` and ``img_channels``. Style-based generators also expose
``w_dim``, ``num_ws``, ``mapping`` (z ``[N, z_dim]`` → ws ``[N, num_ws, w_dim]``)
and ``synthesis`` (ws → images), so a search can run in Z, W or W+ without
knowing the network. ``generate`` is the batched, chunked, device-aware entry
point that problems call.

A generator is registered (entry-point group ``bench.generators``) as a
*factory*: a class or function that problems call with two keywords,
``factory(device=DEVICE, weights=WEIGHTS)``, where ``device`` is a torch device
string (``"cpu"``, ``"cuda:0"``) and ``weights`` a weight file's path, or
``None`` for the generator's own weights (or none). Both may have defaults, and
a factory with ``**kwargs`` accepts them too::

    def my_generator(device: str = "cpu", weights: str | None = None) -> MyGenerator:
        return MyGenerator(weights).to(device)

``load_generator`` checks the signature first: a factory that cannot take the
two keywords is a one-line ``RegistryError``, not a ``TypeError`` from inside
a problem.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench.problem import MissingWeightsError, check_batch_shape
from bench.registry import RegistryError, registry

__all__ = [
    "FACTORY_KEYWORDS",
    "Generator",
    "MissingWeightsError",
    "check_factory",
    "load_generator",
    "to_uint8",
]

FACTORY_KEYWORDS = ("device", "weights")
"""The keywords every generator factory is called with."""


class Generator(torch.nn.Module):
    """Base class of generators.

    Subclasses set the attributes and implement ``forward(z [N, z_dim]) ->
    images [N, C, H, W]`` in [-1, 1].

    Attributes:
        z_dim: Latent size.
        img_resolution: Output height and width.
        img_channels: 1 (grey) or 3 (RGB).
        w_dim: Intermediate latent size (style-based generators only).
        num_ws: Number of style vectors (style-based generators only).
        weight_path: File the weights came from (its sha256 goes into records), or None.

    """

    z_dim: int
    img_resolution: int
    img_channels: int
    w_dim: int | None = None
    num_ws: int | None = None
    weight_path: str | None = None

    @property
    def device(self) -> torch.device:
        """Device of the parameters (CPU for a parameterless module)."""
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    @torch.inference_mode()
    def generate(self, z: np.ndarray | torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Images for a batch of latents, computed in chunks.

        Args:
            z: Latents ``[N, z_dim]``.
            chunk: Largest number of images per forward pass.

        Returns:
            Images ``[N, img_channels, img_resolution, img_resolution]`` in
            [-1, 1] on the generator's device, float32.

        """
        check_batch_shape(z, (None, self.z_dim), f"{type(self).__name__}.generate() z")
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        out = [self(z[i : i + chunk]) for i in range(0, len(z), chunk)]
        if not out:
            shape = (0, self.img_channels, self.img_resolution, self.img_resolution)
            return torch.empty(shape, device=self.device)
        return torch.cat(out)


def to_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """Convert images in [-1, 1] to uint8 arrays for saving.

    Args:
        images: Tensor ``[N, C, H, W]`` in [-1, 1].

    Returns:
        ``N`` arrays ``[H, W, C]`` of dtype uint8.

    """
    arr = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return list(arr.permute(0, 2, 3, 1).numpy())


def _takes_keywords(factory: Callable[..., Any], names: tuple[str, ...]) -> bool:
    """Whether ``factory`` can be called with each of ``names`` as a keyword.

    A callable whose signature cannot be read (some builtins) counts as able.
    """
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return True
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = {p.name for p in params if p.kind in by_keyword}
    return all(name in accepted for name in names)


def check_factory(name: str, target: str, factory: Callable[..., Any]) -> None:
    """Raise ``RegistryError`` unless ``factory`` takes ``device=`` and ``weights=``.

    Args:
        name: The generator's registered name.
        target: Where it is registered (``module:attribute``), for the message.
        factory: The registered callable.

    """
    if not _takes_keywords(factory, FACTORY_KEYWORDS):
        raise RegistryError(
            f"generator '{name}' ({target}): its factory must accept device= and weights= "
            "keywords; add them to its signature, e.g. "
            "(device: str = 'cpu', weights: str | None = None)"
        )


def load_generator(name: str, device: str = "cpu", weights: str | None = None) -> Generator:
    """Build the registered generator ``name``: ``factory(device=device, weights=weights)``.

    Args:
        name: Registered generator name.
        device: Torch device string.
        weights: Weight file instead of the generator's own, or ``None``.

    Returns:
        The generator, in eval mode.

    Raises:
        RegistryError: ``name`` is unknown or broken, or its factory does not take
            the two keywords.

    """
    entry = registry("generators").entry(name)
    factory = entry.load()
    check_factory(name, entry.target, factory)
    return factory(device=device, weights=weights).eval()

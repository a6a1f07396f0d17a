"""Generators with weights shipped in this repository (``generators/weights/``).

Each entry is a factory registered under ``bench.generators``: called with no
arguments it returns the network with its shipped weights, in eval mode, on
the CPU. ``weights=PATH`` loads another file of the same architecture. Each
shipped file ``NAME.pt`` has a model card ``NAME.json`` (data, training
settings, sha256, quality figures) and a sample grid ``NAME.png`` beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from bench.generators.dcgan import DCGANGenerator

from bench.generator import MissingWeightsError
from bench.problem import (
    WEIGHTS_OPTION,
    UnreadableWeightsError,
    exception_line,
    read_torch_file,
)
from bench.provenance import sha256_file

__all__ = ["load_dcgan", "model_card", "sha256_file", "shipped_path"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

DATASETS = {  # what each shipped generator was trained on
    "dcgan-mnist": "mnist",
    "dcgan-fashion": "fashion-mnist",
    "dcgan-faces": "utkface",
    "stylegan2-utkface64": "utkface",
}


def shipped_path(name: str) -> Path:
    """Where the weights of shipped generator ``name`` live."""
    return WEIGHTS_DIR / f"{name}.pt"


def model_card(name: str) -> dict:
    """The model card of shipped generator ``name``."""
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.exists():
        raise MissingWeightsError(f"no model card for '{name}' at {path}")
    return json.loads(path.read_text())


def _how_to_get(name: str) -> str:
    return (
        f"train it with `bench train-generator {name} --data-dir DATA` (data: "
        f"{DATASETS.get(name, '?')}), then `bench export-generator {name}`, or pass "
        f"{WEIGHTS_OPTION}"
    )


def load_dcgan(name: str, weights: str | Path | None = None, device: str = "cpu") -> DCGANGenerator:
    """A DCGAN generator from a file written by ``bench export-generator``.

    Args:
        name: Generator name, for messages and the default path.
        weights: Weight file; default: the shipped ``generators/weights/NAME.pt``.
        device: Torch device.

    Returns:
        The generator in eval mode, with ``weight_path`` set.

    Raises:
        MissingWeightsError: The file does not exist.
        UnreadableWeightsError: It is not a DCGAN weight file of this suite.

    """
    path = Path(weights) if weights is not None else shipped_path(name)
    if not path.is_file():
        raise MissingWeightsError(f"weights of '{name}' not found at {path}: {_how_to_get(name)}")
    blob = read_torch_file(path, f"weights of '{name}'")
    try:
        arch = blob["arch"]
        G = DCGANGenerator(
            int(arch["img_resolution"]), int(arch["img_channels"]), int(arch["z_dim"])
        )
        G.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # e.g. a StyleGAN2 file
        raise UnreadableWeightsError(
            f"{path} does not hold DCGAN weights as `bench export-generator` writes them "
            f"({exception_line(exc)})"
        ) from None
    if weights is not None:
        _check_family(name, path, arch)
    G.weight_path = str(path)
    # Channels-last convolutions: 1.5x the images per second of the default layout on
    # a CPU (oneDNN; measured on dcgan-mnist), and the layout tensor cores want.
    return G.to(device, memory_format=torch.channels_last).eval()


RESOLUTION_FREE = {"dcgan-faces"}  # trainable at any power-of-2 resolution (--resolution)


def _shape(arch: dict) -> str:
    r = int(arch["img_resolution"])
    return f"{r}×{r}×{int(arch['img_channels'])}, z {int(arch['z_dim'])}"


def _fits(name: str, arch: dict) -> bool:
    """Whether a DCGAN of shape ``arch`` is of shipped generator ``name``'s kind."""
    own = model_card(name)["arch"]
    keys = ["img_channels", "z_dim"] + ([] if name in RESOLUTION_FREE else ["img_resolution"])
    return all(int(arch[k]) == int(own[k]) for k in keys)


def _check_family(name: str, path: Path, arch: dict) -> None:
    """Raise ``UnreadableWeightsError`` unless ``path``'s network is of ``name``'s kind.

    ``weights=PATH`` replaces a generator's weights, not its kind: 64-px RGB face
    weights given to ``dcgan-mnist`` ran faces under the MNIST name. The channels
    and latent size must match the shipped network's; so must the resolution,
    except for generators trained at any resolution (``RESOLUTION_FREE``).
    """
    try:
        if _fits(name, arch):
            return
        own = model_card(name)["arch"]
    except (MissingWeightsError, KeyError):  # no shipped card to compare with
        return
    shipped = [n for n in DATASETS if n.startswith("dcgan-") and shipped_path(n).is_file()]
    matches = [n for n in shipped if _fits(n, arch)]
    hint = f"; use --set generator={matches[0]}" if matches else ""
    raise UnreadableWeightsError(
        f"{path} holds a {_shape(arch)} DCGAN, not a '{name}' ({_shape(own)}): weights= "
        f"replaces a generator's weights, not its kind{hint}"
    )


def dcgan_mnist(weights: str | None = None, device: str = "cpu") -> DCGANGenerator:
    """DCGAN of the set-diversity study, trained here on MNIST (28×28 grey, z 100)."""
    return load_dcgan("dcgan-mnist", weights, device)


def dcgan_fashion(weights: str | None = None, device: str = "cpu") -> DCGANGenerator:
    """DCGAN of the set-diversity study, trained here on Fashion-MNIST (28×28 grey, z 100)."""
    return load_dcgan("dcgan-fashion", weights, device)


def dcgan_faces(weights: str | None = None, device: str = "cpu") -> DCGANGenerator:
    """DCGAN of the set-diversity study, trained here on UTKFace faces (RGB, z 100)."""
    return load_dcgan("dcgan-faces", weights, device)

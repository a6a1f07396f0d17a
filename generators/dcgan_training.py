"""Training the study's DCGANs: resumable, seeded, with a sample grid per epoch.

The loop follows the study (Adam lr 2e-4, β = (0.5, 0.999), batch 32, binary
cross-entropy, noise N(0, 1)): per step the discriminator sees a real batch
(label 1) and a fake batch (label 0) in separate passes, as Keras'
``train_on_batch`` twice did, then the generator is trained to make the
discriminator say 1 on a fresh fake batch.

A training folder holds ``checkpoint.pt`` (networks, optimisers, RNG states,
epoch; written atomically after every epoch), ``samples/epoch-NNNN.png`` (a
grid of the same 64 latents every epoch) and ``log.json``. Calling ``train``
again on the same folder resumes after the last finished epoch. Randomness comes
from the config's seed only: torch's global RNG is forked and restored, and
data order uses a NumPy generator whose state is checkpointed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from bench.generators.dcgan import DCGANDiscriminator, DCGANGenerator
from torch import nn
from tqdm.auto import tqdm

from bench.atomic_file import write_atomically
from bench.datasets import LabelledImages
from bench.generator import to_uint8
from bench.images import save_grid
from bench.problem import exception_line

CHECKPOINT = "checkpoint.pt"
LOG = "log.json"
RESUME_KEYS = ("epoch", "G", "D", "opt_g", "opt_d", "order_rng", "torch_rng", "log")


class CheckpointError(ValueError):
    """A training folder's checkpoint cannot be read or resumed from; one-line message."""


def unreadable_checkpoint(path: Path, detail: str) -> CheckpointError:
    """The error for a damaged checkpoint: what is wrong and what to do, in one line."""
    return CheckpointError(
        f"{path} is not a readable training checkpoint ({detail}); delete it or use another --out"
    )


def read_checkpoint(path: Path, device: str | torch.device, keys: tuple[str, ...]) -> dict:
    """Load a training checkpoint written by :func:`atomic_save` and check its entries.

    Args:
        path: The ``checkpoint.pt`` file.
        device: Where its tensors go (``map_location``).
        keys: Entries it must hold besides ``config`` (a dict).

    Returns:
        The checkpoint.

    Raises:
        CheckpointError: Not a PyTorch file (truncated, overwritten), not a dict, or
            entries missing.

    """
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # torch raises OSError, RuntimeError, UnpicklingError, ValueError...
        raise unreadable_checkpoint(path, exception_line(exc)) from None
    if not isinstance(ckpt, dict):
        raise unreadable_checkpoint(path, f"it holds a {type(ckpt).__name__}, not a training state")
    missing = [key for key in ("config", *keys) if key not in ckpt]
    if missing:
        raise unreadable_checkpoint(path, f"no {', '.join(missing)} in it")
    if not isinstance(ckpt["config"], dict):
        raise unreadable_checkpoint(path, "its config is not a dict")
    return ckpt


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a DCGAN training run.

    Attributes:
        name: Generator name, e.g. ``"dcgan-mnist"``.
        resolution: Image height and width.
        channels: 1 or 3.
        epochs: Passes over the training images.
        batch: Images per step.
        lr: Adam learning rate (both networks).
        beta1: Adam β1.
        beta2: Adam β2.
        z_dim: Latent size.
        seed: Seed of initialisation, noise, dropout and data order.

    """

    name: str
    resolution: int
    channels: int
    epochs: int
    batch: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    z_dim: int = 100
    seed: int = 0


def atomic_save(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed process leaves no half file."""
    write_atomically(path, lambda tmp: torch.save(obj, tmp))


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, C]`` → float ``[N, C, H, W]`` in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def train(
    config: TrainConfig,
    data: LabelledImages,
    out: Path,
    device: str = "cpu",
    progress: bool = True,
    max_epochs_this_call: int | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train (or resume training) a DCGAN into ``out``.

    Args:
        config: The run's settings; must equal the checkpoint's when resuming, but
            for ``epochs`` (train longer, or stop sooner, than first planned).
        data: ``data.train`` ``[N, H, W, C]`` uint8 is what it learns from.
        out: Training folder (created).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        progress: Show a progress bar per epoch.
        max_epochs_this_call: Stop after this many epochs (for chunked training).
        on_epoch: Called with each finished epoch's log entry (e.g. to print it).

    Returns:
        The log: config, data description, per-epoch losses and seconds, device.

    Raises:
        ValueError: Images of the wrong shape, fewer images than one batch, or a
            checkpoint of a different config.
        CheckpointError: The folder's checkpoint is damaged (a ``ValueError``).

    """
    out = Path(out)
    expected = (config.resolution, config.resolution, config.channels)
    if data.train.shape[1:] != expected:
        raise ValueError(f"training images are {data.train.shape[1:]}, config needs {expected}")
    check_batch(config.batch, len(data.train))
    (out / "samples").mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        return _train(config, data, out, dev, progress, max_epochs_this_call, on_epoch)


def check_batch(batch: int, images: int) -> None:
    """Raise ``ValueError`` unless ``images`` training images fill at least one batch."""
    if batch > images:
        raise ValueError(f"a batch of {batch} exceeds the {images} training images")


def _resume(
    ckpt: dict, path: Path, state: dict, order_rng: np.random.Generator, dev: torch.device
) -> tuple[int, dict]:
    """Put a checked checkpoint's networks, optimisers and RNG states into place.

    Args:
        ckpt: From :func:`read_checkpoint`, config already compared.
        path: Its file, for messages.
        state: ``{"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d}`` to load into.
        order_rng: The data-order generator to restore.
        dev: The training device.

    Returns:
        ``(epochs done, log so far)``.

    Raises:
        CheckpointError: An entry does not fit (damaged or edited file).

    """
    try:
        for key, target in state.items():
            target.load_state_dict(ckpt[key])
        order_rng.bit_generator.state = ckpt["order_rng"]
        torch.set_rng_state(ckpt["torch_rng"].cpu())  # map_location put it on ``dev``
        if dev.type == "cuda" and ckpt.get("cuda_rng") is not None:
            # latents and dropout on the GPU draw from its generator, which
            # manual_seed above reset to the start of epoch 1
            torch.cuda.set_rng_state(ckpt["cuda_rng"].cpu(), dev)
        epoch, log = int(ckpt["epoch"]), ckpt["log"]
        if not isinstance(log.get("epochs"), list):
            raise TypeError("its log has no list of epochs")
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise unreadable_checkpoint(path, exception_line(exc)) from None
    return epoch, log


def _train(
    config: TrainConfig,
    data: LabelledImages,
    out: Path,
    dev: torch.device,
    progress: bool,
    max_epochs_this_call: int | None,
    on_epoch: Callable[[dict], None] | None,
) -> dict:
    torch.manual_seed(config.seed)
    G = DCGANGenerator(config.resolution, config.channels, config.z_dim).to(dev)
    D = DCGANDiscriminator(config.resolution, config.channels).to(dev)
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas)
    order_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    fixed_z = torch.from_numpy(
        np.random.default_rng(np.random.SeedSequence([config.seed, 2])).normal(
            size=(64, config.z_dim)
        )
    ).float()
    log = {
        "config": asdict(config),
        "data": data.description,
        "epochs": [],
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
    }
    start_epoch = 0
    ckpt_path = out / CHECKPOINT
    if ckpt_path.exists():
        ckpt = read_checkpoint(ckpt_path, dev, RESUME_KEYS)
        if {**ckpt["config"], "epochs": config.epochs} != asdict(config):
            raise ValueError(
                f"{ckpt_path} was trained with {ckpt['config']}; this run asks for "
                f"{asdict(config)}. Use another --out folder."
            )
        state = {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d}
        start_epoch, log = _resume(ckpt, ckpt_path, state, order_rng, dev)
        log["config"] = asdict(config)  # only the epoch target may change on resume
    x_all = _to_tensor(data.train)
    n = len(x_all)
    steps = n // config.batch
    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(config.batch, device=dev)
    zeros = torch.zeros(config.batch, device=dev)
    last = config.epochs
    if max_epochs_this_call is not None:
        last = min(last, start_epoch + max_epochs_this_call)
    for epoch in range(start_epoch, last):
        G.train()
        D.train()
        t0 = time.perf_counter()
        perm = torch.from_numpy(order_rng.permutation(n))
        sums = np.zeros(4)
        bar = tqdm(
            range(steps),
            desc=f"{config.name} epoch {epoch + 1}/{config.epochs}",
            disable=not progress,
            dynamic_ncols=True,
            leave=False,
        )
        for s in bar:
            real = x_all[perm[s * config.batch : (s + 1) * config.batch]].to(dev)
            z = torch.randn(config.batch, config.z_dim, device=dev)
            fake = G(z)
            opt_d.zero_grad(set_to_none=True)
            d_real = D(real)
            d_fake = D(fake.detach())
            loss_d = bce(d_real, ones) + bce(d_fake, zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            z = torch.randn(config.batch, config.z_dim, device=dev)
            loss_g = bce(D(G(z)), ones)
            loss_g.backward()
            opt_g.step()
            with torch.no_grad():
                sums += [
                    loss_d.item(),
                    loss_g.item(),
                    torch.sigmoid(d_real).mean().item(),
                    torch.sigmoid(d_fake).mean().item(),
                ]
            if s % 20 == 0:
                bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}", refresh=False)
        bar.close()
        G.eval()
        with torch.no_grad():
            grid = to_uint8(G(fixed_z.to(dev)))
        save_grid(grid, out / "samples" / f"epoch-{epoch + 1:04d}.png", ncol=8)
        mean = sums / max(steps, 1)
        log["epochs"].append(
            {
                "epoch": epoch + 1,
                "loss_d": mean[0],
                "loss_g": mean[1],
                "d_real": mean[2],
                "d_fake": mean[3],
                "seconds": time.perf_counter() - t0,
                "images_seen": (epoch + 1) * steps * config.batch,
            }
        )
        atomic_save(
            {
                "config": asdict(config),
                "epoch": epoch + 1,
                "G": G.state_dict(),
                "D": D.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "order_rng": order_rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                "log": log,
            },
            out / CHECKPOINT,
        )
        (out / LOG).write_text(json.dumps(log, indent=2))
        if on_epoch is not None:
            on_epoch(log["epochs"][-1])
    return log


def load_trained_generator(folder: Path, device: str = "cpu") -> DCGANGenerator:
    """The generator of a training folder's last checkpoint, in eval mode."""
    ckpt = torch.load(Path(folder) / CHECKPOINT, map_location=device, weights_only=False)
    cfg = ckpt["config"]
    G = DCGANGenerator(cfg["resolution"], cfg["channels"], cfg["z_dim"])
    G.load_state_dict(ckpt["G"])
    return G.to(device).eval()

"""Training StyleGAN2 on face photos: resumable, seeded, in chunks of bounded wall time.

The recipe is StyleGAN2's (Karras et al. 2020) as the ADA paper runs it at low
resolution: non-saturating logistic loss, lazy R1 penalty on reals (every
``r1_interval`` steps, γ by default ``0.0002·R²/batch``, ADA's rule), style mixing,
Adam (lr 0.0025, β = (0, 0.99), adjusted for the lazy steps), an EMA copy of G with
a half-life of ``ema_kimg`` thousand images (ramped up over the first 5 % of
training), and x-flips of the real images (``mirror``, StyleGAN2-ADA's
``--mirror=1``, the usual choice for faces). Left out: path-length
regularisation and adaptive augmentation. On a GPU the forward passes run under
bfloat16 autocast (no loss scaling needed); parameters and optimiser state stay
float32. A step never waits for the GPU: the real images live on the device with
each epoch's order and flips, style-mixing draws come from a host generator and
losses are read once a tick.

A training folder holds ``checkpoint.pt`` (networks, optimisers, RNG states,
images seen; written atomically at every tick and at the end of a call),
``samples/kimg-NNNNNN.NNN.png`` (G_ema on the same 64 latents, constant noise) and
``log.json``. Calling :func:`train` again on the folder resumes from the
checkpoint: ``max_seconds`` bounds one call, so a long run is a series of calls
of under 10 minutes each. All randomness comes from the config's seed through
explicit generators (``torch.Generator`` for latents and noise; NumPy
generators for data order, flips and style mixing), all checkpointed, so 2 + 2
steps equal 4 steps bit for bit on the same device.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench.generators.dcgan_training import (
    atomic_save,
    check_batch,
    read_checkpoint,
    unreadable_checkpoint,
)
from bench.generators.stylegan2 import StyleGAN2Generator
from bench.generators.stylegan2_discriminator import Discriminator

from bench.datasets import LabelledImages
from bench.generator import to_uint8
from bench.images import save_grid
from bench.problem import exception_line

CHECKPOINT = "checkpoint.pt"
LOG = "log.json"
RESUME_KEYS = tuple(
    "G D G_ema opt_g opt_d gen order_rng mix_rng perm flips cursor step train_seconds log".split()
)


@dataclass(frozen=True)
class StyleGAN2TrainConfig:
    """Everything that determines a StyleGAN2 training run.

    Attributes:
        name: Name of the generator being trained, e.g. ``"stylegan2-utkface64"``.
        resolution: Image height and width.
        channels: Image channels.
        kimg: Thousands of real images to show in all (may change on resume).
        batch: Images per step.
        z_dim: Latent size (and w size).
        mapping_layers: Layers of the mapping network.
        channel_base: Channels at R are ``min(channel_base // R, channel_max)`` (G and D).
        channel_max: Most channels. 256 at 64×64 keeps the EMA generator at 9.3 M
            values, 19 MB in float16 (the shipping budget is 25 MB).
        lr: Adam learning rate.
        r1_gamma: R1 weight γ; None: ``0.0002·R²/batch``.
        r1_interval: Steps between R1 penalties (lazy regularisation).
        ema_kimg: Half-life of the EMA generator, thousands of images.
        style_mixing: Probability of mixing two latents in a batch.
        mirror: Show each real image x-flipped with probability 1/2.
        tick_kimg: Thousands of images between checkpoints, logs and sample grids
            (may change on resume).
        seed: Seed of initialisation, latents, noise and data order.

    """

    name: str = "stylegan2-utkface64"
    resolution: int = 64
    channels: int = 3
    kimg: float = 5000.0
    batch: int = 32
    z_dim: int = 512
    mapping_layers: int = 8
    channel_base: int = 16384
    channel_max: int = 256
    lr: float = 0.0025
    r1_gamma: float | None = None
    r1_interval: int = 16
    ema_kimg: float = 10.0
    style_mixing: float = 0.9
    mirror: bool = True
    tick_kimg: float = 20.0
    seed: int = 0

    @property
    def total_steps(self) -> int:
        """Steps of the whole run: enough to show ``kimg`` thousand images."""
        return int(np.ceil(self.kimg * 1000 / self.batch))

    @property
    def gamma(self) -> float:
        """R1 weight in use."""
        if self.r1_gamma is not None:
            return self.r1_gamma
        return 0.0002 * self.resolution**2 / self.batch


def build_networks(config: StyleGAN2TrainConfig) -> tuple[StyleGAN2Generator, Discriminator]:
    """G and D of a config, initialised from the global RNG (seed it first)."""
    G = StyleGAN2Generator(
        z_dim=config.z_dim,
        w_dim=config.z_dim,
        img_resolution=config.resolution,
        img_channels=config.channels,
        channel_base=config.channel_base,
        channel_max=config.channel_max,
        mapping_layers=config.mapping_layers,
    )
    D = Discriminator(config.resolution, config.channels, config.channel_base, config.channel_max)
    return G, D


def train(
    config: StyleGAN2TrainConfig,
    data: LabelledImages,
    out: Path,
    device: str = "cpu",
    max_seconds: float | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> dict:
    """Train (or resume training) StyleGAN2 into ``out``.

    Args:
        config: The run's settings; must equal the checkpoint's but for ``kimg``.
        data: ``data.train`` ``[N, R, R, C]`` uint8 are the real images.
        out: Training folder (created).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; bfloat16 autocast on CUDA.
        max_seconds: Stop this call after the first step past this wall time
            (then checkpoint); keep it under 10 minutes for chunked runs.
        max_steps: Stop this call after this many steps (tests).
        progress: Print a line per tick.

    Returns:
        The log: config, data, device, ticks (losses, images seen, seconds).

    Raises:
        ValueError: Images of the wrong shape, fewer images than one batch, or a
            checkpoint of another config.
        CheckpointError: The folder's checkpoint is damaged (a ``ValueError``).

    """
    out = Path(out)
    expected = (config.resolution, config.resolution, config.channels)
    if data.train.shape[1:] != expected:
        raise ValueError(f"training images are {data.train.shape[1:]}, config needs {expected}")
    check_batch(config.batch, len(data.train))
    (out / "samples").mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    with _seeded(config.seed, dev):
        return _Trainer(config, data, out, dev).run(max_seconds, max_steps, progress)


@contextlib.contextmanager
def _seeded(seed: int, dev: torch.device) -> Iterator[None]:
    """Torch's global RNG (and the device's) seeded inside, restored afterwards."""
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


class _Trainer:
    def __init__(self, config: StyleGAN2TrainConfig, data: LabelledImages, out: Path, dev):
        self.config, self.out, self.dev = config, out, dev
        self.G, self.D = (m.to(dev) for m in build_networks(config))
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        ratio = config.r1_interval / (config.r1_interval + 1)  # lazy R1: fewer D steps count
        fused = {"fused": True} if dev.type == "cuda" else {}
        self.opt_g = torch.optim.Adam(
            self.G.parameters(), lr=config.lr, betas=(0.0, 0.99), **fused
        )
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), lr=config.lr * ratio, betas=(0.0, 0.99**ratio), **fused
        )
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick kernels once
        self.gen = torch.Generator(dev).manual_seed(config.seed)
        self.order_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
        self.mix_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 3]))
        self.images = torch.from_numpy(data.train).to(dev)  # uint8 [N, R, R, C], on the device
        self._new_epoch()
        self.step = 0
        self.train_seconds = 0.0
        self.fixed_z = torch.from_numpy(
            np.random.default_rng(np.random.SeedSequence([config.seed, 2])).normal(
                size=(64, config.z_dim)
            )
        ).float()
        self.log = {
            "config": asdict(config),
            "gamma": config.gamma,
            "data": data.description,
            "device": str(dev),
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "torch_threads": torch.get_num_threads(),
            "ticks": [],
        }
        if (out / CHECKPOINT).exists():
            self._resume(out / CHECKPOINT)

    @property
    def nimg(self) -> int:
        return self.step * self.config.batch

    def _new_epoch(self) -> None:
        """Draw the next epoch's order and flips (host) and keep them on the device."""
        n = len(self.images)
        self.perm = self.order_rng.permutation(n)
        self.flips = self.order_rng.random(n) < 0.5 if self.config.mirror else np.zeros(n, bool)
        self.cursor = 0
        self._epoch_on_device()

    def _epoch_on_device(self) -> None:
        self.perm_dev = torch.from_numpy(self.perm).to(self.dev)
        self.flips_dev = torch.from_numpy(self.flips).to(self.dev)

    def _resume(self, path: Path) -> None:
        ckpt = read_checkpoint(path, self.dev, ())
        if ckpt.get("ema_only"):
            raise ValueError(
                f"{path} holds only the EMA generator (written by --ema-only); training cannot "
                "go on from it. Export it, or resume from the full checkpoint"
            )
        missing = [key for key in RESUME_KEYS if key not in ckpt]
        if missing:
            raise unreadable_checkpoint(path, f"no {', '.join(missing)} in it")
        changeable = {"kimg": self.config.kimg, "tick_kimg": self.config.tick_kimg}
        if {**ckpt["config"], **changeable} != asdict(self.config):
            raise ValueError(
                f"{path} was trained with {ckpt['config']}; this run asks for "
                f"{asdict(self.config)}. Use another --out folder."
            )
        self._check_same_data(path, ckpt)
        try:
            self._restore(ckpt)
        except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise unreadable_checkpoint(path, exception_line(exc)) from None
        self.log["config"] = asdict(self.config)

    def _check_same_data(self, path: Path, ckpt: dict) -> None:
        """Refuse to resume on other images than the checkpoint's epoch order indexes.

        The photos and a pack of them (``bench pack-dataset``, whose description
        adds ``"; packed: ..."``) are the same data.
        """
        recorded = ckpt.get("log", {}).get("data") if isinstance(ckpt.get("log"), dict) else None
        given = self.log["data"]
        same = recorded is None or _unpacked(recorded) == _unpacked(given)
        n = len(ckpt["perm"]) if hasattr(ckpt["perm"], "__len__") else None
        if not same or n != len(self.images):
            raise ValueError(
                f"{path} was trained on \"{recorded}\" ({n} images), but this run has "
                f"\"{given}\" ({len(self.images)} images): resume with the same data, "
                "or use another --out folder"
            )

    def _restore(self, ckpt: dict) -> None:
        """Networks, optimisers, RNG states, data order and log of a checked checkpoint."""
        for key in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, key).load_state_dict(ckpt[key])
        self.gen.set_state(ckpt["gen"].cpu())
        self.order_rng.bit_generator.state = ckpt["order_rng"]
        self.mix_rng.bit_generator.state = ckpt["mix_rng"]
        self.perm, self.flips, self.cursor = ckpt["perm"], ckpt["flips"], int(ckpt["cursor"])
        self._epoch_on_device()
        self.step, self.train_seconds = int(ckpt["step"]), float(ckpt["train_seconds"])
        if not isinstance(ckpt["log"].get("ticks"), list):
            raise TypeError("its log has no list of ticks")
        self.log = ckpt["log"]

    def _checkpoint(self) -> None:
        state = {key: getattr(self, key).state_dict() for key in ("G", "D", "G_ema")}
        state.update(
            config=asdict(self.config),
            opt_g=self.opt_g.state_dict(),
            opt_d=self.opt_d.state_dict(),
            gen=self.gen.get_state(),
            order_rng=self.order_rng.bit_generator.state,
            mix_rng=self.mix_rng.bit_generator.state,
            perm=self.perm,
            flips=self.flips,
            cursor=self.cursor,
            step=self.step,
            train_seconds=self.train_seconds,
            log=self.log,
        )
        atomic_save(state, self.out / CHECKPOINT)
        (self.out / LOG).write_text(json.dumps(self.log, indent=2))
        with torch.no_grad():
            grid = to_uint8(self.G_ema(self.fixed_z.to(self.dev)))
        # thousands of images to the image, so ticks under 1 kimg get a grid each too
        save_grid(grid, self.out / "samples" / f"kimg-{self.nimg / 1000:010.3f}.png", ncol=8)

    def _reals(self) -> torch.Tensor:
        b = self.config.batch
        if self.cursor + b > len(self.perm):
            self._new_epoch()
        idx = self.perm_dev[self.cursor : self.cursor + b]
        flip = self.flips_dev[self.cursor : self.cursor + b]
        self.cursor += b
        x = self.images[idx]  # [B, R, R, C]
        x = torch.where(flip[:, None, None, None], x.flip(2), x)
        return x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)

    def _fakes(self) -> torch.Tensor:
        c, G = self.config, self.G
        z = torch.randn(c.batch, c.z_dim, generator=self.gen, device=self.dev)
        ws = G.mapping(z, truncation_psi=1.0)
        mix = self.mix_rng.random() < c.style_mixing
        cut = int(self.mix_rng.integers(1, G.num_ws))
        if mix:
            z2 = torch.randn(c.batch, c.z_dim, generator=self.gen, device=self.dev)
            ws2 = G.mapping(z2, truncation_psi=1.0, update_w_avg=False)
            ws = torch.cat([ws[:, :cut], ws2[:, cut:]], dim=1)
        return G.synthesis(ws, noise_mode="random", generator=self.gen, clamp=False)

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.dev.type == "cuda")

    def _train_step(self) -> dict[str, torch.Tensor]:
        c = self.config
        # Generator: non-saturating loss.
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        with self._autocast():
            loss_g = F.softplus(-self.D(self._fakes())).float().mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # Discriminator: logistic loss, plus the lazy R1 penalty on reals.
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        reals = self._reals()
        r1_step = self.step % c.r1_interval == 0
        with torch.no_grad(), self._autocast():
            fakes = self._fakes()
        reals.requires_grad_(r1_step)
        with self._autocast():
            logits_fake = self.D(fakes).float()
            logits_real = self.D(reals).float()
        loss_d = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
        r1 = torch.zeros((), device=self.dev)
        if r1_step:
            (grad,) = torch.autograd.grad(logits_real.sum(), reals, create_graph=True)
            r1 = grad.float().square().sum(dim=[1, 2, 3]).mean()
            loss_d = loss_d + r1 * (c.gamma / 2) * c.r1_interval
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self._update_ema()
        self.step += 1
        stats = {
            "loss_g": loss_g.detach(),
            "loss_d": loss_d.detach(),
            "d_real": logits_real.detach().mean(),
            "d_fake": logits_fake.detach().mean(),
        }
        if r1_step:
            stats["r1"] = r1.detach()
        return stats

    @torch.no_grad()
    def _update_ema(self) -> None:
        c = self.config
        ema_nimg = min(c.ema_kimg * 1000, (self.nimg + c.batch) * 0.05)
        beta = 0.5 ** (c.batch / max(ema_nimg, 1e-8))
        # One fused update for all parameters: ema ← ema + (1 − β)(p − ema).
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    def run(self, max_seconds: float | None, max_steps: int | None, progress: bool) -> dict:
        c = self.config
        total_steps = c.total_steps
        tick_steps = max(1, round(c.tick_kimg * 1000 / c.batch))
        t_call = time.perf_counter()
        sums: dict[str, list[torch.Tensor]] = {}
        steps_this_call = 0
        self.G.train()
        self.D.train()
        while self.step < total_steps:
            t0 = time.perf_counter()
            for key, value in self._train_step().items():
                sums.setdefault(key, []).append(value)
            self.train_seconds += time.perf_counter() - t0
            steps_this_call += 1
            stop = (max_steps is not None and steps_this_call >= max_steps) or (
                max_seconds is not None and time.perf_counter() - t_call > max_seconds
            )
            if self.step % tick_steps == 0 or stop or self.step == total_steps:
                self._tick(sums, progress)
                sums = {}
            if stop:
                break
        return self.log

    def _tick(self, sums: dict[str, list[torch.Tensor]], progress: bool) -> None:
        entry: dict = {"loss_g": None, "loss_d": None, "r1": None, "d_real": None, "d_fake": None}
        for key, values in sums.items():  # the one wait for the GPU in a tick
            entry[key] = float(torch.stack(values).float().mean().item())
        entry.update(step=self.step, kimg=self.nimg / 1000, train_seconds=self.train_seconds)
        self.log["ticks"].append(entry)
        self._checkpoint()
        if progress:
            print(
                f"{self.config.name} kimg {entry['kimg']:.1f}/{self.config.kimg:g}: "
                f"loss G {entry.get('loss_g') or 0:.3f} D {entry.get('loss_d') or 0:.3f}, "
                f"{self.train_seconds:.0f} s",
                flush=True,
            )


def measure_throughput(
    config: StyleGAN2TrainConfig,
    data: LabelledImages,
    device: str = "cpu",
    steps: int | None = None,
    warmup: int = 3,
) -> dict:
    """Training images per second of a config on a device, timed by the wall clock.

    Builds the networks in a scratch folder, runs ``warmup`` steps (kernel choice,
    the first R1 step), then times ``steps`` more (default one R1 interval, so
    the lazy penalty weighs in as in training), waiting for the device at both ends.
    Nothing is written outside the scratch folder.

    Args:
        config: Settings to time (``batch`` above all).
        data: ``data.train`` ``[N, R, R, C]`` uint8 real images.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        steps: Steps timed; None: ``config.r1_interval``.
        warmup: Untimed steps first.

    Returns:
        ``{"batch", "steps", "seconds", "images_per_second", "device", "device_name"}``.

    """
    import tempfile

    steps = steps or config.r1_interval
    dev = torch.device(device)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    with tempfile.TemporaryDirectory() as tmp, _seeded(config.seed, dev):
        trainer = _Trainer(config, data, Path(tmp), dev)
        trainer.G.train()
        trainer.D.train()
        for _ in range(warmup):
            trainer._train_step()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer._train_step()
        sync()
        seconds = time.perf_counter() - t0
    return {
        "batch": config.batch,
        "steps": steps,
        "seconds": seconds,
        "images_per_second": steps * config.batch / seconds,
        "device": str(dev),
        "device_name": trainer.log["device_name"],
    }


def load_trained_generator(folder: Path, device: str = "cpu") -> StyleGAN2Generator:
    """The EMA generator of a training folder's checkpoint, in eval mode."""
    ckpt = torch.load(Path(folder) / CHECKPOINT, map_location="cpu", weights_only=False)
    G, _ = build_networks(StyleGAN2TrainConfig(**ckpt["config"]))
    G.load_state_dict(ckpt["G_ema"])
    return G.to(device).eval()


def write_ema_only(folder: Path, path: Path) -> int:
    """Copy a training folder's EMA generator and record, without D or optimiser state.

    The copy (float32, about a quarter of the checkpoint) is what leaves a lent GPU
    machine: named ``checkpoint.pt`` in a folder, it exports like the full one
    (:func:`export_generator`, ``bench export-generator stylegan2``) but cannot
    resume training.

    Args:
        folder: Training folder.
        path: File to write (atomically).

    Returns:
        Its size in bytes.

    """
    ckpt = torch.load(Path(folder) / CHECKPOINT, map_location="cpu", weights_only=False)
    keep = ("config", "G_ema", "step", "train_seconds", "log")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save({**{k: ckpt[k] for k in keep}, "ema_only": True}, Path(path))
    return Path(path).stat().st_size


def export_generator(folder: Path, path: Path) -> dict:
    """Write the EMA generator in float16 (``{"arch", "state_dict", "training"}``).

    ``bench.generators.stylegan2_checkpoints.load_stylegan2`` reads it back.

    Returns:
        The ``training`` summary written with it (images seen, seconds, device).

    """
    ckpt = torch.load(Path(folder) / CHECKPOINT, map_location="cpu", weights_only=False)
    G, _ = build_networks(StyleGAN2TrainConfig(**ckpt["config"]))
    G.load_state_dict(ckpt["G_ema"])
    summary = {
        "images_seen": ckpt["step"] * ckpt["config"]["batch"],
        "train_seconds": ckpt["train_seconds"],
        "device": ckpt["log"]["device_name"],
        "data": ckpt["log"]["data"],
        "config": ckpt["config"],
    }
    state = {k: v.half() for k, v in G.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"arch": G.arch, "state_dict": state, "training": summary}, path)
    return summary


def _unpacked(description: str) -> str:
    """A data description without the ``"; packed: ..."`` a face pack adds to its photos'."""
    return description.split("; packed: ", 1)[0]

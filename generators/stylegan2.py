"""StyleGAN2 (config-f family): mapping network, skip synthesis network, generator.

Written from the StyleGAN2 paper and its public descriptions (see
``stylegan2_layers``). The module and parameter names are chosen so that the
state dict of :class:`StyleGAN2Generator` has exactly the keys and shapes of the
``G_ema`` network in NVIDIA's stylegan2-ada-pytorch checkpoints, which makes the
checkpoint readers in ``stylegan2_checkpoints`` plain name maps::

    mapping.fc{0..7}.weight/bias, mapping.w_avg
    synthesis.b4.const, synthesis.b{R}.resample_filter,
    synthesis.b{R}.conv{0,1}.{weight, bias, noise_const, noise_strength,
                              resample_filter, affine.weight, affine.bias},
    synthesis.b{R}.torgb.{weight, bias, affine.weight, affine.bias}

Channels at resolution R are ``min(channel_base // R, channel_max)``; config-f is
``channel_base=32768, channel_max=512`` (512 up to 64×64, then 256, 128, 64, 32).
``num_ws = 2·log2(R) − 2`` style vectors (18 at 1024).
"""

from __future__ import annotations

import math

import torch
from bench.generators.stylegan2_layers import (
    FullyConnectedLayer,
    SynthesisLayer,
    ToRGBLayer,
    fir_kernel,
    upsample2d,
)
from torch import nn

from bench.generator import Generator


def channels_at(resolution: int, channel_base: int = 32768, channel_max: int = 512) -> int:
    """Feature channels of the synthesis block at ``resolution``."""
    return min(channel_base // resolution, channel_max)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale every row to unit mean square ("pixel norm" of z): ``[N, D]`` → ``[N, D]``."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z → w: pixel norm, then ``num_layers`` leaky-ReLU layers with lr multiplier 0.01.

    Tracks the average w (``w_avg`` buffer, decay ``w_avg_beta``) while training,
    for the truncation trick.

    Args:
        z_dim: Latent size.
        w_dim: Style vector size.
        num_ws: Copies of w to output (one per synthesis layer and the last ToRGB).
        num_layers: Fully connected layers (8 in StyleGAN2).
        lr_multiplier: Learning-rate multiplier of the layers.
        w_avg_beta: Decay of the tracked average.

    Attributes:
        truncation_psi: ψ used when ``forward`` gets none (1: no truncation).

    """

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        self.truncation_psi = 1.0
        for idx in range(num_layers):
            fc = FullyConnectedLayer(
                z_dim if idx == 0 else w_dim, w_dim, lrelu=True, lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", fc)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor,
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
        update_w_avg: bool | None = None,
    ) -> torch.Tensor:
        """Style vectors for latents.

        Args:
            z: Latents ``[N, z_dim]``.
            truncation_psi: ψ: ``w_avg + ψ (w − w_avg)``; None: ``self.truncation_psi``.
            truncation_cutoff: Truncate only the first this many of the ``num_ws``.
            update_w_avg: Update ``w_avg`` from this batch; None: when training.

        Returns:
            ws ``[N, num_ws, w_dim]`` (the same w repeated).

        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"mapping: z must be [N, {self.z_dim}], got {tuple(z.shape)}")
        x = normalize_2nd_moment(z.to(torch.float32))
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)  # [N, w_dim]
        if self.training if update_w_avg is None else update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)  # [N, num_ws, w_dim]
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        if psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            head = self.w_avg.to(ws.dtype).lerp(ws[:, :cut], psi)
            ws = torch.cat([head, ws[:, cut:]], dim=1)
        return ws


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (const | up-conv), conv, ToRGB added to the image.

    Args:
        in_channels: Channels coming in (0 for the first, 4×4 block).
        out_channels: Channels of this block.
        w_dim: Style vector size.
        resolution: Height and width of this block.
        img_channels: Image channels.
        conv_clamp: Activation clamp of the layers (None: off).

    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.register_buffer("resample_filter", fir_kernel())
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp
            )
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp
        )
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the block.

        Args:
            x: Features ``[N, in_channels, R/2, R/2]`` (None for the first block).
            img: Image so far ``[N, C, R/2, R/2]`` (None for the first block).
            ws: Its style vectors ``[N, num_conv + 1, w_dim]``.
            noise_mode: See ``SynthesisLayer.forward``.
            generator: Noise source for ``"random"``.

        Returns:
            Features ``[N, out_channels, R, R]`` and image ``[N, C, R, R]`` (float32).

        """
        if x is None:
            x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1).to(ws.dtype)
            # Channels-last from here on: every later layer keeps the layout (see
            # SynthesisNetwork.forward).
            x = x.contiguous(memory_format=torch.channels_last)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, generator)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode, generator)
        y = self.torgb(x, ws[:, self.num_conv]).to(torch.float32)
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws → image: blocks ``b4, b8, …, b{img_resolution}``, ToRGB summed across resolutions.

    Args:
        w_dim: Style vector size.
        img_resolution: Output height and width (a power of 2, ≥ 4).
        img_channels: Image channels.
        channel_base: Channels at R are ``min(channel_base // R, channel_max)``.
        channel_max: Most channels of any block.
        conv_clamp: Activation clamp (NVIDIA's mixed-precision networks use 256).

    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        log2 = int(math.log2(img_resolution)) if img_resolution >= 4 else 0
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of 2 ≥ 4, got {img_resolution}")
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        self.num_ws = 0
        for res in self.block_resolutions:
            cin = channels_at(res // 2, channel_base, channel_max) if res > 4 else 0
            cout = channels_at(res, channel_base, channel_max)
            block = SynthesisBlock(cin, cout, w_dim, res, img_channels, conv_clamp)
            setattr(self, f"b{res}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last ToRGB

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
        clamp: bool = True,
    ) -> torch.Tensor:
        """Images for style vectors.

        Args:
            ws: ``[N, num_ws, w_dim]``.
            noise_mode: ``"const"`` (deterministic), ``"random"`` (needs ``generator``) or
                ``"none"``.
            generator: Noise source for ``"random"``.
            clamp: Clamp to [-1, 1] (the contract); training uses the raw output.

        Returns:
            Images ``[N, img_channels, img_resolution, img_resolution]``, float32.

        The features run channels-last (NHWC in memory): on a CPU that makes the
        depthwise FIR filters and the 32- and 64-channel convolutions at high
        resolution several times faster (StyleGAN2 config-f 1024 ran 1.6× faster
        on one thread), and on a GPU it is the layout tensor cores read.

        """
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(
                f"synthesis: ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}"
            )
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            cur = ws[:, w_idx : w_idx + block.num_conv + 1]  # [N, num_conv + 1, w_dim]
            x, img = block(x, img, cur, noise_mode, generator)
            w_idx += block.num_conv
        assert img is not None
        img = img.contiguous()  # [N, C, H, W] in the usual layout, whatever the blocks used
        return img.clamp(-1, 1) if clamp else img


class StyleGAN2Generator(Generator):
    """StyleGAN2 generator following the suite's contract (``bench.generator.Generator``).

    ``G(z)`` maps with the set truncation ψ, synthesises with constant noise and
    clamps to [-1, 1], so a latent always gives the same image.

    Args:
        z_dim: Latent size (512).
        w_dim: Style vector size (512).
        img_resolution: Output height and width.
        img_channels: Image channels.
        channel_base: See ``SynthesisNetwork``.
        channel_max: See ``SynthesisNetwork``.
        mapping_layers: Layers of the mapping network (8).
        conv_clamp: Activation clamp (None: off).
        truncation_psi: ψ of ``G(z)`` and ``G.mapping(z)`` (1: none).

    """

    def __init__(
        self,
        z_dim: int = 512,
        w_dim: int = 512,
        img_resolution: int = 1024,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        mapping_layers: int = 8,
        conv_clamp: float | None = None,
        truncation_psi: float = 1.0,
    ):
        super().__init__()
        self.arch = {
            "z_dim": z_dim,
            "w_dim": w_dim,
            "img_resolution": img_resolution,
            "img_channels": img_channels,
            "channel_base": channel_base,
            "channel_max": channel_max,
            "mapping_layers": mapping_layers,
            "conv_clamp": conv_clamp,
        }
        self.z_dim, self.w_dim = z_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, channel_base, channel_max, conv_clamp
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, num_layers=mapping_layers)
        self.mapping.truncation_psi = truncation_psi

    @property
    def truncation_psi(self) -> float:
        """ψ applied by ``G(z)`` and ``G.mapping(z)``."""
        return self.mapping.truncation_psi

    @truncation_psi.setter
    def truncation_psi(self, psi: float) -> None:
        self.mapping.truncation_psi = float(psi)

    def forward(
        self,
        z: torch.Tensor,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Images in [-1, 1] ``[N, C, R, R]`` for latents ``z [N, z_dim]``."""
        return self.synthesis(self.mapping(z), noise_mode=noise_mode, generator=generator)


def config_f(img_resolution: int, **overrides) -> StyleGAN2Generator:
    """StyleGAN2 config-f at ``img_resolution`` (z 512, w 512, channels 32768/R ≤ 512).

    Instantiate under ``torch.device("meta")`` to look at the 1024 network without
    allocating its 30 M parameters.
    """
    return StyleGAN2Generator(img_resolution=img_resolution, **overrides)

"""StyleGAN2's residual discriminator, used only for training our own weights.

From the paper's description: FromRGB at full resolution; per resolution two 3×3
convolutions (the second one down-sampling: FIR low-pass then stride 2) plus a
1×1 down-sampling skip, the two paths summed with weight √½; at 4×4 a minibatch
standard-deviation channel, a 3×3 convolution, a fully connected layer and the
output logit. Equalized learning rate throughout, leaky ReLU (gain √2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from bench.generators.stylegan2 import channels_at
from bench.generators.stylegan2_layers import (
    LRELU_GAIN,
    FullyConnectedLayer,
    bias_act,
    downsample2d,
    fir_filter,
    fir_kernel,
)
from torch import nn


class Conv2dLayer(nn.Module):
    """Convolution with equalized learning rate, optional 2× down-sampling and leaky ReLU.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: 1 or 3.
        lrelu: Leaky ReLU (gain √2) after the bias.
        down: Down-sample by 2 (low-pass first).
        bias: Learn a bias.

    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        lrelu: bool = True,
        down: bool = False,
        bias: bool = True,
    ):
        super().__init__()
        self.lrelu, self.down = lrelu, down
        self.register_buffer("resample_filter", fir_kernel())
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``[N, I, H, W]`` → ``[N, O, H, W]`` (or ``H/2`` with ``down``)."""
        w = (self.weight * self.weight_gain).to(x.dtype)
        k = w.shape[-1]
        if self.down and k == 1:
            x = F.conv2d(downsample2d(x, self.resample_filter), w)
        elif self.down:
            x = fir_filter(x, self.resample_filter, (k // 2 + 1, k // 2 + 1))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=k // 2)
        g = (LRELU_GAIN if self.lrelu else 1.0) * gain
        return bias_act(x, self.bias, lrelu=self.lrelu, gain=g)


class DiscriminatorBlock(nn.Module):
    """Residual block: two convolutions (the second halves the size) plus a 1×1 skip."""

    def __init__(self, in_channels: int, out_channels: int, img_channels: int, first: bool):
        super().__init__()
        if first:
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1)
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3)
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3, down=True)
        self.skip = Conv2dLayer(in_channels, out_channels, 1, lrelu=False, down=True, bias=False)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        """Features ``[N, C, R, R]`` (or None + image ``[N, c, R, R]``) → ``[N, C', R/2, R/2]``."""
        if x is None:
            x = self.fromrgb(img)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


class Discriminator(nn.Module):
    """Image ``[N, C, R, R]`` → realness logit ``[N]``.

    Args:
        img_resolution: Input height and width (power of 2, ≥ 8).
        img_channels: Image channels.
        channel_base: Channels at R: ``min(channel_base // R, channel_max)``.
        channel_max: Most channels.
        mbstd_group: Group size of the minibatch standard deviation.

    """

    def __init__(
        self,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group: int = 4,
    ):
        super().__init__()
        self.img_resolution = img_resolution
        self.mbstd_group = mbstd_group
        self.block_resolutions = [2**i for i in range(int(math.log2(img_resolution)), 2, -1)]
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                channels_at(res, channel_base, channel_max),
                channels_at(res // 2, channel_base, channel_max),
                img_channels,
                first=res == img_resolution,
            )
            setattr(self, f"b{res}", block)
        c4 = channels_at(4, channel_base, channel_max)
        self.conv = Conv2dLayer(c4 + 1, c4, 3)
        self.fc = FullyConnectedLayer(c4 * 16, c4, lrelu=True)
        self.out = FullyConnectedLayer(c4, 1)

    def minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        """Append the mean standard deviation over groups of samples: C → C + 1 channels."""
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        if n % g:
            g = 1
        y = x.float().reshape(g, -1, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=[1, 2, 3])  # [N / g]
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Logits ``[N]`` for images ``[N, C, R, R]`` (features run channels-last, as in G)."""
        img = img.contiguous(memory_format=torch.channels_last)
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        x = self.conv(self.minibatch_std(x))  # [N, C4, 4, 4]
        x = self.fc(x.flatten(1))
        return self.out(x).squeeze(1)

"""The DCGANs of the set-diversity study (seeds digest §2), in PyTorch.

Generator (28×28×1, MNIST and Fashion-MNIST)::

    z [N, 100] → Dense 7·7·128, ReLU → [N, 128, 7, 7]
    → Upsample×2 → Conv 128 3×3 → BN → ReLU          # [N, 128, 14, 14]
    → Upsample×2 → Conv 64 3×3 → BN → ReLU           # [N, 64, 28, 28]
    → Conv 1 3×3 → tanh                              # [N, 1, 28, 28]

Generator (faces, RGB): Dense 8·8·128 (ReLU), then Upsample×2 + Conv 3×3 + BN +
ReLU blocks with 256, 128, 64 channels (64×64), one more 64-channel block per
doubling beyond that (the study's printed list stops at 64×64), Conv 3, tanh.

Discriminator (all): Conv32 s2, LeakyReLU 0.2, Dropout 0.25; Conv64 s2,
zero-pad right/bottom by 1, BN, LeakyReLU, Dropout; Conv128 s2, BN, LeakyReLU,
Dropout; Conv256 s1, BN, LeakyReLU, Dropout; Flatten; Dense 1. It returns the
logit; the sigmoid of the study lives in the loss (``BCEWithLogits``, the same
function computed stably).

Keras's ``BatchNormalization(momentum=0.8)`` keeps 0.8 of the old running
average, which is PyTorch's ``momentum=0.2``; Keras's epsilon is 1e-3.

In eval mode the generator computes the same function in fewer steps: each
block's batch norm folds into its convolution, and nearest ×2 up-sampling
followed by a 3×3 convolution is one transposed convolution of stride 2 with a
4×4 kernel (``fused_up_block``): 16 instead of 36 multiply-adds per input pixel
and channel pair, no up-sampled copy, and every tensor channels-last. Images
agree with the layer-by-layer computation to float32 rounding (about 1e-5).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.generator import Generator

BN_MOMENTUM = 0.2  # Keras momentum 0.8
BN_EPS = 1e-3  # Keras default


# Nearest ×2 up-sampling, then a 3×3 convolution of padding 1: output row 2i reads
# input rows i-1 (kernel row 0) and i (rows 1 and 2), output row 2i+1 reads rows i
# (kernel rows 0 and 1) and i+1 (row 2). As a transposed convolution of stride 2 and
# padding 1, whose 4×4 kernel row k reaches output row 2i + k - 1 from input row i,
# that is: row 0 = w[2], row 1 = w[1] + w[2], row 2 = w[0] + w[1], row 3 = w[0].
# TAPS[k, a] = 1 where row a of the 3×3 kernel adds into row k of the 4×4 one (the
# same holds for columns).
TAPS = torch.tensor(
    [[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
)  # [4, 3]


def fused_up_block(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """An eval-mode up-block (up-sample, conv, batch norm, ReLU) as one transposed conv.

    Args:
        block: A block of ``_up_block`` (its batch norm's running statistics are used).
        x: Input ``[N, C_in, H, W]``, best channels-last.

    Returns:
        ``[N, C_out, 2H, 2W]``, channels-last: what ``block.eval()(x)`` returns, to
        float32 rounding.

    """
    _, conv, bn, _ = block
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)  # [C_out]
    taps = TAPS.to(conv.weight)
    weight = torch.einsum(  # [C_in, C_out, 4, 4], as conv_transpose2d takes it
        "ka,lb,oiab->iokl", taps, taps, conv.weight * scale[:, None, None, None]
    ).contiguous(memory_format=torch.channels_last)
    bias = (conv.bias - bn.running_mean) * scale + bn.bias
    return torch.relu_(F.conv_transpose2d(x, weight, bias, stride=2, padding=1))


def _up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout, momentum=BN_MOMENTUM, eps=BN_EPS),
        nn.ReLU(inplace=True),
    )


class DCGANGenerator(Generator):
    """DCGAN generator of the set-diversity study: latent ``[N, z_dim]`` → image in [-1, 1].

    Args:
        img_resolution: 28 (digits) or a power of two ≥ 32 (faces).
        img_channels: 1 or 3.
        z_dim: Latent size (the study used 100).

    """

    def __init__(self, img_resolution: int = 28, img_channels: int = 1, z_dim: int = 100):
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = z_dim, img_resolution, img_channels
        if img_resolution == 28:
            base, widths = 7, [128, 64]
        elif img_resolution >= 32 and math.log2(img_resolution).is_integer():
            base = 8
            doublings = int(math.log2(img_resolution // base))
            widths = ([256, 128, 64] + [64] * doublings)[:doublings]
        else:
            raise ValueError(
                f"img_resolution must be 28 or a power of two >= 32, got {img_resolution}"
            )
        self.base = base
        self.dense = nn.Linear(z_dim, 128 * base * base)
        blocks, cin = [], 128
        for cout in widths:
            blocks.append(_up_block(cin, cout))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.to_img = nn.Conv2d(cin, img_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C, R, R]`` in [-1, 1] for latents ``[N, z_dim]``.

        In training mode layer by layer (batch norm on batch statistics); in eval mode
        through ``fused_up_block`` (the same function, 2.4 times as fast on a CPU).
        """
        if self.training:
            return self.layer_by_layer(z)
        x = torch.relu(self.dense(z)).view(-1, 128, self.base, self.base)  # [N, 128, b, b]
        x = x.contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            x = fused_up_block(block, x)
        return torch.tanh(self.to_img(x))

    def layer_by_layer(self, z: torch.Tensor) -> torch.Tensor:
        """``forward`` module by module (up-sample, conv, batch norm, ReLU), in any mode.

        Training runs it; in eval mode it is the reference ``forward``'s fused blocks
        are checked and timed against.
        """
        x = torch.relu(self.dense(z)).view(-1, 128, self.base, self.base)  # [N, 128, b, b]
        return torch.tanh(self.to_img(self.blocks(x)))  # blocks: [N, 64, R, R]


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator of the study: image ``[N, C, R, R]`` → real/fake logit ``[N]``.

    Args:
        img_resolution: Input height and width.
        img_channels: Input channels.
        dropout: Dropout rate after every block (0.25 in the study).

    """

    def __init__(self, img_resolution: int = 28, img_channels: int = 1, dropout: float = 0.25):
        super().__init__()

        def bn(c: int) -> nn.BatchNorm2d:
            return nn.BatchNorm2d(c, momentum=BN_MOMENTUM, eps=BN_EPS)

        def act() -> list[nn.Module]:
            return [nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]

        self.features = nn.Sequential(
            nn.Conv2d(img_channels, 32, 3, stride=2, padding=1),
            *act(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ZeroPad2d((0, 1, 0, 1)),
            bn(64),
            *act(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1),
            bn(128),
            *act(),
            nn.Conv2d(128, 256, 3, stride=1, padding=1),
            bn(256),
            *act(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n = self.features(torch.zeros(2, img_channels, img_resolution, img_resolution)).shape[1]
        self.head = nn.Linear(n, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``[N]`` for images ``[N, C, R, R]`` in [-1, 1]."""
        return self.head(self.features(images)).squeeze(1)

"""check_generator checks the whole generator contract: a fixed latent gives fixed images, and a
style-based generator (``num_ws`` set) has an int ``w_dim``, ``mapping`` and ``synthesis``."""

from __future__ import annotations

import pytest
import torch

from bench.generator import Generator
from bench.testing import check_generator


class Mapping(torch.nn.Module):
    """z ``[N, 4]`` → ws ``[N, 2, 3]``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 6)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).reshape(-1, 2, 3)  # [N, num_ws, w_dim]


class Synthesis(torch.nn.Module):
    """ws ``[N, 2, 3]`` → images ``[N, 1, 4, 4]`` in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, 16)

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(ws.flatten(1))).reshape(-1, 1, 4, 4)


class Styled(Generator):
    """A tiny style-based generator that keeps the contract; subclasses break one promise."""

    z_dim, img_resolution, img_channels = 4, 4, 1
    w_dim, num_ws = 3, 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)  # a test's own weights; check_generator never seeds
        self.mapping = Mapping()
        self.synthesis = Synthesis()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.mapping(z))


class Plain(Generator):
    """A tiny generator without styles."""

    z_dim, img_resolution, img_channels = 4, 4, 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z[:, :1, None, None].expand(-1, 1, 4, 4) + z.sum(1)[:, None, None, None])


def test_generators_that_keep_the_contract_pass():
    check_generator(Styled().eval())
    check_generator(Plain().eval())


def test_a_generator_that_is_random_for_a_fixed_latent_fails_with_its_own_message():
    class Noisy(Plain):
        def forward(self, z):
            return (super().forward(z) + 0.1 * torch.rand(len(z), 1, 4, 4)).clamp(-1, 1)

    with pytest.raises(AssertionError, match=r"same z twice must give the same images"):
        check_generator(Noisy().eval())


def test_a_style_generator_needs_an_int_w_dim():
    class NoWDim(Styled):
        w_dim = None

    with pytest.raises(
        AssertionError, match=r"num_ws is set .*w_dim must be an int of at least 1, got None"
    ):
        check_generator(NoWDim().eval())


def test_a_style_generator_needs_a_synthesis():
    class NoSynthesis(Styled):
        def __init__(self):
            super().__init__()
            del self.synthesis
            self.net = Synthesis()

        def forward(self, z):
            return self.net(self.mapping(z))

    with pytest.raises(AssertionError, match=r"synthesis\(ws \[N, num_ws, w_dim\]\) must return"):
        check_generator(NoSynthesis().eval())


def test_synthesis_must_return_images_of_the_generators_shape():
    class Wide(Synthesis):
        def forward(self, ws):
            return super().forward(ws).repeat(1, 3, 1, 1)  # [N, 3, 4, 4]: 3 channels, not 1

    class WrongSynthesis(Styled):
        def __init__(self):
            super().__init__()
            self.synthesis = Wide()

        def forward(self, z):
            return self.synthesis(self.mapping(z))[:, :1]

    with pytest.raises(AssertionError, match=r"synthesis\(\) images have shape \(3, 3, 4, 4\)"):
        check_generator(WrongSynthesis().eval())


def test_synthesis_must_return_images_in_range():
    class Loud(Synthesis):
        def forward(self, ws):
            return 3 * super().forward(ws)

    class LoudSynthesis(Styled):
        def __init__(self):
            super().__init__()
            self.synthesis = Loud()

        def forward(self, z):
            return self.synthesis(self.mapping(z)).clamp(-1, 1)

    with pytest.raises(AssertionError, match=r"synthesis\(\) images must lie in \[-1, 1\]"):
        check_generator(LoudSynthesis().eval())


def test_synthesis_of_mapping_must_be_the_generators_images():
    class Elsewhere(Styled):
        def forward(self, z):
            return -super().forward(z)

    with pytest.raises(AssertionError, match=r"synthesis\(mapping\(z\)\) differs from generate"):
        check_generator(Elsewhere().eval())

"""StyleGAN2 network: contract, config-f shapes, layer arithmetic, noise, truncation."""

import math

import pytest
import torch
import torch.nn.functional as F
from bench.generators.stylegan2 import StyleGAN2Generator, config_f
from bench.generators.stylegan2_layers import (
    FullyConnectedLayer,
    SynthesisLayer,
    downsample2d,
    fir_kernel,
    modulated_conv2d,
    upsample2d,
)

from bench.testing import check_generator


def small(seed: int = 0, **kw) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    args = dict(z_dim=32, w_dim=32, img_resolution=32, channel_base=256, channel_max=32)
    args.update(kw)
    G = StyleGAN2Generator(**args).eval()
    with torch.no_grad():  # non-zero noise strengths and w_avg, so the tests see them
        for m in G.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.3)
        G.mapping.w_avg.normal_()
    return G


def test_contract_on_a_small_network():
    G = small()
    assert (G.z_dim, G.w_dim, G.num_ws, G.img_resolution, G.img_channels) == (32, 32, 8, 32, 3)
    check_generator(G)


@pytest.mark.parametrize("res,num_ws", [(256, 14), (512, 16), (1024, 18)])
def test_config_f_shapes_on_the_meta_device(res, num_ws):
    with torch.device("meta"):
        G = config_f(res)
    assert (G.z_dim, G.w_dim, G.num_ws, G.img_resolution) == (512, 512, num_ws, res)
    widths = {r: getattr(G.synthesis, f"b{r}").conv1.weight.shape[0] for r in (4, 64, res)}
    assert widths == {4: 512, 64: 512, res: 32768 // res}
    if res == 1024:  # the figure stylegan2-ada-pytorch prints for its FFHQ generator
        assert sum(p.numel() for p in G.parameters()) == 30_370_060


def test_mapping_normalises_z_and_broadcasts():
    G = small()
    z = torch.randn(5, 32, generator=torch.Generator().manual_seed(1))
    ws = G.mapping(z)
    assert ws.shape == (5, 8, 32)
    assert torch.equal(ws[:, 0], ws[:, -1])
    assert torch.allclose(G.mapping(3 * z), ws, atol=1e-5)  # pixel norm: scale-free
    with pytest.raises(ValueError, match=r"z must be \[N, 32\]"):
        G.mapping(torch.zeros(2, 31))


def test_equalized_learning_rate():
    torch.manual_seed(0)
    fc = FullyConnectedLayer(16, 4, lr_multiplier=0.01, bias_init=0.5)
    assert fc.weight.std() > 50  # stored as N(0, 1) / 0.01
    x = torch.randn(3, 16)
    expect = x @ (fc.weight * 0.01 / 4).t() + 0.5 * 0.01
    assert torch.allclose(fc(x), expect, atol=1e-6)


def test_truncation_psi():
    G = small()
    z = torch.randn(4, 32, generator=torch.Generator().manual_seed(2))
    w = G.mapping(z, truncation_psi=1.0)
    w0 = G.mapping(z, truncation_psi=0.0)
    assert torch.allclose(w0, G.mapping.w_avg.expand_as(w0))
    half = G.mapping(z, truncation_psi=0.5)
    assert torch.allclose(half, 0.5 * (w + G.mapping.w_avg), atol=1e-6)
    cut = G.mapping(z, truncation_psi=0.0, truncation_cutoff=3)
    assert torch.allclose(cut[:, :3], w0[:, :3]) and torch.equal(cut[:, 3:], w[:, 3:])
    G.truncation_psi = 0.0
    images = G(z)
    assert torch.allclose(images, images[:1].expand_as(images), atol=1e-6)


def test_w_avg_is_tracked_in_training_only():
    G = small()
    before = G.mapping.w_avg.clone()
    z = torch.randn(8, 32, generator=torch.Generator().manual_seed(3))
    G.mapping(z)
    assert torch.equal(G.mapping.w_avg, before)
    G.train()
    w = G.mapping(z, truncation_psi=1.0)[:, 0].detach()
    assert torch.allclose(G.mapping.w_avg, w.mean(0).lerp(before, 0.995), atol=1e-6)


def test_noise_modes():
    G = small()
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(4))
    const = G(z)
    assert torch.equal(const, G(z))
    a = G(z, noise_mode="random", generator=torch.Generator().manual_seed(5))
    b = G(z, noise_mode="random", generator=torch.Generator().manual_seed(5))
    c = G(z, noise_mode="random", generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, const)
    assert not torch.equal(G(z, noise_mode="none"), const)
    with pytest.raises(ValueError, match=r"explicit torch\.Generator"):
        G(z, noise_mode="random")
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="fixed")


def test_every_style_vector_matters_and_output_is_clamped_only_on_request():
    G = small()
    ws = G.mapping(torch.randn(1, 32, generator=torch.Generator().manual_seed(7)))
    base = G.synthesis(ws)
    for k in range(G.num_ws):
        other = ws.clone()
        other[:, k] += 1.0
        assert not torch.equal(G.synthesis(other), base), f"ws[:, {k}] is ignored"
    with torch.no_grad():
        G.synthesis.b32.torgb.bias.fill_(5.0)
    assert G.synthesis(ws).max() <= 1.0 and G.synthesis(ws, clamp=False).max() > 1.0
    with pytest.raises(ValueError, match=r"ws must be \[N, 8, 32\]"):
        G.synthesis(ws[:, :7])


def test_fir_kernel_and_resampling_preserve_a_constant():
    f = fir_kernel()
    assert f.shape == (4, 4) and torch.allclose(f.sum(), torch.tensor(1.0))
    assert torch.allclose(f[0], torch.tensor([1.0, 3, 3, 1]) / 64)
    x = torch.full((1, 2, 8, 8), 0.7)
    up = upsample2d(x, f)
    assert up.shape == (1, 2, 16, 16)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.full_like(up[..., 2:-2, 2:-2], 0.7))
    down = downsample2d(x, f)
    assert down.shape == (1, 2, 4, 4)
    assert torch.allclose(down[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 0.7))


@pytest.mark.parametrize("k", [2, 4, 6])
def test_resampling_equals_zero_insertion_and_subsampling(k):
    """Up: zeros after every sample, pad, filter (gain 4); down: filter, keep every second.

    An asymmetric filter, so a flipped kernel or a shifted padding would show.
    """
    f = torch.rand(k, k, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    z = torch.zeros(2, 3, 16, 16, dtype=torch.float64)
    z[..., ::2, ::2] = x
    z = F.pad(z, [(k + 1) // 2, (k - 2) // 2] * 2)
    ref_up = F.conv2d(z.reshape(6, 1, *z.shape[2:]), (4 * f).flip([0, 1])[None, None])
    assert torch.allclose(upsample2d(x, f), ref_up.reshape(2, 3, 16, 16), atol=1e-12)
    p = F.pad(x, [(k - 1) // 2, (k - 2) // 2] * 2)
    ref_down = F.conv2d(p.reshape(6, 1, *p.shape[2:]), f.flip([0, 1])[None, None])[..., ::2, ::2]
    assert torch.allclose(downsample2d(x, f), ref_down.reshape(2, 3, 4, 4), atol=1e-12)
    with pytest.raises(ValueError, match="even filter"):
        upsample2d(x, torch.ones(3, 3, dtype=torch.float64))


def per_sample_modconv(x, weight, styles, demodulate=True):
    """Reference: build each sample's own kernel, as the paper writes it."""
    out = []
    for xi, si in zip(x, styles, strict=True):
        w = weight * si.reshape(1, -1, 1, 1)
        if demodulate:
            w = w / (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        out.append(F.conv2d(xi[None], w, padding=weight.shape[-1] // 2))
    return torch.cat(out)


def test_modulated_conv_equals_per_sample_kernels():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(3, 6, 8, 8, generator=g)
    weight = torch.randn(5, 6, 3, 3, generator=g)
    styles = torch.rand(3, 6, generator=g) + 0.5
    for demod in (True, False):
        ours = modulated_conv2d(x, weight, styles, demodulate=demod)
        assert torch.allclose(ours, per_sample_modconv(x, weight, styles, demod), atol=1e-5)


def test_up_conv_equals_zero_insertion_conv_then_filter():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 4, 6, 6, generator=g)
    weight = torch.randn(3, 4, 3, 3, generator=g)
    styles = torch.ones(2, 4)
    f = fir_kernel()
    ours = modulated_conv2d(x, weight, styles, demodulate=False, up=True, resample_filter=f)
    assert ours.shape == (2, 3, 12, 12)
    # Transposed conv with stride 2 = zero insertion then a full convolution with the
    # flipped kernel; then the 4-tap filter (gain 4) brings 13 samples back to 12.
    z = torch.zeros(2, 4, 11, 11)
    z[..., ::2, ::2] = x
    y = F.conv2d(F.pad(z, [2, 2, 2, 2]), weight.flip([2, 3]))  # [2, 3, 13, 13]
    k = (4 * f)[None, None].expand(3, 1, 4, 4)
    ref = F.conv2d(F.pad(y, [1, 1, 1, 1]), k, groups=3)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_demodulation_keeps_unit_variance():
    g = torch.Generator().manual_seed(10)
    x = torch.randn(4, 64, 16, 16, generator=g)
    weight = torch.randn(64, 64, 3, 3, generator=g)
    styles = torch.rand(4, 64, generator=g) * 3
    y = modulated_conv2d(x, weight, styles)
    assert math.isclose(y[..., 1:-1, 1:-1].std().item(), 1.0, rel_tol=0.1)


def test_runs_under_bfloat16_autocast():
    # The training loop and the GPU benchmark use autocast; CPU autocast runs the same code.
    G = small()
    G.truncation_psi = 0.7
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(11))
    exact = G(z)
    G.train()  # the w_avg update too
    with torch.autocast("cpu", dtype=torch.bfloat16):
        images = G(z)
    assert images.dtype == torch.float32 and torch.isfinite(images).all()
    assert (images - exact).abs().mean() < 0.1


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("noise_mode", ["const", "random", "none"])
@pytest.mark.parametrize("conv_clamp", [None, 0.5])
def test_synthesis_layer_equals_its_formula(up, noise_mode, conv_clamp):
    """The layer's fused passes equal lrelu(demodulated conv + noise + bias)·√2, clamped."""
    torch.manual_seed(0)
    layer = SynthesisLayer(8, 6, 16, resolution=8, up=up, conv_clamp=conv_clamp)
    with torch.no_grad():
        layer.noise_strength.fill_(0.3)
        layer.bias.normal_()
    x = torch.randn(3, 8, *(4, 4) if up else (8, 8))
    w = torch.randn(3, 16)
    gen = torch.Generator().manual_seed(1) if noise_mode == "random" else None
    got = layer(x, w, noise_mode, generator=gen)
    styles = layer.affine(w)
    ref = modulated_conv2d(x, layer.weight, styles, up=up, resample_filter=layer.resample_filter)
    if noise_mode == "const":
        ref = ref + layer.noise_const * layer.noise_strength
    elif noise_mode == "random":
        noise = torch.randn((3, 1, 8, 8), generator=torch.Generator().manual_seed(1))
        ref = ref + noise * layer.noise_strength
    ref = F.leaky_relu(ref + layer.bias.reshape(1, -1, 1, 1), 0.2) * math.sqrt(2)
    if conv_clamp is not None:
        ref = ref.clamp(-conv_clamp * math.sqrt(2), conv_clamp * math.sqrt(2))
        assert (ref.abs() == conv_clamp * math.sqrt(2)).any()  # the clamp is exercised
    assert got.shape == (3, 6, 8, 8)
    assert torch.allclose(got, ref, atol=1e-5), (got - ref).abs().max()
    got.square().sum().backward()  # the in-place passes leave autograd intact
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("noise_mode", ["const", "random", "none"])
def test_features_run_channels_last_and_images_come_out_contiguous(noise_mode):
    G = small()
    seen = []
    hook = G.synthesis.b16.conv1.register_forward_hook(lambda m, i, o: seen.append(o))
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(8))
    img = G(z, noise_mode=noise_mode, generator=torch.Generator().manual_seed(9))
    hook.remove()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert img.is_contiguous() and img.shape == (2, 3, 32, 32)

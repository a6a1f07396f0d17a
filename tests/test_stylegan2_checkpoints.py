"""StyleGAN2 checkpoints: NVIDIA .pkl (restricted unpickler), rosinality .pt, name maps.

The writers here produce files with the structure of the real ones (NVIDIA's
``torch_utils.persistence`` stores every network as a call of
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` whose meta holds the
module source, the class name and the ``__dict__``). The source written here would
create a marker file if anything executed it.
"""

import hashlib
import math
import os
import pickle
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from bench.generators import stylegan2_checkpoints as checkpoints
from bench.generators.stylegan2 import StyleGAN2Generator
from bench.generators.stylegan2_checkpoints import (
    CheckpointError,
    UntrustedCheckpointError,
    estimate_w_avg,
    load_stylegan2,
    rosinality_name_map,
    to_rosinality,
)

from bench.generator import MissingWeightsError
from bench.registry import registry
from bench.spec import SpecError


def small(seed: int = 0, channels: int = 3, res: int = 32) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    G = StyleGAN2Generator(
        z_dim=32, w_dim=32, img_resolution=res, img_channels=channels, channel_base=512,
        channel_max=32, mapping_layers=4,
    ).eval()
    with torch.no_grad():
        for m in G.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.2)
        G.mapping.w_avg.normal_()
    return G


# --- a writer of NVIDIA-style snapshots, for the tests only ---------------------------------


@contextmanager
def nvidia_modules():
    """Temporary modules named like NVIDIA's, so pickle writes their global names."""
    names = ["torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"]
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("only pickled, never called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    easy = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
    mods["dnnlib.util"].EasyDict = easy
    sys.modules.update(mods)
    try:
        yield _reconstruct_persistent_obj, easy
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


class Persisted:
    def __init__(self, fn, class_name, state, source):
        self.fn, self.class_name, self.state, self.source = fn, class_name, state, source

    def __reduce__(self):
        meta = {
            "type": "class",
            "version": 6,
            "module_src": self.source,
            "class_name": self.class_name,
            "state": self.state,
        }
        return (self.fn, (meta,))


def persisted(module, fn, source, init_kwargs=None):
    # NVIDIA's layers hold their gains as numpy.float64 (from np.sqrt): write them so too.
    state = {k: np.float64(v) if isinstance(v, float) else v for k, v in module.__dict__.items()}
    state["_modules"] = OrderedDict(
        (n, persisted(c, fn, source)) for n, c in module._modules.items()
    )
    if init_kwargs is not None:
        state["_init_kwargs"] = init_kwargs
        state["_init_args"] = ()
    name = "Generator" if isinstance(module, StyleGAN2Generator) else type(module).__name__
    return Persisted(fn, name, state, source)


def write_nvidia_pkl(G, path, marker, protocol=4, **synthesis_kwargs):
    source = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('executed')\n"
    a = G.arch
    with nvidia_modules() as (fn, easy):
        kwargs = easy(
            z_dim=a["z_dim"], c_dim=0, w_dim=a["w_dim"], img_resolution=a["img_resolution"],
            img_channels=a["img_channels"], mapping_kwargs=easy(num_layers=a["mapping_layers"]),
            synthesis_kwargs=easy(
                channel_base=a["channel_base"], channel_max=a["channel_max"], num_fp16_res=4,
                conv_clamp=a["conv_clamp"], **synthesis_kwargs,
            ),
        )
        snapshot = {
            "G": persisted(G, fn, source, kwargs),
            "D": Persisted(
                fn, "Discriminator", {"_parameters": OrderedDict(), "c": np.arange(3.0)}, source
            ),
            "G_ema": persisted(G, fn, source, kwargs),
            "augment_pipe": None,
            "training_set_kwargs": easy(path="ffhq.zip", resolution=a["img_resolution"]),
        }
        with open(path, "wb") as f:
            pickle.dump(snapshot, f, protocol=protocol)


# --- NVIDIA .pkl --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4])
def test_nvidia_pickle_round_trip_bit_for_bit_without_running_its_code(tmp_path, protocol):
    G = small(1)
    path, marker = tmp_path / "network-snapshot.pkl", tmp_path / "EXECUTED"
    write_nvidia_pkl(G, path, marker, protocol)
    assert b"_reconstruct_persistent_obj" in path.read_bytes()
    with pytest.raises(UntrustedCheckpointError, match="trust=True"):
        load_stylegan2(path)
    H = load_stylegan2(path, trust=True)
    assert not marker.exists(), "code stored in the pickle was executed"
    assert "torch_utils.persistence" not in sys.modules
    assert H.arch == G.arch and H.weight_path == str(path)
    for k, v in G.state_dict().items():
        assert torch.equal(H.state_dict()[k], v), k
    z = torch.randn(4, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(G(z), H(z))
    ws = G.mapping(z, truncation_psi=0.7)
    assert torch.equal(G.synthesis(ws, clamp=False), H.synthesis(ws, clamp=False))


def test_nvidia_pickle_keeps_conv_clamp_and_grey_images(tmp_path):
    torch.manual_seed(2)
    G = StyleGAN2Generator(
        z_dim=16, w_dim=16, img_resolution=16, img_channels=1, channel_base=128,
        channel_max=16, mapping_layers=2, conv_clamp=256,
    ).eval()
    write_nvidia_pkl(G, tmp_path / "g.pkl", tmp_path / "EXECUTED")
    H = load_stylegan2(tmp_path / "g.pkl", trust=True)
    assert H.synthesis.b16.conv1.conv_clamp == 256 and H.img_channels == 1
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(G(z), H(z))


def test_pickle_with_a_foreign_global_is_refused_unrun(tmp_path):
    marker = tmp_path / "EXECUTED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Evil()}))
    with pytest.raises(CheckpointError, match=r"posix.system|os.system"):
        load_stylegan2(path, trust=True)
    assert not marker.exists()


def _build_on_global(module: str, name: str, attr: str, value: bytes) -> bytes:
    """A pickle that sets ``module.name.attr`` (pickle's BUILD with slot state), then
    returns ``{"G_ema": None}``; ``value`` is the pickled value's opcodes."""
    def text(s: str) -> bytes:
        return b"X" + len(s).to_bytes(4, "little") + s.encode()

    return (
        b"\x80\x02c" + f"{module}\n{name}\n".encode()
        + b"N}" + text(attr) + value + b"s\x86b0"  # (None, {attr: value}) BUILD, POP
        + b"}" + text("G_ema") + b"Ns."
    )


@pytest.mark.parametrize(
    ("module", "name", "attr", "value"),
    [
        # negate every tensor torch.load rebuilds afterwards, weights_only included
        ("torch._utils", "_rebuild_tensor_v2", "__defaults__", b"}" + b"X\x03\x00\x00\x00neg"
         + b"\x88s\x85"),
        ("dnnlib.util", "EasyDict", "planted", b"\x88"),
    ],
)
def test_a_pickle_cannot_alter_the_objects_it_is_given(tmp_path, module, name, attr, value):
    path = tmp_path / "poison.pkl"
    path.write_bytes(_build_on_global(module, name, attr, value))
    rebuild = torch._utils._rebuild_tensor_v2
    defaults = rebuild.__defaults__
    with pytest.raises(CheckpointError, match="no G_ema"):
        load_stylegan2(path, trust=True)
    assert rebuild.__defaults__ == defaults
    assert not hasattr(checkpoints._EasyDict, "planted")
    torch.save({"w": torch.ones(3)}, tmp_path / "plain.pt")
    assert torch.equal(torch.load(tmp_path / "plain.pt", weights_only=True)["w"], torch.ones(3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"img_resolution": 10**6}, r"img_resolution = 1000000 lies outside \[4, 2048\]"),
        ({"img_resolution": 48}, "img_resolution 48 is not a power of 2"),
        ({"z_dim": "512"}, "z_dim is '512', not an integer"),
    ],
)
def test_a_snapshot_with_malformed_sizes_is_refused_before_building(tmp_path, change, message):
    G = small()
    path = tmp_path / "g.pkl"
    with nvidia_modules() as (fn, easy):
        a = G.arch
        kwargs = easy(
            z_dim=a["z_dim"], c_dim=0, w_dim=a["w_dim"], img_resolution=a["img_resolution"],
            img_channels=a["img_channels"],
        )
        kwargs.update(change)
        path.write_bytes(pickle.dumps({"G_ema": Persisted(
            fn, "Generator", {"_init_kwargs": kwargs, "_modules": OrderedDict()}, ""
        )}))  # fmt: skip
    with pytest.raises(CheckpointError, match=message):
        load_stylegan2(path, trust=True)


def test_pickle_without_g_ema_or_of_another_architecture(tmp_path):
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps({"D": 1}))
    with pytest.raises(CheckpointError, match="no G_ema"):
        load_stylegan2(path, trust=True)
    G = small()
    del G.synthesis.b8.torgb  # a network whose parts differ from StyleGAN2's
    write_nvidia_pkl(G, path, tmp_path / "EXECUTED")
    with pytest.raises(CheckpointError, match=r"G.synthesis.b8 has parts \['conv0', 'conv1'\]"):
        load_stylegan2(path, trust=True)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"architecture": "resnet"}, "only 'skip'"),
        ({"resample_filter": [1, 2, 1]}, "resample filter"),
        ({"activation": "relu"}, "synthesis activation 'relu'"),
    ],
)
def test_pickle_of_an_unsupported_variant_is_refused(tmp_path, options, message):
    write_nvidia_pkl(small(), tmp_path / "g.pkl", tmp_path / "EXECUTED", **options)
    with pytest.raises(CheckpointError, match=message):
        load_stylegan2(tmp_path / "g.pkl", trust=True)


# --- rosinality .pt -----------------------------------------------------------------------


def rosinality_forward(sd, z, latent_avg=None, psi=1.0):
    """Independent re-statement of rosinality's g_ema forward, from its module layout."""
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith("weight"))
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    for i in range(1, n_mlp + 1):
        w, b = sd[f"style.{i}.weight"], sd[f"style.{i}.bias"]
        x = F.leaky_relu(x @ (w * 0.01 / math.sqrt(w.shape[1])).t() + b * 0.01, 0.2) * 2**0.5
    if latent_avg is not None:
        x = latent_avg + psi * (x - latent_avg)
    n = len(z)

    def modconv(h, p, demod=True, up=False):
        weight = sd[f"{p}.conv.weight"]  # [1, O, I, k, k]
        _, o, i, k, _ = weight.shape
        mw, mb = sd[f"{p}.conv.modulation.weight"], sd[f"{p}.conv.modulation.bias"]
        s = x @ (mw / math.sqrt(mw.shape[1])).t() + mb
        wt = weight / math.sqrt(i * k * k) * s.view(n, 1, i, 1, 1)
        if demod:
            wt = wt * (wt.square().sum([2, 3, 4]) + 1e-8).rsqrt().view(n, o, 1, 1, 1)
        hh = h.reshape(1, n * i, *h.shape[2:])
        if up:
            wt = wt.transpose(1, 2).reshape(n * i, o, k, k)
            out = F.conv_transpose2d(hh, wt, stride=2, groups=n)
            out = out.view(n, o, *out.shape[2:])
            kern = sd[f"{p}.conv.blur.kernel"].flip([0, 1])[None, None].expand(o, 1, 4, 4)
            return F.conv2d(F.pad(out, [1, 1, 1, 1]), kern, groups=o)
        out = F.conv2d(hh, wt.reshape(n * o, i, k, k), padding=k // 2, groups=n)
        return out.view(n, o, *out.shape[2:])

    def styled(h, p, noise, up=False):
        out = modconv(h, p, up=up) + sd[f"{p}.noise.weight"] * noise
        return F.leaky_relu(out + sd[f"{p}.activate.bias"].view(1, -1, 1, 1), 0.2) * 2**0.5

    def to_rgb(h, p, skip=None):
        out = modconv(h, p, demod=False) + sd[f"{p}.bias"]
        if skip is not None:
            c = skip.shape[1]
            u = torch.zeros(n, c, skip.shape[2] * 2, skip.shape[3] * 2)
            u[..., ::2, ::2] = skip
            kern = sd[f"{p}.upsample.kernel"].flip([0, 1])[None, None].expand(c, 1, 4, 4)
            out = out + F.conv2d(F.pad(u, [2, 1, 2, 1]), kern, groups=c)
        return out

    noises = [sd[f"noises.noise_{i}"] for i in range(sum(k.startswith("noises.") for k in sd))]
    h = sd["input.input"].repeat(n, 1, 1, 1)
    h = styled(h, "conv1", noises[0])
    skip = to_rgb(h, "to_rgb1")
    for j in range(sum(k.endswith("upsample.kernel") for k in sd)):
        h = styled(h, f"convs.{2 * j}", noises[2 * j + 1], up=True)
        h = styled(h, f"convs.{2 * j + 1}", noises[2 * j + 2])
        skip = to_rgb(h, f"to_rgbs.{j}", skip)
    return skip


def test_rosinality_round_trip_bit_for_bit_and_against_its_own_forward(tmp_path):
    G = small(3)
    blob = to_rosinality(G)
    path = tmp_path / "g.pt"
    torch.save({**blob, "args": __import__("argparse").Namespace(size=32)}, path)
    H = load_stylegan2(path)
    for k, v in G.state_dict().items():
        assert torch.equal(H.state_dict()[k], v), k
    z = torch.randn(3, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(G(z), H(z))
    with torch.no_grad():
        ref = rosinality_forward(blob["g_ema"], z, blob["latent_avg"], psi=0.6)
        ours = H.synthesis(H.mapping(z, truncation_psi=0.6), clamp=False)
    assert torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()


def test_rosinality_bare_state_dict_estimates_w_avg(tmp_path):
    G = small(4)
    torch.save(to_rosinality(G)["g_ema"], tmp_path / "bare.pt")
    H = load_stylegan2(tmp_path / "bare.pt")
    assert torch.allclose(H.mapping.w_avg, estimate_w_avg(H))
    assert not torch.equal(H.mapping.w_avg, G.mapping.w_avg)


def test_rosinality_file_with_a_wrong_tensor_is_refused(tmp_path):
    blob = to_rosinality(small(5))
    kernel = blob["g_ema"]["convs.0.conv.blur.kernel"]
    blob["g_ema"]["convs.0.conv.blur.kernel"] = torch.ones(4, 4)
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"\[1, 3, 3, 1\] filter"):
        load_stylegan2(tmp_path / "bad.pt")
    blob["g_ema"]["convs.0.conv.blur.kernel"] = kernel
    del blob["g_ema"]["noises.noise_3"]
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_stylegan2(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_stylegan2(tmp_path / "junk.pt")


# --- name maps for the official config-f networks -----------------------------------------


def nvidia_names(res):
    """G_ema state dict of stylegan2-ada-pytorch config-f, from its architecture rules."""
    ch = {r: min(32768 // r, 512) for r in (2 ** i for i in range(2, 11))}
    out = {}
    for i in range(8):
        out[f"mapping.fc{i}.weight"], out[f"mapping.fc{i}.bias"] = (512, 512), (512,)
    out["mapping.w_avg"] = (512,)
    r = 4
    while r <= res:
        b = f"synthesis.b{r}"
        out[f"{b}.resample_filter"] = (4, 4)
        convs = [("conv1", 512, 512)] if r == 4 else [("conv0", ch[r // 2], ch[r])]
        if r == 4:
            out[f"{b}.const"] = (512, 4, 4)
        else:
            convs.append(("conv1", ch[r], ch[r]))
        for name, cin, cout in convs:
            p = f"{b}.{name}"
            out.update({
                f"{p}.weight": (cout, cin, 3, 3), f"{p}.bias": (cout,), f"{p}.noise_const": (r, r),
                f"{p}.noise_strength": (), f"{p}.resample_filter": (4, 4),
                f"{p}.affine.weight": (cin, 512), f"{p}.affine.bias": (cin,),
            })
        c = ch[r]
        out.update({
            f"{b}.torgb.weight": (3, c, 1, 1), f"{b}.torgb.bias": (3,),
            f"{b}.torgb.affine.weight": (c, 512), f"{b}.torgb.affine.bias": (c,),
        })
        r *= 2
    return out


def rosinality_names(res):
    """g_ema state dict of rosinality's Generator(res, 512, 8, channel_multiplier=2)."""
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
    out = {}
    for i in range(1, 9):
        out[f"style.{i}.weight"], out[f"style.{i}.bias"] = (512, 512), (512,)
    out["input.input"] = (1, 512, 4, 4)

    def styled(p, cin, cout, up):
        out.update({
            f"{p}.conv.weight": (1, cout, cin, 3, 3), f"{p}.conv.modulation.weight": (cin, 512),
            f"{p}.conv.modulation.bias": (cin,), f"{p}.noise.weight": (1,),
            f"{p}.activate.bias": (cout,),
        })
        if up:
            out[f"{p}.conv.blur.kernel"] = (4, 4)

    def rgb(p, cin, up):
        out.update({
            f"{p}.conv.weight": (1, 3, cin, 1, 1), f"{p}.conv.modulation.weight": (cin, 512),
            f"{p}.conv.modulation.bias": (cin,), f"{p}.bias": (1, 3, 1, 1),
        })
        if up:
            out[f"{p}.upsample.kernel"] = (4, 4)

    styled("conv1", 512, 512, False)
    rgb("to_rgb1", 512, False)
    log = int(math.log2(res))
    for i in range(3, log + 1):
        k = i - 3
        styled(f"convs.{2 * k}", ch[2 ** (i - 1)], ch[2**i], True)
        styled(f"convs.{2 * k + 1}", ch[2**i], ch[2**i], False)
        rgb(f"to_rgbs.{k}", ch[2**i], True)
    for idx in range((log - 2) * 2 + 1):
        s = 2 ** ((idx + 5) // 2)
        out[f"noises.noise_{idx}"] = (1, 1, s, s)
    return out


@pytest.mark.parametrize("res", [256, 512, 1024])
def test_name_maps_cover_config_f_exactly(res):
    official = nvidia_names(res)
    with torch.device("meta"):
        G = StyleGAN2Generator(img_resolution=res)
    ours = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    assert ours == official  # NVIDIA's G_ema: the identity map
    ros = rosinality_names(res)
    names = rosinality_name_map(res)
    assert set(names) == set(ros)
    targets = [v for v in names.values() if v is not None]
    assert len(targets) == len(set(targets))
    derived = {k for k in official if k.endswith("resample_filter")} | {"mapping.w_avg"}
    assert set(targets) == set(official) - derived
    for src, dst in names.items():
        if dst is None:
            assert src.endswith("kernel")
        else:
            squeeze = tuple(s for s in ros[src] if s != 1)
            assert squeeze == tuple(s for s in official[dst] if s != 1), (src, dst)


# --- the registered FFHQ generator --------------------------------------------------------


def test_stylegan2_ffhq_without_weights_says_where_they_come_from(monkeypatch, tmp_path):
    monkeypatch.delenv("LATENT_BENCH_STYLEGAN2_FFHQ", raising=False)
    factory = registry("generators").load("stylegan2-ffhq")
    with pytest.raises(MissingWeightsError, match=r"ffhq\.pkl.*weights=PATH"):
        factory()
    with pytest.raises(MissingWeightsError, match="not found at") as given:
        factory(weights=str(tmp_path / "nope.pkl"))
    assert "LATENT_BENCH_STYLEGAN2_FFHQ)" not in str(given.value)
    monkeypatch.setenv("LATENT_BENCH_STYLEGAN2_FFHQ", str(tmp_path / "gone.pkl"))
    with pytest.raises(MissingWeightsError, match=r"gone\.pkl \(from \$LATENT_BENCH_STYLEGAN2"):
        factory()  # a path the user never typed says where it came from
    monkeypatch.delenv("LATENT_BENCH_STYLEGAN2_FFHQ")
    write_nvidia_pkl(small(), tmp_path / "ffhq.pkl", tmp_path / "EXECUTED")
    with pytest.raises(SpecError, match="trust=True"):
        factory(weights=str(tmp_path / "ffhq.pkl"))
    assert factory(weights=str(tmp_path / "ffhq.pkl"), trust=True).img_resolution == 32
    digest = hashlib.sha256((tmp_path / "ffhq.pkl").read_bytes()).hexdigest()
    monkeypatch.setenv("LATENT_BENCH_TRUSTED_SHA256", f"abc, {digest.upper()}")
    assert factory(weights=str(tmp_path / "ffhq.pkl")).img_resolution == 32


def test_stylegan2_ffhq_reads_the_users_file(monkeypatch, tmp_path):
    G = small(6)
    path = tmp_path / "ffhq.pt"
    torch.save(to_rosinality(G), path)
    monkeypatch.setenv("LATENT_BENCH_STYLEGAN2_FFHQ", str(path))
    H = registry("generators").load("stylegan2-ffhq")(truncation_psi=0.5)
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(0))
    G.truncation_psi = 0.5
    assert torch.equal(G(z), H(z)) and Path(H.weight_path) == path

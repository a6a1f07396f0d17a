"""Reading official StyleGAN2 checkpoints into ``StyleGAN2Generator`` without running their code.

Two formats:

- NVIDIA stylegan2-ada-pytorch / stylegan3 ``.pkl`` (network snapshots; the
  ``G_ema`` entry is read). Their networks are pickled by ``torch_utils.persistence``:
  every network object is stored as a call of
  ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta`` holds
  the *source code* of the defining module, the class name and the object's
  ``__dict__``; NVIDIA's loader ``exec``-s that source. Here a restricted
  ``pickle.Unpickler`` answers only a short list of globals: the persistence
  hook becomes :class:`PersistentStub`, which keeps the class name and state and
  never looks at the source; tensors are rebuilt by torch's own functions, with
  storages read through ``torch.load(weights_only=True)``; other classes of the
  ``training``/``torch_utils``/``dnnlib``/``torch.nn`` packages become inert
  stubs; anything else stops the load. The tensors are then copied name by name
  (the names of ``StyleGAN2Generator`` equal NVIDIA's). A file whose sha256 is
  not in :data:`KNOWN_SHA256` needs ``trust=True`` or its sha256 in
  ``$LATENT_BENCH_TRUSTED_SHA256``.
- rosinality's stylegan2-pytorch ``.pt`` (``g_ema`` state dict, with
  ``latent_avg`` when converted from NVIDIA's files): read with
  ``torch.load(weights_only=True)`` and renamed by :func:`rosinality_name_map`.

Files written by ``stylegan2_training.export_generator`` (``{"arch", "state_dict"}``)
load too.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import hashlib
import inspect
import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench.generators.stylegan2 import StyleGAN2Generator, channels_at
from bench.generators.stylegan2_layers import fir_kernel

from bench.problem import exception_line

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core import multiarray as _multiarray

# sha256 of official .pkl files checked by hand. Empty: no official StyleGAN2 file
# could be fetched and hashed where this was written, and a hash quoted from
# memory is worse than none. Add "sha256": "description" once verified.
KNOWN_SHA256: dict[str, str] = {}
TRUST_ENV = "LATENT_BENCH_TRUSTED_SHA256"

# Stand-ins for other packages' classes found in network snapshots (discriminator,
# augmentation pipeline, dataset options): kept inert, never imported.
_STUB_PACKAGES = ("training.", "torch_utils.", "dnnlib.", "torch.nn.modules.", "metrics.")

# Rosinality's fixed up-sampling kernels: the normalised [1, 3, 3, 1] filter × 4.
_ROSINALITY_KERNEL_GAIN = 4.0

_READ_ERRORS = (
    pickle.UnpicklingError, EOFError, AttributeError, ValueError, RuntimeError, TypeError, KeyError
)

N_AVG_SAMPLES = 10_000  # latents averaged for w_avg when a file has none


class CheckpointError(ValueError):
    """A checkpoint cannot be read as a StyleGAN2 generator; the message says why."""


class UntrustedCheckpointError(CheckpointError):
    """A ``.pkl`` whose sha256 is not a known official file, loaded without ``trust``."""


class PersistentStub:
    """What a persisted NVIDIA network object becomes: its class name and ``__dict__``.

    Attributes:
        class_name: The persisted class's name, e.g. ``"SynthesisLayer"``.
        state: The object's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``,
            ``_init_kwargs``, …).

    """

    def __init__(self, class_name: str, state: dict):
        self.class_name = class_name
        self.state = state

    def children(self) -> dict[str, Any]:
        """Sub-modules by attribute name."""
        return dict(self.state.get("_modules") or {})

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers of the whole tree, by state-dict name."""
        out: dict[str, torch.Tensor] = {}
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        for group in ("_parameters", "_buffers"):
            for name, t in (self.state.get(group) or {}).items():
                if t is not None and name not in skip:
                    out[prefix + name] = t.detach()
        for name, child in self.children().items():
            if isinstance(child, PersistentStub):
                out.update(child.tensors(f"{prefix}{name}."))
        return out


class _InertStub:
    """Stand-in for any other allowed class: accepts arguments and state, does nothing."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict)."""


def _reconstruct_persistent_obj(meta: dict) -> PersistentStub:
    # The meta's "module_src" (the pickled source code) is deliberately never read.
    if not isinstance(meta, dict) or "class_name" not in meta:
        raise CheckpointError("malformed persistent object in the pickle")
    return PersistentStub(str(meta["class_name"]), dict(meta.get("state") or {}))


def _reconstruct(cls: type, base: type, state: Any = None) -> Any:
    # copyreg._reconstructor, limited to the stub classes handed out by find_class.
    if not (isinstance(cls, type) and issubclass(cls, (_InertStub, _EasyDict))):
        raise CheckpointError(f"the pickle rebuilds {cls!r}, which is not allowed")
    return cls.__new__(cls)


def _storage_from_bytes(data: bytes) -> Any:
    # torch pickles storages as legacy torch.save bytes; read them weights-only.
    return torch.load(io.BytesIO(data), weights_only=True)


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("collections", "OrderedDict"): OrderedDict,
    ("copyreg", "_reconstructor"): _reconstruct,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): object,
    ("_codecs", "encode"): lambda text, enc="latin1": text.encode(enc),
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    # NumPy scalars and arrays (NVIDIA's layers keep gains as numpy.float64); both the
    # numpy 1 (numpy.core) and numpy 2 (numpy._core) module names occur.
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    **{
        (mod, name): getattr(_multiarray, name)
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("scalar", "_reconstruct")
    },
}


def _private_copy(obj: Any) -> Any:
    """A stand-in for ``obj`` that a pickle may alter without touching ``obj`` itself.

    pickle's BUILD opcode sets attributes on whatever object it is given, so
    handing out torch's own ``_rebuild_tensor_v2`` would let a file set its
    ``__defaults__`` for the rest of the process (and every later
    ``torch.load``). Python functions therefore go out as a fresh wrapper and
    Python classes as a fresh subclass, per request; built-in functions and
    types cannot be altered and go out as they are.
    """
    if inspect.isfunction(obj):

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return obj(*args, **kwargs)

        return wrapper
    if isinstance(obj, type) and obj.__module__ == __name__:
        return type(obj.__name__, (obj,), {"__module__": obj.__module__})
    return obj


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a network snapshot needs (see module doc)."""

    def find_class(self, module: str, name: str) -> Any:
        """The allowed object for ``module.name``, an inert stub, or an error."""
        # Protocols 0-2 write Python 2 names (``__builtin__.set``); translate as pickle does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _ALLOWED:
            return _private_copy(_ALLOWED[(module, name)])
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.startswith(_STUB_PACKAGES):
            return type(name, (_InertStub,), {"__module__": "stub." + module})
        raise pickle.UnpicklingError(
            f"the pickle refers to {module}.{name}, which this reader does not load"
        )


def trusted_hashes() -> set[str]:
    """sha256 digests the user trusts, from ``$LATENT_BENCH_TRUSTED_SHA256`` (comma-separated)."""
    return {h.strip().lower() for h in os.environ.get(TRUST_ENV, "").split(",") if h.strip()}


def read_nvidia_pickle(path: str | Path, trust: bool = False) -> PersistentStub:
    """The ``G_ema`` network stub of an NVIDIA snapshot, read without executing its code.

    Args:
        path: The ``.pkl`` file.
        trust: Accept a file whose sha256 is neither in ``KNOWN_SHA256`` nor trusted by
            the user (``trusted_hashes()``).

    Returns:
        The stub tree of ``G_ema``.

    Raises:
        UntrustedCheckpointError: Unknown hash and ``trust`` not given.
        CheckpointError: Not a snapshot with a ``G_ema`` generator.

    """
    path = Path(path)
    try:
        raw = path.read_bytes()  # hashed and parsed from the same bytes
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if not (trust or digest in KNOWN_SHA256 or digest in trusted_hashes()):
        raise UntrustedCheckpointError(
            f"{path} is not a known official checkpoint (sha256 {digest}); nothing in it is "
            "executed either way, but confirm you trust its source: add the sha256 to "
            f"${TRUST_ENV} (comma-separated; `export {TRUST_ENV}={digest}` for the command "
            "line), or pass trust=True in Python"
        )
    try:
        data = RestrictedUnpickler(io.BytesIO(raw)).load()
    except _READ_ERRORS as exc:
        raise CheckpointError(f"{path} is not a readable network snapshot: {exc}") from exc
    g = data.get("G_ema") if isinstance(data, dict) else None
    if not isinstance(g, PersistentStub) or g.class_name != "Generator":
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path} has no G_ema generator (found {keys})")
    return g


def _generator_from_stub(g: PersistentStub, where: str) -> StyleGAN2Generator:
    kw = dict(g.state.get("_init_kwargs") or {})
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        kw.setdefault(key, g.state.get(key))
    if kw.get("c_dim"):
        raise CheckpointError(f"{where}: conditional generators (c_dim={kw['c_dim']}) unsupported")
    syn = dict(kw.get("synthesis_kwargs") or {})
    mapk = dict(kw.get("mapping_kwargs") or {})
    if syn.get("architecture", "skip") != "skip":
        raise CheckpointError(f"{where}: architecture {syn['architecture']!r}; only 'skip' is read")
    if mapk.get("lr_multiplier", 0.01) != 0.01:
        raise CheckpointError(f"{where}: mapping lr_multiplier {mapk['lr_multiplier']} unsupported")
    if list(syn.get("resample_filter", [1, 3, 3, 1])) != [1, 3, 3, 1]:
        raise CheckpointError(f"{where}: resample filter {syn['resample_filter']} unsupported")
    for part, options in (("synthesis", syn), ("mapping", mapk)):
        if options.get("activation", "lrelu") != "lrelu":
            act = options["activation"]
            raise CheckpointError(f"{where}: {part} activation {act!r} unsupported")
    G = StyleGAN2Generator(
        z_dim=_size(kw.get("z_dim"), "z_dim", where, 1, MAX_WIDTH),
        w_dim=_size(kw.get("w_dim"), "w_dim", where, 1, MAX_WIDTH),
        img_resolution=_resolution(kw.get("img_resolution"), where),
        img_channels=_size(kw.get("img_channels"), "img_channels", where, 1, 4),
        channel_base=_size(syn.get("channel_base", 32768), "channel_base", where, 1, 2**20),
        channel_max=_size(syn.get("channel_max", 512), "channel_max", where, 1, MAX_WIDTH),
        mapping_layers=_size(mapk.get("num_layers", 8), "mapping num_layers", where, 1, 32),
        conv_clamp=syn.get("conv_clamp"),
    )
    _check_classes(G, g, where)
    return G


MAX_WIDTH = 4096  # latent and channel widths beyond any published StyleGAN2 (512)
MAX_RESOLUTION = 2048


def _size(value: Any, name: str, where: str, low: int, high: int) -> int:
    """``value`` as an integer in ``[low, high]``, or a ``CheckpointError`` naming it.

    A snapshot's sizes build the network before any tensor is compared, so a
    malformed one must fail here, not as a traceback or a huge allocation.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise CheckpointError(f"{where}: {name} is {value!r}, not an integer")
    if not low <= int(value) <= high:
        raise CheckpointError(f"{where}: {name} = {value} lies outside [{low}, {high}]")
    return int(value)


def _resolution(value: Any, where: str) -> int:
    """The image resolution: a power of 2 from 4 to ``MAX_RESOLUTION``."""
    res = _size(value, "img_resolution", where, 4, MAX_RESOLUTION)
    if res & (res - 1):
        raise CheckpointError(f"{where}: img_resolution {res} is not a power of 2")
    return res


def _check_classes(module: torch.nn.Module, stub: PersistentStub, where: str, path: str = "G"):
    expected = "Generator" if isinstance(module, StyleGAN2Generator) else type(module).__name__
    if stub.class_name != expected:
        raise CheckpointError(f"{where}: {path} is a {stub.class_name}, expected {expected}")
    ours = dict(module.named_children())
    theirs = stub.children()
    if sorted(ours) != sorted(theirs):
        raise CheckpointError(
            f"{where}: {path} has parts {sorted(theirs)}, expected {sorted(ours)}"
        )
    for name, child in ours.items():
        if not isinstance(theirs[name], PersistentStub):
            raise CheckpointError(f"{where}: {path}.{name} is not a persisted network")
        _check_classes(child, theirs[name], where, f"{path}.{name}")


def load_state_checked(G: StyleGAN2Generator, tensors: dict[str, torch.Tensor], where: str):
    """Copy ``tensors`` into ``G`` after checking the names and shapes agree exactly."""
    own = G.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise CheckpointError(
            f"{where}: {len(missing)} tensors missing (e.g. {missing[:3]}), "
            f"{len(extra)} unexpected (e.g. {extra[:3]})"
        )
    for name, t in tensors.items():
        if tuple(t.shape) != tuple(own[name].shape):
            raise CheckpointError(
                f"{where}: {name} has shape {tuple(t.shape)}, expected {tuple(own[name].shape)}"
            )
    G.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})


def load_nvidia_pickle(path: str | Path, trust: bool = False) -> StyleGAN2Generator:
    """``G_ema`` of an NVIDIA stylegan2-ada-pytorch/stylegan3 (StyleGAN2) ``.pkl`` snapshot."""
    stub = read_nvidia_pickle(path, trust)
    G = _generator_from_stub(stub, str(path))
    load_state_checked(G, stub.tensors(), str(path))
    return G


def rosinality_name_map(
    img_resolution: int, mapping_layers: int = 8
) -> dict[str, str | None]:
    """Names of rosinality's ``g_ema`` state dict → names of ``StyleGAN2Generator``.

    Derived constants (the up-sampling kernels) map to None.

    Args:
        img_resolution: Output resolution (power of 2).
        mapping_layers: Mapping layers (``n_mlp``).

    Returns:
        One entry per tensor of rosinality's generator.

    """
    m: dict[str, str | None] = {}
    for i in range(mapping_layers):
        for p in ("weight", "bias"):
            m[f"style.{i + 1}.{p}"] = f"mapping.fc{i}.{p}"

    def modulated(src: str, dst: str, bias: str) -> None:
        m[f"{src}.conv.weight"] = f"{dst}.weight"
        m[f"{src}.conv.modulation.weight"] = f"{dst}.affine.weight"
        m[f"{src}.conv.modulation.bias"] = f"{dst}.affine.bias"
        m[f"{src}.{bias}"] = f"{dst}.bias"

    def layer(src: str, dst: str) -> None:
        modulated(src, dst, "activate.bias")
        m[f"{src}.noise.weight"] = f"{dst}.noise_strength"

    def torgb(src: str, dst: str) -> None:
        modulated(src, dst, "bias")

    m["input.input"] = "synthesis.b4.const"
    layer("conv1", "synthesis.b4.conv1")
    torgb("to_rgb1", "synthesis.b4.torgb")
    m["noises.noise_0"] = "synthesis.b4.conv1.noise_const"
    res = 8
    j = 0
    while res <= img_resolution:
        b = f"synthesis.b{res}"
        layer(f"convs.{2 * j}", f"{b}.conv0")
        m[f"convs.{2 * j}.conv.blur.kernel"] = None
        layer(f"convs.{2 * j + 1}", f"{b}.conv1")
        torgb(f"to_rgbs.{j}", f"{b}.torgb")
        m[f"to_rgbs.{j}.upsample.kernel"] = None
        m[f"noises.noise_{2 * j + 1}"] = f"{b}.conv0.noise_const"
        m[f"noises.noise_{2 * j + 2}"] = f"{b}.conv1.noise_const"
        res *= 2
        j += 1
    return m


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def estimate_w_avg(G: StyleGAN2Generator, n: int = N_AVG_SAMPLES, seed: int = 0) -> torch.Tensor:
    """Mean w of ``n`` seeded N(0, 1) latents (for files that carry no average), ``[w_dim]``."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen)
    with torch.no_grad():
        return G.mapping(z, truncation_psi=1.0, update_w_avg=False)[:, 0].mean(dim=0)


def load_rosinality(blob: dict, where: str) -> StyleGAN2Generator:
    """A generator from rosinality's ``{"g_ema": sd[, "latent_avg": w]}`` or a bare ``sd``."""
    sd = blob.get("g_ema", blob)
    if "style.1.weight" not in sd or "input.input" not in sd:
        raise CheckpointError(f"{where}: neither a g_ema state dict nor a checkpoint holding one")
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    n_rgb = sum(1 for k in sd if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    res = 2 ** (n_rgb + 2)
    w_dim, z_dim = sd["style.1.weight"].shape
    last = sd[f"to_rgbs.{n_rgb - 1}.conv.weight"] if n_rgb else sd["to_rgb1.conv.weight"]
    img_channels = int(last.shape[1])
    cmax = max(int(v.shape[1]) for k, v in sd.items() if k.endswith("conv.weight"))
    cbase = int(last.shape[2]) * res
    if channels_at(res, cbase, cmax) != int(last.shape[2]):
        raise CheckpointError(f"{where}: channel counts do not follow min(base / R, max)")
    G = StyleGAN2Generator(
        z_dim=int(z_dim),
        w_dim=int(w_dim),
        img_resolution=res,
        img_channels=img_channels,
        channel_base=cbase,
        channel_max=cmax,
        mapping_layers=n_mlp,
    )
    names = rosinality_name_map(res, n_mlp)
    extra = sorted(set(sd) - set(names))
    if extra:
        raise CheckpointError(f"{where}: unexpected tensors {extra[:3]}")
    own = G.state_dict()
    kernel = fir_kernel() * _ROSINALITY_KERNEL_GAIN
    tensors: dict[str, torch.Tensor] = {}
    for src, dst in names.items():
        if src not in sd:
            raise CheckpointError(f"{where}: tensor {src} missing")
        t = sd[src].detach().to(torch.float32)
        if dst is None:
            if not torch.allclose(t, kernel):
                raise CheckpointError(f"{where}: {src} is not the [1, 3, 3, 1] filter")
            continue
        if _squeezed(tuple(t.shape)) != _squeezed(tuple(own[dst].shape)):
            raise CheckpointError(f"{where}: {src} has shape {tuple(t.shape)}, not {dst}'s")
        tensors[dst] = t.reshape(own[dst].shape)
    for name, t in own.items():
        if name.endswith("resample_filter"):
            tensors[name] = t
    avg = blob.get("latent_avg") if "g_ema" in blob else None
    tensors["mapping.w_avg"] = torch.zeros(int(w_dim)) if avg is None else avg.reshape(-1).float()
    load_state_checked(G, tensors, where)
    if avg is None:
        G.mapping.w_avg.copy_(estimate_w_avg(G))
    return G


def to_rosinality(G: StyleGAN2Generator) -> dict[str, Any]:
    """``{"g_ema": state dict, "latent_avg": w_avg}`` in rosinality's names and shapes."""
    if G.img_channels != 3:
        raise ValueError("rosinality's format stores RGB generators only")
    own = {k: v.detach().cpu() for k, v in G.state_dict().items()}
    names = rosinality_name_map(G.img_resolution, G.mapping.num_layers)
    kernel = fir_kernel() * _ROSINALITY_KERNEL_GAIN
    sd: dict[str, torch.Tensor] = {}
    for src, dst in names.items():
        if dst is None:
            sd[src] = kernel.clone()
            continue
        t = own[dst]
        if src.endswith("conv.weight") or src == "input.input":
            t = t.unsqueeze(0)
        elif src.startswith("noises."):
            t = t[None, None]
        elif src.endswith("noise.weight"):
            t = t.reshape(1)
        elif src.startswith("to_rgb") and src.endswith(".bias") and ".conv." not in src:
            t = t.reshape(1, -1, 1, 1)
        sd[src] = t.clone()
    return {"g_ema": sd, "latent_avg": own["mapping.w_avg"].clone()}


def load_stylegan2(
    path: str | Path, trust: bool = False, device: str = "cpu"
) -> StyleGAN2Generator:
    """A StyleGAN2 generator from any supported file, in eval mode.

    Args:
        path: NVIDIA ``.pkl``, rosinality ``.pt``, or a file of ``export_generator``.
        trust: For ``.pkl`` files whose sha256 is not a known official one.
        device: Torch device.

    Returns:
        The generator, ``weight_path`` set.

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: Unreadable or not a StyleGAN2 generator (incl. untrusted).

    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no StyleGAN2 checkpoint at {path}")
    if path.suffix == ".pkl":
        G = load_nvidia_pickle(path, trust)
    else:
        try:
            with torch.serialization.safe_globals([argparse.Namespace]):
                blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises KeyError, RuntimeError, UnpicklingError, ...
            raise CheckpointError(
                f"{path} is not a readable torch file ({exception_line(exc)})"
            ) from None
        if not isinstance(blob, dict):
            raise CheckpointError(f"{path} holds a {type(blob).__name__}, not a checkpoint")
        if "arch" in blob and "state_dict" in blob:
            G = StyleGAN2Generator(**blob["arch"])
            load_state_checked(G, blob["state_dict"], str(path))
        else:
            G = load_rosinality(blob, str(path))
    G.weight_path = str(path)
    return G.to(device).eval()

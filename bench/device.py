"""Devices and batch sizes: ``--device cpu|cuda|cuda:N`` and chunks that fit free memory.

Problems run their networks on one device end to end (no host round trip per
batch); ``resolve_device`` turns a user's string into a ``torch.device`` or a
one-line error, and ``auto_chunk`` picks how many images go through the
networks at once: a fixed size on the CPU (where larger batches stop paying
off once the caches are full), and on a GPU as many as half its free memory
holds, measured with a small probe batch. ``compile_networks`` is the opt-in
``torch.compile`` of a problem's networks (``--set compile=true``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

CPU_CHUNK = 64
PROBE = 8  # images in the probe batch that measures memory per image on a GPU
GPU_MEMORY_SHARE = 0.5
MAX_CHUNK = 4096


class DeviceError(ValueError):
    """A device string that names no usable device."""


def resolve_device(name: str | torch.device) -> torch.device:
    """The device named ``name``, checked to exist on this machine.

    Args:
        name: ``cpu``, ``cuda`` or ``cuda:N``. Apple's ``mps`` is refused: the
            problems compute their distances in float64, which it lacks.

    Returns:
        The ``torch.device``.

    Raises:
        DeviceError: Unparseable name, or CUDA asked for where there is none.

    """
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}; valid: cpu, cuda, cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {name!r}: CUDA is not available on this machine "
                f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); "
                "use --device cpu"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceError(f"device {name!r}: this machine has {count} CUDA device(s)")
    elif dev.type == "mps":
        raise DeviceError(
            f"device {name!r}: Apple's MPS has no float64, in which the problems compute "
            "their distances; use --device cpu"
        )
    elif dev.type != "cpu":
        raise DeviceError(f"unsupported device {name!r}; valid: cpu, cuda, cuda:N")
    return dev


def auto_chunk(device: torch.device, probe: Callable[[int], object]) -> int:
    """Images per forward pass for ``device``.

    Args:
        device: Where the networks run.
        probe: Runs the full pipeline on that many images (its output is ignored);
            called only on CUDA devices, to measure the peak memory per image.

    Returns:
        ``CPU_CHUNK`` off the GPU; on CUDA the number of images that fill
        ``GPU_MEMORY_SHARE`` of the free memory, between ``PROBE`` and ``MAX_CHUNK``.

    """
    if device.type != "cuda":
        return CPU_CHUNK
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    probe(PROBE)
    torch.cuda.synchronize(device)
    per_image = max(1, (torch.cuda.max_memory_allocated(device) - base) // PROBE)
    free, _ = torch.cuda.mem_get_info(device)
    return int(min(MAX_CHUNK, max(PROBE, GPU_MEMORY_SHARE * free // per_image)))


def compile_networks(*modules: torch.nn.Module) -> None:
    """Compile each module's forward in place with ``torch.compile`` (TorchInductor).

    The modules keep their identity and attributes (``nn.Module.compile``), so the
    generator contract still holds. A style-based generator is compiled as its
    ``mapping`` and ``synthesis`` networks, which the Z, W and W+ search spaces call
    directly. The first batches of each new shape pay the compilation (tens of seconds
    on a CPU, more for FaceNet); later ones run the fused code.

    Args:
        modules: Networks in eval mode.

    Compilation is lazy: a machine that cannot compile fails on the first call, which
    ``compile_and_measure`` turns into one clear error.

    """
    for module in modules:
        parts = [getattr(module, n, None) for n in ("mapping", "synthesis")]
        targets = parts if all(isinstance(m, torch.nn.Module) for m in parts) else [module]
        for target in targets:
            target.compile()


def compile_and_measure(
    evaluate: Callable[[np.ndarray], np.ndarray], probe: np.ndarray, *modules: torch.nn.Module
) -> float:
    """Compile ``modules`` (``compile_networks``) and measure what it changes.

    Args:
        evaluate: A problem's fitness function, genomes ``[N, D]`` → ``[N]``.
        probe: Genomes ``[N, D]`` evaluated before and after compiling.
        modules: The networks ``evaluate`` runs.

    Returns:
        The largest absolute fitness change on ``probe``.

    Raises:
        RuntimeError: Compilation failed (it happens lazily, on the first call).

    """
    exact = evaluate(probe)
    compile_networks(*modules)
    try:
        fast = evaluate(probe)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise RuntimeError(
            f"torch.compile failed on this machine ({type(exc).__name__}: {first}); "
            "run without compile=true"
        ) from exc
    return float(np.max(np.abs(fast - exact)))


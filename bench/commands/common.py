"""What every subcommand shares: option types, output folders, devices, usage errors.

Usage errors (unknown names, bad budgets, malformed options, unusable folders)
are raised as the exceptions of ``USAGE_ERRORS``; ``bench.cli`` prints them as
one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.campaign import CampaignError
from bench.problem import MissingWeightsError
from bench.registry import RegistryError
from bench.spec import SpecError

EXIT_USAGE = 2
USAGE_ERRORS = (SpecError, RegistryError, CampaignError, MissingWeightsError)


def out_folder(text: str) -> Path:
    """The folder of an ``--out`` option; an empty name is a slip, not the current folder."""
    if not text.strip():
        raise SpecError("--out needs a folder name, got an empty one")
    return Path(text)


def check_writable(folder: Path) -> None:
    """Raise ``SpecError`` unless files can be created in ``folder``."""
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{folder} is a file; give a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise SpecError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc


def int_arg(text: str) -> int:
    """An integer option; anything else is argparse's one-line usage error."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None


def count_arg(text: str) -> int:
    """A positive integer (budgets, epochs, samples, batch sizes)."""
    value = int_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def seed_arg(text: str) -> int:
    """A seed: an integer from 0 (``numpy.random.SeedSequence`` takes no negative one)."""
    value = int_arg(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed of 0 or more, got '{text}'")
    return value


def amount_arg(text: str) -> float:
    """A positive number (thousands of images, minutes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'")
    return value


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` or ``--scheduler ADDRESS``: where runs go instead of this process."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int_arg,
        metavar="N",
        help="run on N local worker processes (a Dask LocalCluster, one thread each)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a running Dask cluster, e.g. tcp://HOST:8786 (see README)",
    )


def check_device(device: str) -> None:
    """Raise ``SpecError`` unless ``device`` names a usable device on this machine."""
    from bench.device import DeviceError, resolve_device

    try:
        resolve_device(device)
    except DeviceError as exc:
        raise SpecError(str(exc)) from None


@contextlib.contextmanager
def writable_out(out: Path) -> Iterator[None]:
    """Make ``out`` (``check_writable``); on a usage error, remove what this made and left empty.

    A command refused for a usage error (an unknown parameter, a model too large
    for memory) leaves the disk as it found it, not an empty ``--out`` folder.
    """
    made = [folder for folder in (out, *out.parents) if not folder.exists()]  # innermost first
    try:
        check_writable(out)
        yield
    except USAGE_ERRORS:
        for folder in made:
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): it holds something, keep it and its parents
                break
        raise

"""Writing a file so that a reader finds the old one or the new one, never half of it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object], suffix: str = "") -> None:
    """Call ``write(tmp)`` for a temporary file beside ``path``, then rename it to ``path``.

    The temporary file has ``path``'s own name, inside a hidden folder beside it
    (``.NAME.tmp-PID``), so a writer that stores the file's name in its bytes
    writes the same bytes as it would at ``path`` itself: ``torch.save`` names its
    zip archive after the file, and a FaceNet import saved under a temporary name
    got another sha256, which keys the shipped face calibrations. The folder is
    removed whether ``write`` succeeds, fails or is interrupted, so neither a
    half file nor a leftover remains.

    Args:
        path: The file to write.
        write: Writes the whole content to the path it is given.
        suffix: Ending the file name needs, for writers such as ``np.savez`` that
            add their own extension to a name without it.

    """
    path = Path(path)
    folder = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    name = path.name if path.name.endswith(suffix) else path.name + suffix
    try:
        folder.mkdir(exist_ok=True)  # one left by a killed process of the same pid is reused
        write(folder / name)
        os.replace(folder / name, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

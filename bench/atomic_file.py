"""Writing a file so that a reader finds the old one or the new one, never half of it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object], suffix: str = "") -> None:
    """Call ``write(tmp)`` for a temporary file beside ``path``, then rename it to ``path``.

    The temporary file (``.NAME.tmp-PID`` plus ``suffix``, for writers such as
    ``np.savez`` that add their own extension) is removed if ``write`` fails or
    the process is interrupted, so neither a half file nor a leftover remains.

    Args:
        path: The file to write.
        write: Writes the whole content to the path it is given.
        suffix: Ending the temporary name needs.

    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

"""Where the suite keeps files it derives on this machine (imported weights, calibrations).

The folder is ``$LATENT_BENCH_CACHE`` when set, else ``$XDG_CACHE_HOME/latent-bench``
(an absolute path; the XDG spec says to ignore a relative one), else
``~/.cache/latent-bench``. Nothing in it is precious: every file can be
made again from its source.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LATENT_BENCH_CACHE"


def cache_dir(*parts: str) -> Path:
    """The cache folder, or a sub-folder of it; not created here.

    Args:
        *parts: Sub-folder names, e.g. ``cache_dir("weights")``.

    Returns:
        An absolute path.

    """
    root = os.environ.get(CACHE_ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(xdg):  # the XDG spec: a relative path is invalid, ignore it
            xdg = os.path.join("~", ".cache")
        root = os.path.join(xdg, "latent-bench")
    return Path(root).expanduser().resolve().joinpath(*parts)

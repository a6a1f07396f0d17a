"""Run Python code in a fresh interpreter where some packages cannot be imported.

A lent GPU machine's image lacks several of the suite's dependencies (pyribs,
pymoo, Dask, dlib, OpenCV, ...); the tests that check what runs there block those
imports in a child process instead of uninstalling anything.
"""

import subprocess
import sys
from pathlib import Path

PRELUDE = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Blocker())
"""


def run_without(
    blocked: set[str], code: str, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter in which ``blocked`` top-level packages fail to import.

    Args:
        blocked: Top-level package names, e.g. ``{"pymoo", "ribs"}``.
        code: Python source to run after the blocker is installed.
        cwd: Working directory of the child.

    Returns:
        The finished process, with its output captured as text.

    """
    script = PRELUDE.format(blocked=sorted(blocked)) + code
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd
    )

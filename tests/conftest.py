"""Shared fixtures: the bench command, the data directory, small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
DATA_ENV = "LATENT_BENCH_DATA"


def run_bench(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the installed ``bench`` command and capture its output."""
    return subprocess.run(
        [str(BIN / "bench"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def bench_cmd():
    """The ``run_bench`` helper."""
    return run_bench


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data directory from $LATENT_BENCH_DATA; tests that need it skip, saying why."""
    path = os.environ.get(DATA_ENV)
    if not path or not Path(path).is_dir():
        pytest.skip(
            f"${DATA_ENV} is not set to a data directory (make test sets it to "
            "../shared/data when that exists)"
        )
    return Path(path)

"""Shared fixtures: the bench command, the data directory, small helpers."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
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


def run_bench_here(*args: str) -> subprocess.CompletedProcess:
    """Run ``bench`` in this process and capture its output as ``run_bench`` does.

    No interpreter starts (``run_bench`` spends about 4 s importing torch and the
    search libraries), so tests of many one-line refusals use this. What the command
    writes to stdout and stderr is captured, warnings included, in the command's own
    one-line format; argparse's usage errors give their exit status, and any other
    exception propagates and fails the test, as a traceback would.
    ``test_cli.test_the_installed_command_refuses_as_the_in_process_one`` checks that
    both give the same status and stderr.
    """
    from bench.cli import main

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("default")
        warnings.showwarning = show
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: usage errors (2), --help and --version (0)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["bench", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def bench_cmd():
    """The ``run_bench`` helper."""
    return run_bench


@pytest.fixture
def bench_here():
    """The ``run_bench_here`` helper."""
    return run_bench_here


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


@pytest.fixture(scope="session")
def facenet_cache(tmp_path_factory) -> Path:
    """A cache folder (for $LATENT_BENCH_CACHE) holding FaceNet CASIA weights imported once."""
    from bench.problems.facenet_weights import INSTALL_HINT, casia_graph_path, import_casia

    if casia_graph_path() is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the FaceNet graph (make does: {INSTALL_HINT})")
        pytest.skip(f"the FaceNet graph package is not installed ({INSTALL_HINT}; make does it)")
    root = tmp_path_factory.mktemp("cache")
    import_casia(out=root / "weights" / "facenet-casia.pt")
    return root


@pytest.fixture(scope="session")
def facenet(facenet_cache):
    """FaceNet (CASIA-WebFace) in eval mode on CPU, from the session's import."""
    from bench.problems.facenet_weights import load_facenet

    return load_facenet(facenet_cache / "weights" / "facenet-casia.pt")


@pytest.fixture(scope="session")
def face_aligner():
    """facenet-pytorch's MTCNN with the suite's crop settings, on CPU."""
    from bench.problems.face_targets import FaceAligner

    return FaceAligner()


@pytest.fixture(scope="session")
def faces_pairs(data_dir, face_aligner):
    """``(PairSet, faces [N, 3, 160, 160], boxes [N, 4])`` of data_dir/faces-pairs, aligned once."""
    import numpy as np
    import torch
    from bench.problems.facenet_verify import read_pairs

    pair_set = read_pairs(data_dir / "faces-pairs")
    aligned = [face_aligner.align(f) for f in pair_set.files]
    return pair_set, torch.stack([a.face for a in aligned]), np.array([a.box for a in aligned])

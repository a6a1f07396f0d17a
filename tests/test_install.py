"""A non-editable wheel in a fresh virtual environment, and a third-party plugin in it."""

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PLUGIN_MODULE = '''
"""A tiny third-party algorithm."""
import numpy as np
from bench.algorithm import Algorithm


class HillClimb(Algorithm):
    """Hill climbing: Gaussian steps around the best genome so far."""

    def __init__(self, space, seed, batch: int = 10, step: float = 0.1):
        super().__init__(space, seed)
        self.batch, self.step = batch, step
        self.best, self.best_loss = None, np.inf

    @property
    def batch_size(self):
        return self.batch

    def _ask(self):
        if self.best is None:
            return self.space.prior.sample(self.rng, self.batch, self.space.dim)
        return self.best + self.step * self.rng.normal(size=(self.batch, self.space.dim))

    def _tell(self, genomes, loss, measures):
        i = int(np.argmin(loss))
        if loss[i] < self.best_loss:
            self.best, self.best_loss = genomes[i], loss[i]
'''


def _plugin(tmp: Path, dist: str, name: str) -> Path:
    src = tmp / dist
    (src / "tiny_plugin").mkdir(parents=True)
    (src / "tiny_plugin" / "__init__.py").write_text(PLUGIN_MODULE)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{dist}"
        version = "1.0"
        [project.entry-points."bench.algorithms"]
        {name} = "tiny_plugin:HillClimb"
        [tool.setuptools]
        packages = ["tiny_plugin"]
    """)
    )
    return src


def _wheel(src: Path, out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("*.whl"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the suite installed from its wheel (dependencies borrowed by a .pth)."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    wheel = _wheel(ROOT, wheels)
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The heavy dependencies (torch, ...) come from the test environment; the .pth adds its
    # site-packages after the venv's own, and does not run its .pth files (no editable finder).
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return env, tmp


def _run(env: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(env / "bin" / "bench"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=env.parent,
    )


def test_wheel_installs_the_command_and_one_import_root(venv):
    env, _ = venv
    check = subprocess.run(
        [
            str(env / "bin" / "python"),
            "-c",
            "import bench, bench.problems, bench.algorithms, bench.generators, importlib.util;"
            "print(bench.__file__);"
            "print(importlib.util.find_spec('algorithms'), importlib.util.find_spec('problems'))",
        ],
        capture_output=True,
        text=True,
        cwd="/",
        check=True,
    )
    lines = check.stdout.splitlines()
    assert str(env) in lines[0], "bench was not imported from the wheel"
    assert lines[1] == "None None", "generic top-level names were installed"
    result = _run(env, "list")
    assert result.returncode == 0, result.stderr
    assert "ga" in result.stdout and "sphere" in result.stdout
    run = _run(
        env,
        "run",
        "--problem",
        "sphere",
        "--algo",
        "ga",
        "--preset",
        "quick",
        "--no-progress",
        "--out",
        "runs",
    )
    assert run.returncode == 0 and "status     finished" in run.stdout, run.stderr


def test_plugin_appears_and_runs_without_changing_the_suite(venv):
    env, tmp = venv
    wheel = _wheel(_plugin(tmp, "tiny-plugin", "hill-climb"), tmp / "plugin-wheels")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    listed = _run(env, "list", "algorithms")
    assert "hill-climb" in listed.stdout and "Hill climbing" in listed.stdout
    run = _run(
        env,
        "run",
        "--problem",
        "sphere",
        "--algo",
        "hill-climb",
        "--budget",
        "205",
        "--set",
        "step=0.05",
        "--no-progress",
        "--out",
        "runs",
    )
    assert run.returncode == 0, run.stderr
    assert "evals      205" in run.stdout

    contract = subprocess.run(
        [
            str(env / "bin" / "python"),
            "-c",
            "from bench.testing import check_algorithm; import tiny_plugin;"
            "check_algorithm(tiny_plugin.HillClimb); print('ok')",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert contract.stdout.strip() == "ok", contract.stderr

    clash = _wheel(_plugin(tmp / "clash", "clash-plugin", "ga"), tmp / "clash-wheels")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(clash),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    dup = _run(env, "list")
    assert dup.returncode == 2
    assert "duplicate algorithm name 'ga'" in dup.stderr
    assert "latent-bench 0.1.0" in dup.stderr and "clash-plugin 1.0" in dup.stderr

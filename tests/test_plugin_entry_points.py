"""Plugins as their authors write them: entry points of any kind or name, tuple and Path options.

The plugin is a package and a ``.dist-info`` folder on ``PYTHONPATH`` of the ``bench``
command, which ``importlib.metadata`` finds like an installed distribution; nothing is
installed into the test environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from bench.algorithm import Algorithm
from bench.campaign import load_plan, run_campaign
from bench.registry import Entry, registry
from bench.spec import RunSpec, SpecError, check_spec, route_params

BIN = Path(sys.executable).parent

PLUGIN = '''
"""A plugin with entry points of every kind, right and wrong."""
from pathlib import Path

import numpy as np
from bench.algorithm import Algorithm
from bench.problem import Problem


class SimpleES(Algorithm):
    """Gaussian sampling inside a box; checks that its options arrive as typed."""

    def __init__(self, space, seed, lam: int = 10, box: tuple[float, float] = (0.0, 1.0),
                 out: Path | None = None):
        super().__init__(space, seed)
        if not isinstance(box, tuple) or not all(type(b) is float for b in box):
            raise TypeError(f"box arrived as {box!r}")
        if out is not None and not isinstance(out, Path):
            raise TypeError(f"out arrived as {out!r}")
        self.lam, self.box, self.out = lam, box, out

    @property
    def batch_size(self):
        return self.lam

    def _ask(self):
        low, high = self.box
        return self.rng.uniform(low, high, size=(self.lam, self.space.dim))

    def _tell(self, genomes, loss, measures):
        pass


class Flat(Problem):
    """Zero everywhere."""

    genome_shape = (3,)

    def evaluate(self, genomes):
        return np.zeros(len(genomes))
'''

ENTRY_POINTS = """
[bench.algorithms]
simple-es = myplug:SimpleES
es/v2 = myplug:SimpleES
a-problem = myplug:Flat
module-entry = myplug

[bench.problems]
an-algorithm = myplug:SimpleES
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    """A folder holding the ``myplug`` package and its distribution metadata."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "myplug").mkdir()
    (root / "myplug" / "__init__.py").write_text(PLUGIN)
    info = root / "myplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return root


def _bench(plugin: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(plugin)}
    return subprocess.run(
        [str(BIN / "bench"), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_list_marks_wrong_kinds_and_unsafe_names_broken(plugin, tmp_path):
    listed = _bench(plugin, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = {ln.split(None, 1)[0]: ln for ln in listed.stdout.splitlines() if ln.startswith("  ")}
    assert "broken" not in lines["simple-es"] and "Gaussian sampling" in lines["simple-es"]
    assert "(broken:" in lines["an-algorithm"]
    assert "subclass of bench.problem.Problem" in lines["an-algorithm"]
    assert "register it under 'bench.algorithms'" in lines["an-algorithm"]
    assert "(broken:" in lines["a-problem"] and "bench.algorithm.Algorithm" in lines["a-problem"]
    assert "(broken:" in lines["module-entry"] and "module myplug" in lines["module-entry"]
    assert "(broken:" in lines["es/v2"] and "myplug 1.0" in lines["es/v2"]
    assert "sphere" in lines and "ga" in lines  # the suite's own entries are unaffected


@pytest.mark.parametrize(
    ("problem", "algo", "message"),
    [
        ("sphere", "es/v2", "unusable algorithm name 'es/v2' (myplug:SimpleES, from myplug 1.0)"),
        ("sphere", "module-entry", "must name a subclass of bench.algorithm.Algorithm, got module"),
        ("sphere", "a-problem", "got class myplug.Flat (it is a problem"),
        ("an-algorithm", "random", "must name a subclass of bench.problem.Problem"),
    ],
)
def test_running_a_broken_entry_is_a_one_line_usage_error(plugin, tmp_path, problem, algo, message):
    args = ("run", "--problem", problem, "--algo", algo, "--budget", "20", "--no-progress")
    result = _bench(plugin, *args, "--out", "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("bench: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no traceback
    assert not (tmp_path / "out").exists()


def test_tuple_and_path_options_from_the_command_line(plugin, tmp_path):
    args = ("run", "--problem", "sphere", "--algo", "simple-es", "--budget", "20")
    sets = ("--set", "algo.box=[0.1, 0.9]", "--set", "algo.out=/tmp/x", "--no-progress")
    first = _bench(plugin, *args, *sets, "--out", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert _bench(plugin, *args, *sets, "--out", "out", cwd=tmp_path).returncode == 0
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*/record.json"))]
    assert len(records) == 2
    assert records[0]["spec"]["algo_params"] == {"box": [0.1, 0.9], "out": "/tmp/x"}
    assert records[0]["run_id"] == records[1]["run_id"]  # the same command line, the same id
    assert records[0]["run_id"] == RunSpec.from_dict(records[0]["spec"]).run_id
    short = _bench(plugin, *args, "--set", "box=[0.1]", "--out", "out", cwd=tmp_path)
    assert short.returncode == 2
    assert "'box' expects tuple[float, float], got [0.1]" in short.stderr


class Boxed(Algorithm):
    """Random sampling in a box; records the types its options arrived as."""

    seen: ClassVar[list] = []

    def __init__(
        self,
        space,
        seed,
        batch: int = 10,
        box: tuple[float, float] = (0.0, 1.0),
        dims: tuple[int, ...] = (),
        out: Path | None = None,
        name: str | Path = "x",
    ):
        super().__init__(space, seed)
        Boxed.seen.append((box, dims, out, name))
        self.batch, self.box = batch, box

    @property
    def batch_size(self):
        return self.batch

    def _ask(self):
        return self.rng.uniform(*self.box, size=(self.batch, self.space.dim))

    def _tell(self, genomes, loss, measures):
        pass


@pytest.fixture
def boxed(monkeypatch):
    """Register ``Boxed`` as the algorithm ``boxed`` for this test."""
    entry = Entry("boxed", "test_plugin_entry_points:Boxed", "tests", kind="algorithms")
    entry._loaded = Boxed
    monkeypatch.setitem(registry("algorithms")._entries, "boxed", entry)
    Boxed.seen = []
    return "boxed"


def test_tuple_and_path_hints_take_lists_and_strings(boxed):
    problem_cls = registry("problems").load("sphere")
    sets = {"box": [0, 1], "dims": [1, 2, 3], "out": "/tmp/x", "name": "kept"}
    _, params = route_params(sets, problem_cls, Boxed)
    assert params == {"box": (0.0, 1.0), "dims": (1, 2, 3), "out": Path("/tmp/x"), "name": "kept"}
    assert type(params["box"][0]) is float and type(params["name"]) is str
    assert route_params({"dims": []}, problem_cls, Boxed)[1] == {"dims": ()}
    assert route_params({"out": None}, problem_cls, Boxed)[1] == {"out": None}
    for key, value, expected in [
        ("box", [0.1], "tuple[float, float]"),
        ("box", [0.1, 0.2, 0.3], "tuple[float, float]"),
        ("box", [0.1, "a"], "tuple[float, float]"),
        ("box", "0.1,0.9", "tuple[float, float]"),
        ("dims", [1.5], "tuple[int, ...]"),
        ("dims", [True], "tuple[int, ...]"),
        ("out", 3, "Path"),
        ("out", "", "Path"),
        ("batch", 2.0, "int"),
        ("batch", True, "int"),
    ]:
        with pytest.raises(
            SpecError, match=re.escape(f"'{key}' expects {expected}, got {value!r}")
        ):
            route_params({key: value}, problem_cls, Boxed)


def test_spec_with_tuple_and_path_values_serialises_with_one_run_id(boxed):
    problem_cls = registry("problems").load("sphere")
    _, params = route_params({"box": [0.1, 0.9], "out": "/tmp/x"}, problem_cls, Boxed)
    spec = RunSpec("sphere", "boxed", 20, 0, {}, params)
    plain = RunSpec("sphere", "boxed", 20, 0, {}, {"box": [0.1, 0.9], "out": "/tmp/x"})
    assert json.loads(json.dumps(spec.to_dict())) == plain.to_dict()
    assert spec.run_id == plain.run_id == RunSpec.from_dict(spec.to_dict()).run_id
    check_spec(RunSpec.from_dict(spec.to_dict()))


def test_plan_file_parameters_reach_tuple_and_path_hints(boxed, tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(
        textwrap.dedent("""
        budget = 20
        seeds = 1
        problems = ["sphere"]
        algorithms = ["boxed"]
        [algo.boxed]
        box = [0.25, 0.75]
        dims = [2, 3]
        out = "/tmp/x"
        """)
    )
    plan = load_plan(path)
    plan.validate()
    summary = run_campaign(plan, tmp_path / "c", progress=False)
    assert summary.ran == 1
    assert Boxed.seen[-1][:3] == ((0.25, 0.75), (2, 3), Path("/tmp/x"))
    (record_file,) = (tmp_path / "c").rglob("record.json")
    record = json.loads(record_file.read_text())
    assert record["status"] == "finished", record.get("error")
    assert record["spec"]["algo_params"] == {"box": [0.25, 0.75], "dims": [2, 3], "out": "/tmp/x"}
    path.write_text(path.read_text().replace("[0.25, 0.75]", "[0.25, 0.5, 0.75]"))
    with pytest.raises(SpecError, match=r"'box' expects tuple\[float, float\]"):
        load_plan(path).validate()


def test_a_plugins_code_edited_under_one_version_is_named_on_resume(plugin, tmp_path):
    """``pip install -e`` keeps a plugin's version while its author edits it: the record's
    sha256 of the class's file is what tells a resumed campaign."""
    import shutil

    copy = tmp_path / "plugin"
    shutil.copytree(plugin, copy)
    args = ("campaign", "--problems", "sphere", "--algos", "simple-es", "--seeds", "2",
            "--budget", "20", "--out", "c", "--no-progress")  # fmt: skip
    first = _bench(copy, *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    record = json.loads(next((tmp_path / "c" / "runs").glob("*/record.json")).read_text())
    code = record["provenance"]["registered"]["algorithm"]["code"]
    assert code["of"] == "__init__.py" and len(code["sha256"]) == 64
    again = _bench(copy, "campaign", "--out", "c", "--no-progress", cwd=tmp_path)
    assert again.returncode == 0 and "code has changed" not in again.stderr
    with (copy / "myplug" / "__init__.py").open("a") as f:
        f.write("\n# an edit, same version\n")
    edited = _bench(copy, "campaign", "--out", "c", "--no-progress", cwd=tmp_path)
    assert edited.returncode == 0, edited.stderr
    assert (
        "2 finished run(s) in c used algorithm simple-es (__init__.py, from myplug 1.0), "
        "whose code has changed since"
    ) in " ".join(edited.stderr.split())

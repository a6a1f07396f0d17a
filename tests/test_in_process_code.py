"""Classes registered in-process (a script, a notebook): their code is hashed, since no
version says which code ran; resume warns when it changed, and the leaderboard names it."""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path

from bench.campaign import Plan, run_campaign
from bench.leaderboard.provenance import gather, provenance_lines
from bench.provenance import code_digest, sha256_file
from bench.registry import registered
from bench.results import RECORD

SOURCE = '''
import numpy as np
from bench.algorithm import Algorithm


class MyES(Algorithm):
    """Samples of the prior, 10 at a time, scaled by STEP."""

    @property
    def batch_size(self) -> int:
        return 10

    def _ask(self) -> np.ndarray:
        return STEP * self.space.prior.sample(self.rng, 10, self.space.dim)

    def _tell(self, genomes, loss, measures) -> None:
        pass


STEP = {step}
'''

PLAN = dict(
    problems=["sphere"],
    algorithms=["random", "my-es"],
    seeds=[0, 1],
    budget=20,
    problem_params={"sphere": {"dim": 4}},
    algo_params={"random": {"batch": 10}},
)


def _module(folder: Path, step: float):
    """``my_es_module`` from ``folder``, written with ``STEP = step`` and imported afresh."""
    (folder / "my_es_module.py").write_text(SOURCE.format(step=step))
    return _module_from(folder)


def _campaign(folder: Path, module, **options):
    with (
        registered(algorithms={"my-es": module.MyES}),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        summary = run_campaign(Plan(**PLAN), folder, progress=False, **options)
    return summary, [str(w.message) for w in caught]


def test_the_code_of_an_in_process_class_is_recorded_and_its_change_warned(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    module = _module(code, 1.0)
    file = code / "my_es_module.py"
    assert code_digest(module.MyES) == {"of": "my_es_module.py", "sha256": sha256_file(file)}
    summary, warned = _campaign(tmp_path / "c", module)
    assert summary.ran == 4 and not warned
    records = [json.loads(p.read_text()) for p in (tmp_path / "c").glob(f"runs/*/{RECORD}")]
    mine = [r["provenance"]["registered"]["algorithm"] for r in records]
    mine = [e for e in mine if e["name"] == "my-es"]
    assert len(mine) == 2 and {e["code"]["sha256"] for e in mine} == {sha256_file(file)}
    # the same code: resumed quietly
    summary, warned = _campaign(tmp_path / "c", module)
    assert summary.skipped_finished == 4 and not warned
    # edited: kept, with a warning naming the class, its file and how to rerun
    edited = _module(code, 2.0)
    summary, warned = _campaign(tmp_path / "c", edited)
    assert summary.ran == 0 and len(warned) == 1, warned
    assert "2 finished run(s)" in warned[0]
    assert "algorithm my-es (my_es_module.py, registered in-process)" in warned[0]
    assert "whose code has changed since" in warned[0] and "--rerun-changed" in warned[0]
    summary, _ = _campaign(tmp_path / "c", edited, rerun_changed=True)
    assert (summary.ran, summary.rerun_changed) == (2, 2)


def test_the_leaderboard_names_code_from_outside_the_suite(tmp_path):
    module = _module(tmp_path, 1.0)
    _campaign(tmp_path / "c", module)
    records = {
        r["run_id"]: r
        for r in (json.loads(p.read_text()) for p in (tmp_path / "c").glob(f"runs/*/{RECORD}"))
    }
    import pandas as pd

    runs = pd.DataFrame({"problem": ["sphere"], "budget": [20], "seed": [0], "wall_seconds": [1]})
    prov = gather(runs, records)
    (label,) = prov["plugins"]
    assert label.startswith("algorithm my-es: my_es_module:MyES, registered in-process")
    assert f"my_es_module.py sha256 {sha256_file(tmp_path / 'my_es_module.py')[:12]}" in label
    assert prov["plugins"][label] == 2  # its two runs; random is the suite's own
    lines = dict(provenance_lines(prov))
    assert lines["from outside the suite"] == f"{label} (2 runs)"


def test_a_class_without_a_source_file_has_no_digest():
    klass = type("Built", (), {})  # made at run time, in a module that is gone
    klass.__module__ = "a_module_that_was_never_imported"
    assert code_digest(klass) is None


STEPPED = '''
import numpy as np
from bench.algorithm import Algorithm


class MyES(Algorithm):
    """Samples of the prior, 10 at a time, scaled by ``step``."""

    def __init__(self, space, seed, step: float = {step}):
        super().__init__(space, seed)
        self.step = step

    @property
    def batch_size(self) -> int:
        return 10

    def _ask(self) -> np.ndarray:
        return self.step * self.space.prior.sample(self.rng, 10, self.space.dim)

    def _tell(self, genomes, loss, measures) -> None:
        pass
'''


def test_the_leaderboard_lists_defaults_that_changed_between_runs(tmp_path):
    """Its settings line said "my-es: defaults" for runs made with two different steps."""
    import shutil

    from bench.leaderboard import build_leaderboard

    code = tmp_path / "code"
    code.mkdir()
    (code / "my_es_module.py").write_text(STEPPED.format(step=1.0))
    first = _module_from(code)
    _campaign(tmp_path / "c", first)
    run = next(
        p.parent for p in (tmp_path / "c").glob(f"runs/*/{RECORD}")
        if json.loads(p.read_text())["spec"]["algo"] == "my-es"
    )
    shutil.rmtree(run)  # lost; recomputed below with the edited default
    (code / "my_es_module.py").write_text(STEPPED.format(step=2.5))
    summary, _ = _campaign(tmp_path / "c", _module_from(code))
    assert summary.ran == 1
    with registered(algorithms={"my-es": first.MyES}):
        board = build_leaderboard(tmp_path / "c", tmp_path / "lb")
    text = (board.out / "README.md").read_text()
    assert "my-es: default step differs between runs: 1.0 (1 run), 2.5 (1 run)" in text
    assert "random: default" not in text  # its runs agree
    page = (board.out / "problem-sphere.html").read_text()
    assert "my-es: default step differs between runs" in page


def _module_from(folder: Path):
    """``my_es_module`` imported afresh from ``folder``."""
    sys.modules.pop("my_es_module", None)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("my_es_module")
    finally:
        sys.path.remove(str(folder))

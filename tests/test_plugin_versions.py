"""Resuming a campaign after a plugin's version changed, and the versions a leaderboard counts."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bench.registry
from bench.algorithm import Algorithm
from bench.campaign import Plan, run_campaign
from bench.leaderboard.provenance import gather, provenance_lines
from bench.provenance import distribution_version
from bench.registry import registered
from bench.results import RECORD


class PriorSampler(Algorithm):
    """Samples of the problem's prior, 10 at a time."""

    @property
    def batch_size(self) -> int:
        return 10

    def _ask(self) -> np.ndarray:
        return self.space.prior.sample(self.rng, 10, self.space.dim)

    def _tell(self, genomes, loss, measures) -> None:
        pass


PLAN = dict(
    problems=["sphere"],
    algorithms=["random", "plug-algo"],
    seeds=[0, 1],
    budget=20,
    problem_params={"sphere": {"dim": 4}},
    algo_params={"random": {"batch": 10}},
)


def _campaign(folder: Path, version: str, monkeypatch, **options) -> tuple[object, list[str]]:
    """Run the plan with ``plug-algo`` from "myplug ``version``"; the summary and warnings."""
    source = f"myplug {version} (registered in-process)"
    monkeypatch.setattr(bench.registry, "_in_process_source", lambda module: source)
    with (
        registered(algorithms={"plug-algo": PriorSampler}),
        warnings.catch_warnings(record=True) as w,
    ):
        warnings.simplefilter("always")
        summary = run_campaign(Plan(**PLAN), folder, progress=False, **options)
    return summary, [str(x.message) for x in w]


def _sources(folder: Path) -> list[str]:
    records = [json.loads(p.read_text()) for p in sorted(folder.glob(f"runs/*/{RECORD}"))]
    return sorted(r["provenance"]["registered"]["algorithm"]["source"] for r in records)


def test_resume_warns_once_per_plugin_whose_version_changed_and_keeps_the_runs(
    tmp_path, monkeypatch
):
    first, noted = _campaign(tmp_path, "0.3.1", monkeypatch)
    assert (first.ran, first.failed, noted) == (4, 0, [])
    same, noted = _campaign(tmp_path, "0.3.1", monkeypatch)
    assert (same.ran, noted) == (0, [])  # nothing changed, nothing said
    later, noted = _campaign(tmp_path, "0.4.0", monkeypatch)
    assert (later.ran, later.skipped_finished) == (0, 4)  # kept
    assert noted == [
        f"2 finished run(s) in {tmp_path} used myplug 0.3.1; myplug 0.4.0 is installed now: "
        "they are kept; pass --rerun-changed (rerun_changed=True in Python) to run them again, "
        "or use another --out folder"
    ]
    rerun, noted = _campaign(tmp_path, "0.4.0", monkeypatch, rerun_changed=True)
    assert (rerun.ran, rerun.rerun_changed, rerun.skipped_finished, noted) == (2, 2, 2, [])
    assert _sources(tmp_path)[-2:] == ["myplug 0.4.0 (registered in-process)"] * 2
    assert _campaign(tmp_path, "0.4.0", monkeypatch)[1] == []


def test_the_warning_counts_each_old_version_and_covers_the_generator(tmp_path, monkeypatch):
    _campaign(tmp_path, "0.3.1", monkeypatch)
    older = True
    for path in sorted(tmp_path.glob(f"runs/*/{RECORD}")):
        record = json.loads(path.read_text())
        registered_ = record["provenance"]["registered"]
        if older and "myplug" in registered_["algorithm"]["source"]:
            registered_["algorithm"]["source"] = "myplug 0.3.0"  # one run of an older version
            older = False
        # every run's generator came from a plugin that registered dcgan-mnist
        registered_["generator"] = {"name": "dcgan-mnist", "target": "x:y", "source": "genplug 1"}
        path.write_text(json.dumps(record))
    noted = _campaign(tmp_path, "0.4.0", monkeypatch)[1]
    assert sorted(noted) == [
        f"2 finished run(s) in {tmp_path} used myplug 0.3.0 (1 runs) or 0.3.1 (1 runs); "
        "myplug 0.4.0 is installed now: they are kept; pass --rerun-changed "
        "(rerun_changed=True in Python) to run them again, or use another --out folder",
        f"4 finished run(s) in {tmp_path} used genplug 1; latent-bench "
        f"{distribution_version(_builtin_source())[1]} is installed now: they are kept; pass "
        "--rerun-changed (rerun_changed=True in Python) to run them again, or use another "
        "--out folder",
    ]


def _builtin_source() -> str:
    return bench.registry.registry("generators").entry("dcgan-mnist").source


def test_distribution_version_reads_every_kind_of_source():
    assert distribution_version("myplug 0.2.0") == ("myplug", "0.2.0")
    assert distribution_version("myplug 0.2.0 (registered in-process)") == ("myplug", "0.2.0")
    no_package = "registered in-process (no entry point, not an installed package)"
    for source in (no_package, "unknown distribution", None, "", "myplug"):
        assert distribution_version(source) is None


def _runs(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"problem": ["p"] * n, "budget": [10] * n, "seed": range(n), "wall_seconds": [1.0] * n}
    )


def _record(algorithm: str, generator: str | None = None) -> dict:
    registered_ = {"algorithm": {"name": "a", "target": "m:A", "source": algorithm}}
    if generator is not None:
        registered_["generator"] = {"name": "g", "target": "m:g", "source": generator}
    return {"provenance": {"registered": registered_}}


def test_the_page_foot_counts_the_runs_of_each_plugin_version():
    """The README said "myplug 0.3.1/0.4.0" without counts; provenance.json had them."""
    records = {
        "a": _record("myplug 0.3.1", generator="genplug 2.0 (registered in-process)"),
        "b": _record("myplug 0.3.1"),
        "c": _record("myplug 0.4.0 (registered in-process)"),
        "d": _record("registered in-process (no entry point, not an installed package)"),
    }
    prov = gather(_runs(4), records)
    assert prov["packages"] == {"genplug": {"2.0": 1}, "myplug": {"0.3.1": 2, "0.4.0": 1}}
    line = dict(provenance_lines(prov))["packages"]
    assert line == "genplug 2.0, myplug 0.3.1 (2 runs)/0.4.0 (1 run)"
    prov["packages"] = {"myplug": ["0.3.1", "0.4.0"]}  # a provenance.json written before counts
    assert dict(provenance_lines(prov))["packages"] == "myplug 0.3.1/0.4.0"


def test_only_the_suites_own_distribution_is_the_suite():
    from bench.provenance import outside_the_suite
    from bench.registry import Entry

    assert not outside_the_suite(Entry("x", "m:C", "latent-bench 0.1.0"))
    assert outside_the_suite(Entry("x", "m:C", "latent-bench-extras 0.3.0"))
    assert outside_the_suite(Entry("x", "m:C", "latent-benchmarks 1.0"))
    assert outside_the_suite(Entry("x", "m:C", "latent-bench 0.1.0", in_process=True))

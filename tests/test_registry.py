import sys
from types import SimpleNamespace

import pytest
from bench.algorithms.random_sampling import RandomSampling

from bench.algorithm import Algorithm
from bench.problem import Problem
from bench.registry import (
    DuplicateNameError,
    Entry,
    Registry,
    RegistryError,
    UnknownNameError,
    registry,
)
from bench.testing import ProbeSphere


def _entry(name, target, source, obj=None):
    ep = SimpleNamespace(
        load=lambda: (
            obj if obj is not None else (_ for _ in ()).throw(ImportError("no module named broken"))
        )
    )
    return Entry(name, target, source, ep)


def test_builtins_register_through_entry_points():
    assert {"sphere", "rastrigin"} <= set(registry("problems").names())
    assert {"random", "ga"} <= set(registry("algorithms").names())
    for kind in ("problems", "algorithms", "generators"):
        reg = registry(kind)
        for name in reg.names():
            assert reg.entry(name).description != "(no description)", (kind, name)


def test_duplicate_names_name_both_sources():
    a = _entry("ga", "bench.algorithms.ga:GeneticAlgorithm", "latent-bench 0.1.0", object)
    b = _entry("ga", "other.mod:GA", "other-plugin 2.0", object)
    with pytest.raises(DuplicateNameError) as info:
        Registry("algorithms", [a, b])
    message = str(info.value)
    assert "latent-bench 0.1.0" in message and "other-plugin 2.0" in message
    assert "bench.algorithms.ga:GeneticAlgorithm" in message and "other.mod:GA" in message


def test_unknown_name_lists_valid_and_suggests_closest():
    with pytest.raises(UnknownNameError) as info:
        registry("algorithms").entry("gaa")
    message = str(info.value)
    assert "did you mean 'ga'" in message
    assert "random" in message


def test_broken_plugin_reports_its_source():
    reg = Registry("algorithms", [_entry("broken", "broken.mod:X", "broken-plugin 1.0")])
    with pytest.raises(RegistryError, match=r"broken-plugin 1\.0.*ImportError"):
        reg.load("broken")


def test_builtin_entries_are_of_their_kind():
    for kind, base in (("problems", Problem), ("algorithms", Algorithm)):
        for name in registry(kind).names():
            obj = registry(kind).load(name)
            assert isinstance(obj, type) and issubclass(obj, base), (kind, name)
    assert all(callable(registry("generators").load(n)) for n in registry("generators").names())


def test_entries_of_the_wrong_kind_say_what_they_should_be():
    module = sys.modules[RandomSampling.__module__]

    class Abstract(Algorithm):
        """Lacks _ask and batch_size."""

    cases = [
        ("problems", RandomSampling, "subclass of bench.problem.Problem, got class "),
        ("problems", RandomSampling, "it is an algorithm: register it under 'bench.algorithms'"),
        ("algorithms", ProbeSphere, "subclass of bench.algorithm.Algorithm, got class "),
        ("algorithms", ProbeSphere, "it is a problem: register it under 'bench.problems'"),
        ("algorithms", module, "got module bench.algorithms.random_sampling (write 'module:"),
        ("algorithms", len, "subclass of bench.algorithm.Algorithm, got function"),
        ("algorithms", Abstract, "implements every abstract method; Abstract lacks _ask"),
        ("problems", 3, "got int 3"),
        ("generators", 3, "must name a callable"),
        ("generators", module, "must name a callable"),
    ]
    for kind, obj, message in cases:
        reg = Registry(kind, [_entry("wrong", "plug.mod:Thing", "plug 1.0", obj)])
        assert reg.names() == ["wrong"]
        with pytest.raises(RegistryError) as info:
            reg.load("wrong")
        text = str(info.value)
        assert "'wrong' (plug.mod:Thing, from plug 1.0)" in text and message in text, text
        assert "\n" not in text
    good = Registry("generators", [_entry("ok", "plug.mod:make", "plug 1.0", ProbeSphere)])
    assert good.load("ok") is ProbeSphere


def test_unsafe_names_break_only_their_own_entry():
    bad = ["es/v2", "a\\b", "two words", "tab\there", ".hidden", "-dash", "", "é", "x" * 101]
    good = ["pymoo:de", "map-elites", "my_algo.v2", "ga", "_private", "x" * 100]
    entries = [_entry(name, "plug.mod:Algo", "plug 1.0", RandomSampling) for name in bad + good]
    reg = Registry("algorithms", entries)
    assert set(reg.names()) == set(bad + good)
    for name in good:
        assert reg.load(name) is RandomSampling
    for name in bad:
        with pytest.raises(RegistryError) as info:
            reg.load(name)
        text = str(info.value)
        assert text.startswith(f"unusable algorithm name {name!r} (plug.mod:Algo, from plug 1.0)")
        assert "\n" not in text
    with pytest.raises(RegistryError, match="no /"):
        _ = reg.entry("es/v2").description

from types import SimpleNamespace

import pytest

from bench.registry import (
    DuplicateNameError,
    Entry,
    Registry,
    RegistryError,
    UnknownNameError,
    registry,
)


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

"""bench.spec.plain: what a problem's describe() (or report()) returns becomes strict JSON."""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np
import pytest
import torch

from bench.registry import registered
from bench.runner import execute
from bench.spec import RunSpec, plain
from bench.testing import ProbeSphere


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (-math.inf, None),
        (np.float32("nan"), None),
        (np.float32(0.5), 0.5),
        (np.array([np.nan, 1.0]), [None, 1.0]),
        ({2, 1, 3}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        ({1, "a"}, [1, "a"]),  # items that do not compare sort by their str
        (torch.tensor(3.0), 3.0),
        (torch.ones(2), [1.0, 1.0]),
        (torch.tensor([float("nan"), 2.0]), [None, 2.0]),
        (pathlib.Path("/tmp/x"), "/tmp/x"),
        ({"a": (1, float("inf"))}, {"a": [1, None]}),
        (1.5, 1.5),
        (True, True),
    ],
)
def test_plain_gives_what_strict_json_holds(value, expected):
    got = plain(value)
    assert got == expected
    json.dumps(got, allow_nan=False)


def test_other_objects_are_left_for_the_record_writer_to_write_as_their_str():
    thing = object()
    assert plain(thing) is thing
    matrix = torch.ones(2, 2)  # only 0-d and 1-d tensors become numbers and lists
    assert plain(matrix) is matrix


def test_plain_does_not_import_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")
    assert plain({"x": float("nan")}) == {"x": None}
    assert "torch" not in sys.modules


class Described(ProbeSphere):
    """``ProbeSphere`` whose describe() holds what JSON lacks."""

    def describe(self) -> dict:
        return {"nan": float("nan"), "set": {2, 1}, "tensor": torch.ones(2), "inf": np.inf}


def test_a_record_with_such_values_is_strict_json(tmp_path):
    with registered(problems={"described": Described}):
        result = execute(RunSpec("described", "random", budget=100))
    folder = result.save(tmp_path / "run")
    text = next(pathlib.Path(folder).rglob("record.json")).read_text()

    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    problem = json.loads(text, parse_constant=refuse)["problem"]
    assert (problem["nan"], problem["set"], problem["tensor"], problem["inf"]) == (
        None,
        [1, 2],
        [1.0, 1.0],
        None,
    )

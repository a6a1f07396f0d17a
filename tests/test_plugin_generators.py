"""Plugin generators in built-in problems: the factory contract and the provenance they leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from bench.problems.diversity import SetDiversity
from bench.problems.face import FaceSimilarity

from bench.campaign import Plan, run_campaign
from bench.cli import main
from bench.generator import Generator, load_generator
from bench.provenance import problem_generator, registered_sources
from bench.registry import RegistryError, registered
from bench.results import RECORD
from bench.runner import execute
from bench.spec import RunSpec


class Tiny(Generator):
    """z ``[N, 4]`` → images ``[N, 1, 4, 4]`` in [-1, 1]."""

    z_dim, img_resolution, img_channels = 4, 4, 1

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 16)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).view(-1, 1, 4, 4)


def old_style(seed: int = 1234) -> Tiny:
    """A factory as the README allowed it: no device, no weights."""
    return Tiny()


calls: list[dict] = []


def keyworded(device: str = "cpu", weights: str | None = None) -> Tiny:
    """A factory that follows the contract and says how it was called."""
    calls.append({"device": device, "weights": weights})
    return Tiny().to(device)


def catch_all(**kwargs) -> Tiny:
    """A factory taking any keyword."""
    return Tiny()


def failing_inside(device: str = "cpu", weights: str | None = None) -> Tiny:
    """A factory that takes the keywords but has a bug of its own."""
    return Tiny(3)  # TypeError inside the factory, not in the call


def broken(device: str = "cpu", weights: str | None = None) -> Tiny:
    """A factory whose construction fails (a corrupt weight file, say)."""
    raise RuntimeError("corrupt weights")


FACTORY_ERROR = "its factory must accept device= and weights= keywords"


@pytest.mark.parametrize("load", [SetDiversity._load_generator, FaceSimilarity._load_generator])
def test_a_factory_without_the_keywords_is_a_one_line_error_naming_it(load):
    with registered(generators={"old-style": old_style}), pytest.raises(RegistryError) as exc:
        load("old-style", None, "cpu")
    message = str(exc.value)
    assert message.startswith(f"generator 'old-style' ({__name__}:old_style): {FACTORY_ERROR}")
    assert "\n" not in message


def test_bench_run_says_the_factory_needs_the_keywords(tmp_path, capsys):
    argv = ["run", "--problem", "diversity-mnist-rmse", "--algo", "random", "--budget", "4"]
    argv += ["--set", "generator=old-style", "--set", "k=2", "--no-progress"]
    with registered(generators={"old-style": old_style}):
        assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"bench: error: problem 'diversity-mnist-rmse': generator 'old-style' "
        f"({__name__}:old_style): {FACTORY_ERROR}; add them to its signature, e.g. "
        "(device: str = 'cpu', weights: str | None = None)"
    ]


def test_factories_that_take_the_keywords_get_both():
    calls.clear()
    with registered(generators={"kw": keyworded, "any": catch_all}):
        assert isinstance(SetDiversity(k=2, generator="kw").generator, Tiny)
        SetDiversity(k=2, generator="kw", weights="/tmp/w.pt")
        assert not load_generator("any").training  # in eval mode
    assert calls == [{"device": "cpu", "weights": None}, {"device": "cpu", "weights": "/tmp/w.pt"}]


def test_a_type_error_inside_a_factory_is_not_blamed_on_its_signature():
    with registered(generators={"buggy": failing_inside}), pytest.raises(TypeError) as exc:
        load_generator("buggy")
    assert FACTORY_ERROR not in str(exc.value)


def test_registered_sources_names_the_generator_when_given_one():
    assert set(registered_sources("sphere", "random")) == {"problem", "algorithm"}
    with registered(generators={"kw": keyworded}):
        sources = registered_sources("diversity-mnist-rmse", "random", generator="kw")
        assert set(registered_sources("sphere", "random", generator=Tiny())) == {
            "problem",
            "algorithm",
        }
    assert sources["generator"]["name"] == "kw"
    assert sources["generator"]["target"] == f"{__name__}:keyworded"
    assert "registered in-process" in sources["generator"]["source"]
    builtin = registered_sources("diversity-mnist-rmse", "random", generator="dcgan-mnist")
    assert builtin["generator"]["source"].startswith("latent-bench ")


def test_problem_generator_is_the_parameter_else_the_class_default():
    assert problem_generator("diversity-mnist-rmse") == "dcgan-mnist"
    assert problem_generator("diversity-fashion-ncc", {"generator": "kw"}) == "kw"
    assert problem_generator("sphere", {"dim": 4}) is None
    assert problem_generator("no-such-problem") is None


def test_a_run_with_a_plugin_generator_records_its_source():
    """--set generator=tiny-rgb recorded only the problem and the algorithm."""
    spec = RunSpec(
        "diversity-mnist-rmse",
        "random",
        budget=4,
        seed=0,
        problem_params={"generator": "kw", "k": 2},
        algo_params={"batch": 2},
    )
    with registered(generators={"kw": keyworded}):
        record = execute(spec).record
    assert record["status"] == "finished", record.get("error")
    generator = record["provenance"]["registered"]["generator"]
    assert (generator["name"], generator["target"]) == ("kw", f"{__name__}:keyworded")


def test_a_campaign_run_that_could_not_build_its_generator_records_it(tmp_path):
    plan = Plan(["diversity-mnist-rmse"], ["random"], [0], 4, {"diversity-mnist-rmse": {"k": 2}})
    plan.problem_params["diversity-mnist-rmse"]["generator"] = "broken"
    with registered(generators={"broken": broken}):
        summary = run_campaign(plan, tmp_path, progress=False)
    assert summary.failed == 1
    (record_file,) = Path(tmp_path, "runs").glob(f"*/{RECORD}")
    record = json.loads(record_file.read_text())
    assert record["error"]["type"] == "RuntimeError"
    assert record["provenance"]["registered"]["generator"]["target"] == f"{__name__}:broken"

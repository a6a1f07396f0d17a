"""Fitness and measures returned as torch tensors, on the problem's device or without data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bench.evaluator import as_batch
from bench.problem import MeasureSpace
from bench.registry import registered
from bench.runner import execute
from bench.spec import RunSpec
from bench.testing import ProbeSphere

torch = pytest.importorskip("torch", reason="torch tensors as fitness need PyTorch")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU tests the same path without a GPU


class TensorFitness(ProbeSphere):
    """Fitness as a tensor on ``device``, from a graph that tracks gradients."""

    device = DEVICE

    def evaluate(self, genomes: np.ndarray):
        x = torch.as_tensor(genomes, device=self.device).requires_grad_(True)
        return ((x - 0.5) ** 2).sum(1)


class HalfFitness(ProbeSphere):
    """Fitness as a bfloat16 tensor (NumPy has no such dtype)."""

    def evaluate(self, genomes: np.ndarray):
        return torch.as_tensor(np.sum((genomes - 0.5) ** 2, axis=1), dtype=torch.bfloat16)


class MetaFitness(ProbeSphere):
    """Fitness on the meta device: shapes without numbers."""

    def evaluate(self, genomes: np.ndarray):
        return torch.as_tensor(genomes, device="meta").pow(2).sum(1)


class TensorMeasures(ProbeSphere):
    """Fitness and measures ``[N, 2]`` as tensors; measures on the meta device if asked."""

    measure_space = MeasureSpace(names=("a", "b"), ranges=((-5.0, 5.0), (-5.0, 5.0)), bins=(4, 4))

    def __init__(self, dim: int = 4, meta: bool = False):
        super().__init__(dim)
        self.meta = meta

    def evaluate_with_measures(self, genomes: np.ndarray):
        fitness = torch.as_tensor(np.sum((genomes - 0.5) ** 2, axis=1), device=DEVICE)
        measures = torch.as_tensor(genomes[:, :2], device="meta" if self.meta else DEVICE)
        return fitness, measures


def _run(problem_cls: type, **params):
    with registered(problems={"tensor-probe": problem_cls}):
        spec = RunSpec(
            "tensor-probe", "random", 40, 1, problem_params=params, algo_params={"batch": 20}
        )
        return execute(spec)


@pytest.mark.parametrize("problem_cls", [TensorFitness, HalfFitness])
def test_tensor_fitness_is_taken_off_its_device(problem_cls):
    record = _run(problem_cls).record
    assert record["status"] == "finished", record["error"]
    assert record["evaluations"] == 40 and record["nonfinite"] == 0
    assert isinstance(record["best_fitness"], float)


def test_tensor_measures_are_taken_off_their_device():
    result = _run(TensorMeasures)
    assert result.record["status"] == "finished", result.record["error"]
    assert result.record["archive"]["coverage"] > 0


def test_meta_fitness_is_a_one_line_error_that_says_so():
    record = _run(MetaFitness).record
    assert record["status"] == "failed"
    message = record["error"]["message"]
    assert message.startswith("MetaFitness.evaluate() fitness: got a torch tensor [20] on the meta")
    assert "holds no numbers" in message and "no array of numbers" not in message
    assert "\n" not in message


def test_meta_measures_are_a_one_line_error_that_says_so():
    message = _run(TensorMeasures, meta=True).record["error"]["message"]
    assert message.startswith("TensorMeasures.evaluate_with_measures() measures: got a torch")
    assert "meta device" in message


def test_a_tensor_of_the_wrong_shape_is_called_a_tensor():
    with pytest.raises(
        ValueError, match=r"expected shape \[3\].*got a torch tensor of shape \[3, 1\]"
    ):
        as_batch(torch.zeros((3, 1)), (3,), "P.evaluate() fitness")
    copy = as_batch(torch.arange(3.0), (3,), "P.evaluate() fitness")
    assert copy.dtype == np.float64 and copy.tolist() == [0.0, 1.0, 2.0]


def test_the_evaluator_does_not_import_torch():
    code = "import sys, bench.evaluator; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

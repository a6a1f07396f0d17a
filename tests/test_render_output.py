"""A problem's ``render()`` of the wrong form costs its images, never the run or the campaign."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bench.campaign import Plan, run_campaign
from bench.images import ImageError, check_images, image_grid
from bench.registry import registered
from bench.results import BEST_IMAGES, RECORD, save_run
from bench.runner import execute
from bench.spec import RunSpec
from bench.testing import ProbeSphere


def _gray(value: int = 200, shape: tuple[int, ...] = (6, 5, 1)) -> np.ndarray:
    """A uint8 image of ``shape`` filled with ``value``."""
    return np.full(shape, value, dtype=np.uint8)


class GoodRender(ProbeSphere):
    """Renders each genome as a gray uint8 ``[6, 5, 1]`` image."""

    def render(self, genomes: np.ndarray) -> list[np.ndarray]:
        return [_gray() for _ in genomes]


class ChannelsFirst(ProbeSphere):
    """uint8 ``[C, H, W]``: ``np.transpose`` of ``[H, W, C]`` (PIL could not write it)."""

    def render(self, genomes: np.ndarray) -> list[np.ndarray]:
        return [np.transpose(_gray(shape=(16, 16, 1)), (2, 0, 1)) for _ in genomes]


class FloatImages(ProbeSphere):
    """Float images in [0, 1] (were written as an all-black ``best.png``)."""

    def render(self, genomes: np.ndarray) -> list[np.ndarray]:
        return [np.full((4, 4, 3), 0.8, dtype=np.float32) for _ in genomes]


class TooMany(ProbeSphere):
    """Two images for one genome."""

    def render(self, genomes: np.ndarray) -> list[np.ndarray]:
        return [_gray(), _gray()]


class OneArray(ProbeSphere):
    """A single image, not a list of one."""

    def render(self, genomes: np.ndarray) -> np.ndarray:
        return _gray()


class Raises(ProbeSphere):
    """render() itself fails."""

    def render(self, genomes: np.ndarray) -> list[np.ndarray]:
        raise RuntimeError("no display")


class TensorImages(ProbeSphere):
    """A torch tensor ``[N, C, H, W]``, as a generator returns it."""

    def render(self, genomes: np.ndarray):
        import torch

        return torch.zeros((len(genomes), 1, 8, 8))


def _run(problem_cls: type, seed: int = 1):
    with registered(problems={"render-probe": problem_cls}):
        spec = RunSpec("render-probe", "random", budget=40, seed=seed, algo_params={"batch": 20})
        return execute(spec)


def test_good_images_are_saved(tmp_path):
    result = _run(GoodRender)
    assert result.record["status"] == "finished" and "render_error" not in result.record
    folder = result.save(tmp_path / "run")
    assert np.asarray(Image.open(folder / BEST_IMAGES)).tolist() == _gray()[..., 0].tolist()


@pytest.mark.parametrize(
    ("problem_cls", "message"),
    [
        (ChannelsFirst, "ChannelsFirst.render() returned uint8 images of shape [1, 16, 16]"),
        (FloatImages, "FloatImages.render() returned float32 images; return uint8 [H, W, C]"),
        (TooMany, "TooMany.render() returned 2 images for 1 genome"),
        (OneArray, "OneArray.render() returned one array [6, 5, 1]; return a list"),
        (TensorImages, "TensorImages.render() returned a torch Tensor [1, 1, 8, 8]"),
    ],
)
def test_wrong_images_are_a_render_error_and_the_run_is_saved(tmp_path, problem_cls, message):
    if problem_cls is TensorImages:
        pytest.importorskip("torch", reason="the tensor case needs PyTorch")
    result = _run(problem_cls)
    record = result.record
    assert record["status"] == "finished" and record["error"] is None
    assert result.images is None
    error = record["render_error"]
    assert error["type"] == "ImageError" and error["message"].startswith(message), error
    assert "\n" not in error["message"] and error["traceback"] == ""
    folder = result.save(tmp_path / "run")
    assert not (folder / BEST_IMAGES).exists()
    saved = json.loads((folder / RECORD).read_text())
    assert saved["status"] == "finished" and saved["render_error"] == error


def test_render_that_raises_is_still_kept_as_data():
    record = _run(Raises).record
    assert record["status"] == "finished"
    assert record["render_error"]["type"] == "RuntimeError"
    assert "no display" in record["render_error"]["message"]


def test_campaign_goes_on_past_a_bad_render_and_keeps_the_run(tmp_path):
    pytest.importorskip("torch", reason="the tensor case needs PyTorch")
    plan = Plan(
        problems=["chw", "tensor", "good"],
        algorithms=["random"],
        seeds=[0, 1],
        budget=40,
        algo_params={"random": {"batch": 20}},
    )
    problems = {"chw": ChannelsFirst, "tensor": TensorImages, "good": GoodRender}
    with registered(problems=problems):
        summary = run_campaign(plan, tmp_path / "camp")
        again = run_campaign(plan, tmp_path / "camp")  # resume: nothing left to run
    assert summary.ran == 6 and summary.failed == 0
    assert again.ran == 0 and again.skipped_finished == 6
    runs = sorted((tmp_path / "camp" / "runs").iterdir())
    assert len(runs) == 6
    for run in runs:
        record = json.loads((run / RECORD).read_text())
        assert record["status"] == "finished"
        bad = record["spec"]["problem"] != "good"
        assert ("render_error" in record) == bad
        assert (run / BEST_IMAGES).is_file() != bad


@pytest.mark.parametrize(
    "images",
    [
        [np.zeros((3, 8, 8), np.uint8)],  # [C, H, W]
        [np.full((4, 4, 3), 0.5, np.float32)],  # floats
        np.zeros((1, 4, 4, 3), np.float64),  # one float array [N, H, W, C]
        [np.zeros((4, 4, 1), np.uint8), np.zeros((5, 4, 1), np.uint8)],  # differing shapes
        "images",
    ],
)
def test_save_run_never_fails_on_images(tmp_path, images):
    record = {"run_id": "r", "spec": {"problem": "p", "algo": "a"}, "status": "finished"}
    folder = save_run(tmp_path / "run", record, images=images)
    saved = json.loads((folder / RECORD).read_text())
    assert saved["status"] == "finished"
    assert saved["render_error"]["type"] == "ImageError"
    assert "\n" not in saved["render_error"]["message"]
    assert not (folder / BEST_IMAGES).exists()
    assert "render_error" not in record  # the caller's record is left as it was


def test_save_run_never_fails_on_a_tensor(tmp_path):
    torch = pytest.importorskip("torch", reason="the tensor case needs PyTorch")
    record = {"run_id": "r", "spec": {"problem": "p", "algo": "a"}, "status": "finished"}
    folder = save_run(tmp_path / "run", record, images=torch.zeros((2, 1, 4, 4)))
    saved = json.loads((folder / RECORD).read_text())
    assert "torch Tensor" in saved["render_error"]["message"]


def test_check_images_accepts_the_contract_and_a_batch_array():
    assert check_images(None, 2, "P.render()") is None
    images = check_images(np.zeros((2, 4, 4, 3), np.uint8), 2, "P.render()")
    assert isinstance(images, list) and len(images) == 2 and images[0].shape == (4, 4, 3)
    assert len(check_images((_gray(), _gray()), 2, "P.render()")) == 2
    with pytest.raises(ImageError, match=r"P.render\(\) returned 0 images for 2 genomes"):
        check_images([], 2, "P.render()")


def test_image_grid_refuses_floats_instead_of_writing_black():
    with pytest.raises(ValueError, match="float32 images; images must be uint8"):
        image_grid([np.full((4, 4, 3), 0.8, np.float32)])


def test_bench_run_prints_the_render_error(tmp_path, capsys):
    from bench.cli import main

    with registered(problems={"render-probe": FloatImages}):
        code = main(
            ["run", "--problem", "render-probe", "--algo", "random", "--budget", "100",
             "--out", str(tmp_path), "--no-progress"]
        )
    out = capsys.readouterr().out
    assert code == 0 and "status     finished" in out
    assert "render     ImageError: FloatImages.render() returned float" in out

"""The face problem's baseline and target photos: what they mean, and what is refused.

The study's baseline (seeds digest §1, "deceiving FaceNet") is the distance
between the target and another photo of the same person. faces-pairs'
master.csv: img1, img2, img4-img7, img10, img11 show one person; img13-img15
another.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.problems.face import FaceSimilarity
from bench.problems.face_targets import (
    SAME_PERSON_THRESHOLD,
    FaceInputError,
    embed_faces,
    load_photo,
    photo_distance,
    target_from_photos,
)

from bench.generator import Generator


class Flat(Generator):
    """A grey 64-px image whatever the latent: enough for photo targets with a given crop."""

    z_dim, img_resolution, img_channels = 4, 64, 3

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(z), 3, 64, 64) + 0.0 * z[:, :1, None, None]


@pytest.fixture(scope="module")
def photos(data_dir):
    return data_dir / "faces-pairs"


@pytest.fixture
def no_networks(monkeypatch):
    """Make loading the generator (the first network loaded) fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network loaded before the photos were checked")

    monkeypatch.setattr(FaceSimilarity, "_load_generator", staticmethod(refuse))


@pytest.fixture(scope="module")
def build(facenet_cache):
    """``FaceSimilarity`` with the ``Flat`` generator, a fixed crop and cached FaceNet."""
    weights = str(facenet_cache / "weights" / "facenet-casia.pt")

    def make(target: str, baseline: str | None = None) -> FaceSimilarity:
        return FaceSimilarity(
            target, generator=Flat(), facenet=weights, baseline=baseline, crop="0,0,64,64",
            chunk=4,
        )

    return make


def _photos(folder, *names: str) -> str:
    return ",".join(str(folder / n) for n in names)


# --- refusals before any network loads ---------------------------------------------------


def test_a_seed_target_takes_no_baseline(photos, no_networks):
    with pytest.raises(ValueError, match=r"baseline needs a photo target: seed:0 is a generated"):
        FaceSimilarity("seed:0", baseline=_photos(photos, "img10.jpg", "img5.jpg"))
    with pytest.raises(ValueError, match="baseline needs a photo target"):
        FaceSimilarity("seed:3", baseline=_photos(photos, "img5.jpg"))


def test_one_photo_twice_is_no_baseline(photos, no_networks):
    target = _photos(photos, "img10.jpg")
    with pytest.raises(ValueError, match=r"baseline names .*img10\.jpg twice .*baseline=PHOTO"):
        FaceSimilarity(target, baseline=_photos(photos, "img10.jpg", "img10.jpg"))
    with pytest.raises(ValueError, match=r"img10\.jpg is a target photo; .*baseline=PHOTO"):
        FaceSimilarity(target, baseline=target)
    several = _photos(photos, "img10.jpg", "img5.jpg")
    with pytest.raises(ValueError, match=r"img5\.jpg is a target photo"):
        FaceSimilarity(several, baseline=_photos(photos, "img5.jpg"))


def test_a_photo_pair_baseline_only_for_its_first_photo_as_target(photos, no_networks):
    """dist(A, B) is the study's baseline only where the target is photo A alone."""
    pair = _photos(photos, "img10.jpg", "img5.jpg")
    for target in (_photos(photos, "img10.jpg", "img5.jpg", "img11.jpg"),
                   _photos(photos, "img11.jpg"), _photos(photos, "img5.jpg")):
        with pytest.raises(ValueError, match=r"give one other photo of the target's person"):
            FaceSimilarity(target, baseline=pair)
    with pytest.raises(ValueError, match=r"baseline is one other photo .*got"):
        FaceSimilarity(_photos(photos, "img10.jpg"),
                       baseline=_photos(photos, "img10.jpg", "img5.jpg", "img11.jpg"))


def test_photo_paths_are_checked_before_the_networks_load(photos, tmp_path, no_networks):
    with pytest.raises(FaceInputError, match=r"faces-pairs is a folder; give a photo file"):
        FaceSimilarity(str(photos))
    with pytest.raises(FaceInputError, match=r"nobody\.jpg: no such file"):
        FaceSimilarity(str(tmp_path / "nobody.jpg"))
    with pytest.raises(FaceInputError, match=r"nobody\.jpg: no such file"):
        FaceSimilarity(_photos(photos, "img10.jpg"), baseline=str(tmp_path / "nobody.jpg"))
    with pytest.raises(FaceInputError, match=r"is a folder; give a photo file"):
        FaceSimilarity(_photos(photos, "img10.jpg"), baseline=str(photos))
    with pytest.raises(FaceInputError, match="no target photos given"):
        FaceSimilarity(" , ")


def test_load_photo_names_a_folder(photos):
    with pytest.raises(FaceInputError, match=r"faces-pairs is a folder; give a photo file"):
        load_photo(photos)


def test_cli_refuses_a_baseline_for_a_seed_target_in_one_line(bench_here, tmp_path):
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"")  # never read: the refusal comes first
    res = bench_here(
        "run", "--problem", "face", "--algo", "random", "--budget", "4",
        "--set", "target=seed:0", "--set", f"baseline={tmp_path / 'a.jpg'},{tmp_path / 'b.jpg'}",
        "--out", str(tmp_path / "runs"),
    )
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "baseline needs a photo target" in lines[0]
    assert "Traceback" not in res.stderr


# --- what the baseline and target record ---------------------------------------------------


def test_the_baseline_is_the_targets_distance_to_another_photo(
    build, photos, facenet, face_aligner
):
    """Seeds digest §1: baseline = distance between the target and another photo of the person."""
    target = _photos(photos, "img10.jpg", "img5.jpg")
    problem = build(target, baseline=str(photos / "img11.jpg"))
    expected = target_from_photos(target.split(","), facenet, face_aligner).embedding
    other = embed_faces(facenet, face_aligner.align(photos / "img11.jpg").face[None])[0]
    assert problem.baseline == pytest.approx(float(np.linalg.norm(expected - other)), abs=1e-4)
    # closer than the two target photos are to each other: the mean sits between them
    assert problem.baseline < photo_distance(
        photos / "img10.jpg", photos / "img11.jpg", facenet, face_aligner
    )[0]
    info = problem.describe()
    assert info["baseline_distance"] == problem.baseline
    assert info["baseline_photos"] == [str(photos / "img11.jpg")]
    assert "img11.jpg, another photo of its person" in info["baseline"]
    assert info["target_warnings"] == []
    assert info["target_regions"] == [
        list(face_aligner.align(photos / n).region) for n in ("img10.jpg", "img5.jpg")
    ]
    assert 0 < info["target_spread"] < info["target_max_pair_distance"] < SAME_PERSON_THRESHOLD
    assert problem.report(np.zeros((1, 4)))["baseline_distance"] == problem.baseline
    # "A,B" with target A alone is the same figure as baseline=B
    pair = build(str(photos / "img10.jpg"), baseline=_photos(photos, "img10.jpg", "img5.jpg"))
    alone = build(str(photos / "img10.jpg"), baseline=str(photos / "img5.jpg"))
    assert pair.baseline == pytest.approx(alone.baseline, abs=1e-6)
    assert pair.describe()["baseline"] == alone.describe()["baseline"]
    assert [p.name for p in pair.weight_files()][1:] == ["img10.jpg", "img5.jpg"]


def test_two_people_in_the_target_and_a_stranger_as_baseline_are_warned_about(build, photos):
    mixed = build(_photos(photos, "img10.jpg", "img14.jpg"))  # master.csv: two people
    info = mixed.describe()
    assert info["target_max_pair_distance"] > SAME_PERSON_THRESHOLD
    assert info["target_spread"] == pytest.approx(mixed.target_spread) and info["target_spread"] > 0
    (warning,) = info["target_warnings"]
    assert "img10.jpg and" in warning and "img14.jpg are" in warning
    assert f"same-person threshold {SAME_PERSON_THRESHOLD}: probably two people" in warning
    stranger = build(str(photos / "img10.jpg"), baseline=str(photos / "img14.jpg"))
    assert stranger.baseline > SAME_PERSON_THRESHOLD
    (warning,) = stranger.describe()["target_warnings"]
    assert "baseline photo" in warning and "probably another person" in warning
    seed = build("seed:1")
    assert seed.describe()["target_spread"] is None and seed.describe()["baseline"] is None
    assert seed.describe()["baseline_photos"] == []
    assert seed.describe()["target_regions"] is None

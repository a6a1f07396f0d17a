"""The face-similarity problem on a stand-in face generator made of real photos.

No face generator ships yet (the face DCGAN is being trained), so these tests
use ``PhotoBlend``: a softmax blend of real aligned faces from faces-pairs,
placed on a grey canvas. Everything downstream (crop calibration with MTCNN,
FaceNet, targets) is the real thing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bench.problems.face import FaceSimilarity, seed_latent
from bench.problems.face_crop import CropBox, calibrate_crop
from bench.problems.face_measures import FacePCA
from bench.problems.face_targets import FaceInputError

from bench.generator import Generator

SIZE = 192


class PhotoBlend(Generator):
    """Images = softmax(4 z)-weighted blend of K real faces ``[K, 3, 160, 160]``."""

    def __init__(self, faces: torch.Tensor):
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = len(faces), SIZE, 3
        bank = torch.zeros(len(faces), 3, SIZE, SIZE)
        off = (SIZE - 160) // 2
        bank[:, :, off : off + 160, off : off + 160] = faces / 127.5 - 1.0
        self.register_buffer("bank", bank)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nk,kchw->nchw", torch.softmax(4.0 * z, dim=1), self.bank)


@pytest.fixture(scope="module")
def blend(faces_pairs):
    pair_set, faces, _ = faces_pairs
    names = [f.name for f in pair_set.files[:8]]
    return PhotoBlend(faces[:8]), names


@pytest.fixture(scope="module")
def problem(blend, facenet_cache):
    generator, _ = blend
    return FaceSimilarity(
        "seed:3", generator=generator, facenet=str(facenet_cache / "weights" / "facenet-casia.pt"),
        calibration_samples=24, measure_samples=24,
    )


def test_seed_target_has_a_perfect_solution(problem):
    z = seed_latent(3, problem.z_dim)[None]
    assert problem.evaluate(z)[0] < 1e-5
    rng = np.random.default_rng(0)
    batch = rng.standard_normal((6, problem.z_dim))
    fit = problem.evaluate(batch)
    assert fit.shape == (6,) and fit.dtype == np.float64
    assert np.all((fit > 0) & (fit <= 2))
    np.testing.assert_array_equal(fit, problem.evaluate(batch))  # deterministic
    with pytest.raises(ValueError, match=r"expected shape \[N, 8\]"):
        problem.evaluate(batch[:, :5])


def test_second_judge_rescores_with_dlib(problem):
    z = np.concatenate(
        [seed_latent(3, problem.z_dim)[None], np.random.default_rng(1).standard_normal((2, 8))]
    )
    dist, accepted = problem.second_judge(z)
    assert dist.shape == accepted.shape == (3,)
    assert dist[0] < 1e-6 and accepted[0]  # the target image itself
    assert np.all(dist[1:] > 0)


def test_report_gives_the_best_faces_figures(problem):
    z = np.concatenate(
        [np.random.default_rng(2).standard_normal((2, 8)), seed_latent(3, problem.z_dim)[None]]
    )
    report = problem.report(z)
    assert report["facenet_distance"] == problem.evaluate(z).min() < 1e-5  # the seed face won
    assert report["baseline_distance"] is None and report["beats_baseline"] is None  # none given
    assert report["dlib_distance"] < 1e-6 and report["dlib_accepted"] is True
    far = problem.report(z[:1])
    assert far["facenet_distance"] == problem.evaluate(z[:1])[0] > 1e-3
    assert far["dlib_distance"] > 0 and far["dlib_accepted"] == (far["dlib_distance"] < 0.6)
    emb = np.array(far["facenet_embedding"])
    assert emb.shape == (512,) and abs(np.linalg.norm(emb) - 1) < 1e-5
    target = problem.embed_genomes(problem.seed_genome(3))[0].numpy()
    assert abs(np.linalg.norm(emb - target) - far["facenet_distance"]) < 1e-5


def test_a_face_run_records_the_report(problem, monkeypatch):
    import bench.runner
    from bench.results import flat_row
    from bench.runner import execute
    from bench.spec import RunSpec

    monkeypatch.setattr(bench.runner, "build_problem", lambda spec: problem)
    result = execute(RunSpec("sphere", "random", budget=16, seed=1, algo_params={"batch": 8}))
    record = result.record
    assert record["status"] == "finished" and "report_error" not in record
    report = record["report"]
    assert report["facenet_distance"] == pytest.approx(record["best_fitness"], abs=1e-5)
    assert report["dlib_distance"] > 0 and isinstance(report["dlib_accepted"], bool)
    row = flat_row(record)
    assert row["report_facenet_distance"] == report["facenet_distance"]
    assert row["report_beats_baseline"] is None


def test_crop_box_is_calibrated_and_stable(problem):
    crop = problem.crop
    assert crop.detected >= 0.9 * crop.samples
    # the blended faces sit still on the canvas: the study's "under 4%" of the face side
    assert crop.face_side is not None and 100 < crop.face_side < 160
    assert crop.mean_iqr_fraction_of_face < 0.04
    x0, y0, x1, y1 = crop.box
    off = (SIZE - 160) // 2  # where the aligned faces sit on the canvas
    assert abs(x0 - off) < 12 and abs(x1 - (off + 160)) < 12
    assert abs(y0 - off) < 24 and abs(y1 - (off + 160)) < 24
    info = problem.describe()
    assert info["crop_box"] == list(crop.box) and info["target"] == "seed:3"
    assert info["crop_iqr"] == list(crop.iqr) and info["crop_face_side"] == crop.face_side
    # FaceNet, no calibration file (this generator's box is calibrated, not read), and
    # dlib's models once an earlier test of this module had them judge
    names = [p.name for p in problem.weight_files()]
    dlib = {"shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"}
    assert names[0] == "facenet-casia.pt" and set(names[1:]) <= dlib


def test_photo_target_and_baseline(blend, facenet_cache, data_dir):
    generator, names = blend
    photos = data_dir / "faces-pairs"
    problem = FaceSimilarity(
        f"{photos / 'img10.jpg'}", generator=generator,
        facenet=str(facenet_cache / "weights" / "facenet-casia.pt"), crop="16,16,176,176",
        baseline=f"{photos / 'img10.jpg'},{photos / 'img5.jpg'}",  # small photos: quick
    )
    onehot = np.full((1, len(names)), -5.0)
    onehot[0, names.index("img10.jpg")] = 5.0  # the generator's own copy of img10's face
    others = np.full((1, len(names)), -5.0)
    others[0, names.index("img1.jpg")] = 5.0  # master.csv: img1/img10 Yes
    same, other = problem.evaluate(np.concatenate([onehot, others]))
    assert same < 0.2 and same < other < 1.1
    # dlib judges the full-resolution photo against its 160-px copy: the same person for it
    _, accepted = problem.second_judge(onehot)
    assert accepted[0]
    assert problem.baseline is not None and 0.5 < problem.baseline < 1.1
    assert problem.describe()["baseline_distance"] == problem.baseline
    report = problem.report(np.concatenate([others, onehot]))  # the study's "deceives FaceNet"
    assert report["facenet_distance"] == pytest.approx(same, abs=1e-6)
    assert report["baseline_distance"] == problem.baseline and report["beats_baseline"] is True
    assert report["dlib_accepted"] is True and report["dlib_distance"] < 0.6
    assert problem.report(others)["beats_baseline"] == bool(other < problem.baseline)


def test_bad_targets_and_crops(blend, facenet_cache, tmp_path):
    generator, _ = blend
    weights = str(facenet_cache / "weights" / "facenet-casia.pt")
    with pytest.raises(ValueError, match="target seed must be an integer"):
        FaceSimilarity("seed:x", generator=generator, facenet=weights, crop="0,0,192,192")
    with pytest.raises(FaceInputError, match="no such file"):
        FaceSimilarity(str(tmp_path / "nobody.jpg"), generator=generator, facenet=weights,
                       crop="0,0,192,192")
    with pytest.raises(ValueError, match="crop must be"):
        FaceSimilarity("seed:0", generator=generator, facenet=weights, crop="0,0,10")
    with pytest.raises(ValueError, match="does not fit"):
        FaceSimilarity("seed:0", generator=generator, facenet=weights, crop="0,0,10,999")


class Noise(Generator):
    """A generator of smooth random colour fields: no faces."""

    z_dim, img_resolution, img_channels = 4, 64, 3

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        base = torch.tanh(z[:, :3, None, None]).expand(-1, 3, 64, 64)
        ramp = torch.linspace(-0.3, 0.3, 64).expand(64, 64)
        return (base + ramp * z[:, 3:4, None, None]).clamp(-1, 1)


def test_calibration_of_a_non_face_generator_fails_clearly(face_aligner):
    with pytest.raises(ValueError, match="no face in 6 samples"):
        calibrate_crop(Noise(), samples=6, aligner=face_aligner)


class FakeAligner:
    """Returns the next of ``boxes`` for each image, as ``FaceAligner.detect`` would."""

    def __init__(self, boxes: list[list[float]]):
        self.boxes = iter(boxes)

    def detect(self, photo) -> tuple[np.ndarray, np.ndarray]:
        return np.array([next(self.boxes)], dtype=np.float32), np.array([0.99])


def test_crop_iqr_is_measured_on_the_raw_boxes_past_the_image_edge():
    """Boxes that run past a 64-px image's top: clipping after the margin pinned y0 and y1 to
    the edges and reported their IQR as 0 (mean 3.2% of the image, "under 4%")."""
    x0, y0 = [-10, -5, 0, 5, 10], [-20, -16, -12, -8, -4]  # quartiles at the 2nd and 4th
    boxes = [[a, b, a + 60, b + 80] for a, b in zip(x0, y0, strict=True)]  # 60 x 80 faces
    crop = calibrate_crop(Noise(), samples=5, aligner=FakeAligner(boxes))
    assert crop.iqr == (10.0, 8.0, 10.0, 8.0) and crop.detected == 5
    assert crop.face_side == 70.0  # mean of width 60 and height 80
    assert crop.mean_iqr_fraction == pytest.approx(9 / 64)
    assert crop.mean_iqr_fraction_of_face == pytest.approx(9 / 70)
    assert crop.box == (2, 0, 60, 64)  # still the mean of the margin-added, clipped boxes


def test_crop_box_round_trips(problem, tmp_path):
    path = tmp_path / "crops" / "g.json"
    problem.crop.save(path)
    assert CropBox.load(path) == problem.crop


def test_a_crop_file_from_before_face_side_loads_with_it_unknown(tmp_path):
    path = tmp_path / "old-crop.json"
    path.write_text(
        '{"box": [1, 0, 61, 64], "iqr": [1.4, 0.0, 4.7, 0.0], "detected": 994, '
        '"samples": 1000, "resolution": 64, "seed": 0}'
    )
    crop = CropBox.load(path)
    assert crop.box == (1, 0, 61, 64) and crop.face_side is None
    assert crop.mean_iqr_fraction_of_face is None
    assert crop.mean_iqr_fraction == pytest.approx(6.1 / 4 / 64)


def test_cli_calibrate_crop_rejects_unknown_generator(bench_here):
    res = bench_here("calibrate-crop", "no-such-generator", "--samples", "5")
    assert res.returncode == 2 and "Valid:" in res.stderr


def test_cli_calibrate_crop_prints_the_iqr_of_image_and_face(bench_cmd, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path))  # not this machine's cache
    res = bench_cmd("calibrate-crop", "dcgan-faces", "--samples", "4")
    assert res.returncode == 0, res.stderr
    lines = {line[:10].strip(): line[11:] for line in res.stdout.splitlines()}
    assert "px of the raw MTCNN boxes (no margin, not clipped)" in lines["iqr"]
    assert "% of the image, " in lines[""] and lines[""].endswith("% of the face")
    assert lines["face side"].endswith("px (mean of the raw boxes' width and height)")
    stored = CropBox.load(tmp_path / "crops" / Path(lines["stored"]).name)
    assert stored.face_side is not None and f"{stored.face_side:.1f} px" in lines["face side"]


def test_measures_are_the_main_facenet_axes(problem):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((12, problem.z_dim))
    fit, meas = problem.evaluate_with_measures(z)
    np.testing.assert_allclose(fit, problem.evaluate(z), atol=1e-6)
    assert meas.shape == (12, 2) and np.all(np.isfinite(meas))
    np.testing.assert_allclose(meas, problem.measures(z), atol=1e-9)
    pca = problem.pca
    assert pca.samples == 24 and pca.explained[0] >= pca.explained[1] > 0
    assert sum(pca.explained) <= 1 + 1e-9
    # on the fitted samples the axes are centred and have unit spread (in std units)
    emb = problem.embed_genomes(np.random.default_rng(0).standard_normal((24, problem.z_dim)))
    proj = pca.project(emb.double()).numpy()
    np.testing.assert_allclose(proj.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(proj.std(0, ddof=1), 1, rtol=1e-6)
    space = problem.search_space.measure_space
    assert space.ranges == ((-3.0, 3.0), (-3.0, 3.0)) and space.bins == (50, 50)


def test_face_pca_fit_is_sign_stable_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((200, 6)) * [5, 2, 1, 1, 1, 1] + 3
    a = FacePCA.fit(emb, seed=0)
    b = FacePCA.fit(emb * [1, 1, 1, 1, 1, 1], seed=0)
    assert a == b and abs(abs(a.axes[0][0]) - 1) < 0.05 and abs(abs(a.axes[1][1]) - 1) < 0.1
    assert a.std[0] == pytest.approx(5, rel=0.15) and a.std[1] == pytest.approx(2, rel=0.15)
    a.save(tmp_path / "pca.json")
    assert FacePCA.load(tmp_path / "pca.json") == a
    with pytest.raises(ValueError, match="need embeddings"):
        FacePCA.fit(emb[:2], seed=0)


def test_bf16_is_opt_in_and_its_fitness_deviation_is_recorded(blend, facenet_cache):
    generator, _ = blend
    kw = dict(generator=generator, facenet=str(facenet_cache / "weights" / "facenet-casia.pt"),
              crop="16,16,176,176", chunk=4)
    exact = FaceSimilarity("seed:3", **kw)
    fast = FaceSimilarity("seed:3", precision="bf16", **kw)
    assert exact.describe()["precision_max_fitness_deviation"] is None
    dev = fast.describe()["precision_max_fitness_deviation"]
    assert fast.describe()["precision"] == "bf16" and 0 < dev < 0.1
    z = np.random.default_rng(3).standard_normal((5, 8))
    diff = np.abs(fast.evaluate(z) - exact.evaluate(z))
    assert diff.max() > 0 and diff.max() < 0.1
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        FaceSimilarity("seed:3", precision="fp16", **kw)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        FaceSimilarity("seed:3", precision="fp8", **kw)


def test_calibrations_are_written_for_a_generator_and_found_beside_its_weights(
    blend, tmp_path, monkeypatch
):
    import bench.generators.zoo
    from bench.problems.face_calibration import face_problem_card
    from bench.problems.face_crop import calibration_path

    generator, _ = blend
    card = face_problem_card("blend", generator, tmp_path / "w", samples=12)
    assert card["crop_faces_detected"] == "12/12" and card["crop_mean_iqr_fraction_of_face"] < 0.04
    assert card["crop_mean_iqr_fraction"] == pytest.approx(
        np.mean(card["crop_iqr_px"]) / SIZE
    ) and card["crop_iqr_of"].startswith("raw MTCNN boxes")
    assert card["crop_mean_iqr_fraction_of_face"] == pytest.approx(
        np.mean(card["crop_iqr_px"]) / card["crop_face_side_px"]
    )
    assert card["files"] == ["blend-crop.json", card["files"][1]]
    assert card["files"][1].startswith("blend-facenet-") and card["measure_axes_samples"] == 12
    assert CropBox.load(tmp_path / "w" / "blend-crop.json").box == tuple(card["crop_box"])
    assert FacePCA.load(tmp_path / "w" / card["files"][1]).explained == tuple(
        card["measure_axes_explained_variance"]
    )
    # shipped files are found beside the weights; this machine's own calibration wins
    monkeypatch.setattr(bench.generators.zoo, "WEIGHTS_DIR", tmp_path / "w")
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    assert calibration_path("blend-crop.json", "crops") == tmp_path / "w" / "blend-crop.json"
    (tmp_path / "cache" / "crops").mkdir(parents=True)
    (tmp_path / "cache" / "crops" / "blend-crop.json").write_text("{}")
    assert calibration_path("blend-crop.json", "crops") == tmp_path / "cache/crops/blend-crop.json"
    noise = face_problem_card("noise", Noise(), tmp_path / "n", samples=6)
    assert "no face in 6 samples" in noise["unavailable"]

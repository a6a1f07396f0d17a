"""The default problem end to end on the shipped face generator: `bench run --problem face`.

Everything is real: the shipped face DCGAN with its shipped crop box and
measure axes, FaceNet's imported CASIA-WebFace weights, dlib as second judge,
and photo targets from faces-pairs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench.generators.zoo import WEIGHTS_DIR, model_card
from bench.problems.face import FaceSimilarity

from bench.registry import registry


@pytest.fixture(scope="module")
def face(facenet_cache) -> FaceSimilarity:
    """The default problem with this session's FaceNet import and no calibration of this machine.

    The cache is the session's own: a crop box or axes in this machine's cache (from
    `bench calibrate-crop`, or a FaceNet imported by another version) would replace the
    shipped ones.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_BENCH_CACHE", str(facenet_cache))
        yield registry("problems").load("face")()


def test_default_generator_ships_with_its_calibrations(face, tmp_path_factory):
    assert face.generator_name == "dcgan-faces" and face.describe()["space"] == "z"
    card = model_card("dcgan-faces")["face_problem"]
    assert list(face.crop.box) == card["crop_box"]  # the shipped box, not a new calibration
    # records carry the crop's quality from the file, as the card quotes it
    assert face.describe()["crop_iqr"] == card["crop_iqr_px"]
    assert face.describe()["crop_face_side"] == card["crop_face_side_px"]
    # the axes' file is named after the imported FaceNet's sha256: an import that writes
    # other bytes (a torch archive named after a temporary file did) never finds it
    assert face.pca_filename in card["files"], (face.pca_filename, card["files"])
    assert face.pca.explained == tuple(card["measure_axes_explained_variance"])
    assert all((WEIGHTS_DIR / f).is_file() for f in card["files"])


def test_a_hand_given_crop_has_measure_axes_of_its_own(face):
    """Axes fitted on the calibrated box were read for any crop=, and a refit was cached under
    the calibrated box's name, where every later default problem read it."""
    shipped = face.pca
    manual = registry("problems").load("face")(crop="16,20,48,56", measure_samples=24)
    assert "-crop-16-20-48-56-pca.json" in manual.pca_filename
    assert manual.pca.samples == 24 != shipped.samples  # fitted on its own faces
    assert registry("problems").load("face")().pca == shipped


def test_seed_target_is_found_exactly_and_random_faces_are_far(face):
    best = face.seed_genome(0)
    assert face.evaluate(best)[0] < 1e-4
    rand = np.random.default_rng(0).standard_normal((32, face.dim))
    fit, meas = face.evaluate_with_measures(rand)
    assert np.all(fit > 0.2) and np.all(np.isfinite(meas))
    # the measure axes spread random faces: most fall inside the archive's range
    inside = np.all(np.abs(meas) <= 3, axis=1).mean()
    assert inside >= 0.9 and meas.std(0).min() > 0.3


def test_cli_run_on_a_photo_target(bench_cmd, data_dir, tmp_path):
    photos = data_dir / "faces-pairs"
    res = bench_cmd(
        "run", "--problem", "face", "--algo", "ga", "--budget", "60", "--seed", "1",
        "--set", "population=20", "--set", f"target={photos / 'img20.jpg'}",
        "--set", f"baseline={photos / 'img20.jpg'},{photos / 'img21.jpg'}",
        "--out", str(tmp_path),
    )
    assert res.returncode == 0, res.stderr
    (run,) = tmp_path.iterdir()
    record = json.loads((run / "record.json").read_text())
    assert record["status"] == "finished" and record["evaluations"] == 60
    report = record["report"]
    assert report["facenet_distance"] == pytest.approx(record["best_fitness"], abs=1e-5)
    assert 0 < report["baseline_distance"] < 1.2 and isinstance(report["beats_baseline"], bool)
    assert report["dlib_distance"] > 0 and len(report["facenet_embedding"]) == 512
    hashed = {Path(p).name for p in record["provenance"]["weights"]}  # dlib's models too
    assert "dlib_face_recognition_resnet_model_v1.dat" in hashed
    assert "shape_predictor_5_face_landmarks.dat" in hashed
    # and the calibrations the fitness and measures used (shipped, or this machine's own)
    assert {name.split("-")[-1] for name in hashed} >= {"crop.json", "pca.json"}
    assert {"img20.jpg", "img21.jpg"} <= hashed  # the target and baseline photos
    assert record["archive"]["coverage"] > 0  # the passive archive saw the face measures
    assert (run / "best.png").is_file()


def test_the_default_is_the_best_shipped_face_generator():
    """Issue #6: a face generator that ships with better figures becomes the default."""
    cards = {}
    for path in WEIGHTS_DIR.glob("*.json"):
        if path.with_suffix(".pt").is_file():
            card = json.loads(path.read_text())
            if "facenet_frechet" in card.get("quality", {}):
                cards[path.stem] = card["quality"]
    assert "dcgan-faces" in cards
    best = min(cards, key=lambda n: cards[n]["facenet_frechet"]["distance"])
    assert FaceSimilarity.default_generator == best
    assert cards[best]["face_rate"] >= 0.9  # MTCNN finds a face in 9 of 10 samples


def test_a_box_calibrated_here_gets_measure_axes_of_its_own(face, facenet_cache):
    """After bench calibrate-crop, runs cut faces with the new box but read the shipped axes,
    which were fitted on the shipped box."""
    import shutil

    from bench.problems.face_crop import generator_id

    gen_id = generator_id("dcgan-faces", face.generator)
    shipped = WEIGHTS_DIR / f"{gen_id}-crop.json"
    crops = facenet_cache / "crops"
    crops.mkdir(exist_ok=True)
    try:
        shutil.copyfile(shipped, crops / shipped.name)  # the same box, calibrated here
        same = registry("problems").load("face")(measure_samples=24)
        assert same.pca_filename == face.pca_filename  # the shipped axes fit it
        other = json.loads(shipped.read_text())
        other["box"] = [2, 0, 62, 64]
        (crops / shipped.name).write_text(json.dumps(other))
        moved = registry("problems").load("face")(measure_samples=24)
        assert moved.crop.box == (2, 0, 62, 64)
        assert moved.pca_filename.endswith("-crop-2-0-62-64-pca.json")
        assert moved.pca.samples == 24  # fitted on faces cut with that box
    finally:
        (crops / shipped.name).unlink(missing_ok=True)


def test_shipped_crop_files_hold_the_calibration_their_model_cards_quote():
    """A run's record carries the crop's quality (raw-box IQR, face side) from the file it
    read, so the file must be the calibration the card and the README quote."""
    from bench.problems.face_crop import CropBox

    checked = 0
    for path in WEIGHTS_DIR.glob("*.json"):
        card = json.loads(path.read_text()).get("face_problem")
        if not isinstance(card, dict) or "crop_box" not in card:
            continue
        crop_name = next(f for f in card["files"] if f.endswith("-crop.json"))
        crop = CropBox.load(WEIGHTS_DIR / crop_name)
        assert list(crop.box) == card["crop_box"]
        assert list(crop.iqr) == card["crop_iqr_px"]
        assert crop.face_side == card["crop_face_side_px"]
        assert f"{crop.detected}/{crop.samples}" == card["crop_faces_detected"]
        checked += 1
    assert checked  # dcgan-faces at least

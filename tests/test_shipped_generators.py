"""The shipped generator weights match their model cards, re-measured here."""

import json

import numpy as np
import pytest
import torch
from bench.generators.quality import (
    DigitClassifier,
    accuracy,
    digit_quality,
    face_detection_rate,
    frechet_distance,
)
from bench.generators.zoo import DATASETS, WEIGHTS_DIR, load_dcgan, sha256_file

from bench.problem import MissingWeightsError
from bench.registry import registry
from bench.testing import check_generator

# Model cards sit beside their weights (NAME.json, NAME.pt); calibration files
# (crop boxes, measure axes) are JSON too but have no weights of their own.
SHIPPED = sorted(p.stem for p in WEIGHTS_DIR.glob("*.json") if p.with_suffix(".pt").is_file())


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20_000, 4))
    b = rng.normal(loc=1.0, scale=2.0, size=(20_000, 4))
    # |m|² + F(1 + s² − 2s) = 4 + 4·1 = 8
    assert frechet_distance(a, b) == pytest.approx(8.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_every_shipped_generator_is_registered_with_a_card():
    assert "dcgan-mnist" in SHIPPED, "dcgan-mnist must ship (generators/weights/)"
    for name in SHIPPED:
        if name.endswith("-classifier"):
            continue
        assert name in registry("generators"), f"{name} ships weights but is not registered"


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(MissingWeightsError, match="bench train-generator dcgan-faces"):
        load_dcgan("dcgan-faces", weights=tmp_path / "none.pt")


@pytest.mark.parametrize("name", SHIPPED)
def test_card_matches_weights(name):
    card = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    assert sha256_file(WEIGHTS_DIR / card["weights"]["file"]) == card["weights"]["sha256"]
    assert (WEIGHTS_DIR / f"{name}.png").is_file()
    g = registry("generators").load(name)()
    assert g.weight_path and not g.training
    check_generator(g)
    for key in ("data", "training", "quality", "deviations_from_paper"):
        assert card[key], f"card of {name} lacks {key}"


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in SHIPPED if DATASETS[n] != "utkface"])
def test_digit_quality_figures_reproduce(name, data_dir):
    from bench.datasets import load_digits_like

    card = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    q = card["quality"]
    data = load_digits_like(DATASETS[name], data_dir)
    clf = DigitClassifier()
    clf.load_state_dict(torch.load(WEIGHTS_DIR / q["classifier"]["file"], weights_only=True))
    clf.eval()
    acc = accuracy(clf, data.heldout, data.heldout_labels)
    assert acc == pytest.approx(q["classifier"]["heldout_accuracy"], abs=0.002)
    assert acc >= 0.9
    g = registry("generators").load(name)()
    now = digit_quality(g, clf, data.heldout, n=q["samples"], seed=q["seed"])
    assert min(now["class_histogram"]) > 0, "every class must appear"
    assert now["normalised_entropy"] >= 0.9
    assert now["normalised_entropy"] == pytest.approx(q["normalised_entropy"], abs=0.005)
    assert now["mean_confidence"] == pytest.approx(q["mean_confidence"], abs=0.005)
    assert now["frechet_distance"] == pytest.approx(q["frechet_distance"], rel=0.02)
    # A generator worth shipping is far closer to real data than an untrained one.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        from bench.generators.dcgan import DCGANGenerator

        untrained = DCGANGenerator(28, 1).eval()
    bad = digit_quality(untrained, clf, data.heldout, n=2000, seed=0)
    assert now["frechet_distance"] < 0.5 * bad["frechet_distance"]


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in SHIPPED if DATASETS[n] == "utkface"])
def test_face_detection_rate_reproduces(name):
    q = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["quality"]
    g = registry("generators").load(name)()
    now = face_detection_rate(g, n=q["samples"], seed=q["seed"], threshold=q["threshold"])
    assert now["face_rate"] == pytest.approx(q["face_rate"], abs=0.02)


def test_weights_of_another_kind_are_refused(tmp_path):
    """64-px face weights given to dcgan-mnist ran faces under the MNIST name."""
    from bench.generators.dcgan import DCGANGenerator
    from bench.generators.zoo import shipped_path

    from bench.problem import UnreadableWeightsError

    with pytest.raises(UnreadableWeightsError, match="use --set generator=dcgan-faces"):
        load_dcgan("dcgan-mnist", shipped_path("dcgan-faces"))
    same_kind = load_dcgan("dcgan-mnist", shipped_path("dcgan-fashion"))  # 28×28 grey, z 100
    assert same_kind.img_resolution == 28
    # a face DCGAN trained at another resolution is still dcgan-faces (--resolution)
    blob = torch.load(shipped_path("dcgan-faces"), weights_only=True)
    G = DCGANGenerator(32, 3, 100)
    torch.save({**blob, "arch": {**blob["arch"], "img_resolution": 32},
                "state_dict": G.state_dict()}, tmp_path / "faces32.pt")
    assert load_dcgan("dcgan-faces", tmp_path / "faces32.pt").img_resolution == 32

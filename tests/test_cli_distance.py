"""`bench distance`: the FaceNet distance between two photos, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from bench.problems.face_targets import photo_distance


@pytest.fixture
def cached_weights(facenet_cache, monkeypatch):
    """Point the bench command at the session's imported weights."""
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(facenet_cache))


def test_distance_matches_the_library(bench_here, data_dir, cached_weights, facenet, face_aligner):
    a, b = data_dir / "faces-pairs" / "img5.jpg", data_dir / "faces-pairs" / "img10.jpg"
    res = bench_here("distance", str(a), str(b))
    assert res.returncode == 0, res.stderr
    lines = {x.split()[0]: x for x in res.stdout.splitlines()}
    expected, _ = photo_distance(a, b, facenet, face_aligner)
    assert np.isclose(float(lines["facenet"].split()[1]), expected, atol=1e-4)
    assert "same person for FaceNet: yes, below 1.13" in lines["facenet"]
    named = bench_here("distance", str(a), str(b), "--weights", "casia-webface")  # the alias's name
    assert "same person for FaceNet: yes, below 1.13" in named.stdout, named.stderr
    # the second judge (dlib) agrees that img5 and img10 show one person
    assert float(lines["dlib"].split()[1]) < 0.6 and "for dlib: yes" in lines["dlib"]


def test_bad_input_exits_2_with_one_line(bench_here, data_dir, tmp_path, cached_weights):
    (tmp_path / "bad.jpg").write_text("not a photo")
    good = data_dir / "faces-pairs" / "img5.jpg"
    res = bench_here("distance", str(good), str(tmp_path / "bad.jpg"))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "bad.jpg: not an image" in res.stderr and "Traceback" not in res.stderr


def _photo(path):
    """A small readable photo (no face needed: the checks below come first)."""
    from PIL import Image

    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(path)
    return str(path)


def test_a_folder_or_another_network_is_a_one_line_error(tmp_path, capsys):
    import torch

    from bench.cli import main

    photo = _photo(tmp_path / "a.jpg")
    assert main(["distance", photo, str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"bench: error: {tmp_path} is a folder; give a photo file\n"
    other = tmp_path / "other.pt"
    torch.save({"x": torch.zeros(1)}, other)
    assert main(["distance", photo, _photo(tmp_path / "b.jpg"), "--weights", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 400, err
    assert "not an InceptionResnetV1 state dict: 714 of its 714 keys missing" in err

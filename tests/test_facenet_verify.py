"""Proof of the FaceNet weights: verification on the faces-pairs set, and that it can fail."""

from __future__ import annotations

import shutil

import pytest
from bench.problems.face_targets import embed_faces
from bench.problems.facenet_verify import verify
from bench.problems.facenet_weights import load_facenet

MIN_ACCURACY = 0.99


def test_casia_weights_verify_faces_pairs(facenet, faces_pairs):
    pair_set, faces, _ = faces_pairs
    v = verify(embed_faces(facenet, faces), pair_set)
    assert (v.pairs, v.same_pairs) == (300, 38)
    assert v.accuracy >= MIN_ACCURACY
    assert 0.55 < v.mean_same < 0.85
    assert 1.25 < v.mean_different < 1.55


def _swap(state: dict, a: str, b: str) -> dict:
    """Exchange every tensor of module ``a`` with its counterpart in sibling module ``b``."""
    out = dict(state)
    for key in state:
        if key.startswith(a + "."):
            other = b + key[len(a) :]
            out[key], out[other] = state[other], state[key]
    return out


def test_a_wrong_mapping_fails_the_check(facenet_cache, faces_pairs):
    """A mapping rule that swaps Branch_1 and Branch_2 of every block35 is caught.

    (A swap in a single block is not: the residual network absorbs it and the
    pairs stay separated; the exact comparison with the original graph in
    test_facenet_import catches that one.)
    """
    pair_set, faces, _ = faces_pairs
    model = load_facenet(facenet_cache / "weights" / "facenet-casia.pt")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for i in range(5):
        state = _swap(state, f"repeat_1.{i}.branch1.0", f"repeat_1.{i}.branch2.0")
    model.load_state_dict(state)
    v = verify(embed_faces(model, faces), pair_set)
    assert v.accuracy < MIN_ACCURACY


@pytest.fixture
def small_pairs(data_dir, tmp_path):
    """A copy of three faces-pairs photos with three labelled pairs."""
    src = data_dir / "faces-pairs"
    for name in ("img5.jpg", "img10.jpg", "img12.jpg"):  # small photos: quick to detect
        shutil.copy(src / name, tmp_path / name)
    (tmp_path / "master.csv").write_text(
        "file_x,file_y,Decision\nimg5.jpg,img10.jpg,Yes\nimg5.jpg,img12.jpg,No\n"
        "img10.jpg,img12.jpg,No\n"
    )
    return tmp_path


def test_cli_verify_prints_the_figures(bench_cmd, small_pairs, facenet_cache, monkeypatch):
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(facenet_cache))
    res = bench_cmd("weights", "verify", "facenet-casia", "--data-dir", str(small_pairs))
    assert res.returncode == 0, res.stderr
    assert "pairs      3" in res.stdout
    assert "accuracy   1.0000" in res.stdout
    assert "same       mean" in res.stdout and "different  mean" in res.stdout


def test_cli_verify_without_pairs_file_is_a_usage_error(bench_here, tmp_path, facenet_cache,
                                                        monkeypatch):
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(facenet_cache))
    res = bench_here("weights", "verify", "facenet-casia", "--data-dir", str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "master.csv" in res.stderr


def test_a_decision_other_than_yes_or_no_is_refused(tmp_path, capsys):
    from bench.problems.facenet_verify import read_pairs

    from bench.cli import main

    (tmp_path / "master.csv").write_text(
        "file_x,file_y,Decision\na.jpg,b.jpg, yes \na.jpg,c.jpg,NO\nb.jpg,c.jpg,Maybe\n"
    )
    with pytest.raises(ValueError, match="line 4: Decision must be Yes or No, got 'Maybe'"):
        read_pairs(tmp_path)
    (tmp_path / "master.csv").write_text("file_x,file_y,Decision\na.jpg,b.jpg, yes \nc.jpg,,No\n")
    with pytest.raises(ValueError, match="line 3: file_x and file_y must both name a photo"):
        read_pairs(tmp_path)
    (tmp_path / "master.csv").write_text("file_x,file_y,Decision\na,b,Yes\nb,c,no\n")
    assert read_pairs(tmp_path).same.tolist() == [True, False]
    (tmp_path / "master.csv").write_text("file_x,file_y,Decision\na.jpg,b.jpg,Maybe\n")
    assert main(["weights", "verify", "facenet-casia", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Decision must be Yes or No, got 'Maybe'" in err


def test_cli_verify_says_when_a_class_has_no_pairs(small_pairs, facenet_cache, monkeypatch,
                                                   capsys):
    from bench.cli import main

    monkeypatch.setenv("LATENT_BENCH_CACHE", str(facenet_cache))
    (small_pairs / "master.csv").write_text("file_x,file_y,Decision\nimg5.jpg,img12.jpg,No\n")
    assert main(["weights", "verify", "facenet-casia", "--data-dir", str(small_pairs)]) == 0
    out = capsys.readouterr().out
    assert "same       none: master.csv has no same-person pair" in out
    assert "different  mean" in out and "nan" not in out

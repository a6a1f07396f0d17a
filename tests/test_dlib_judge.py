"""The second judge: dlib's descriptors separate the faces-pairs set at dlib's own threshold."""

from __future__ import annotations

import numpy as np
import pytest
from bench.problems.dlib_judge import THRESHOLD, DlibJudge, dlib_distance
from bench.problems.face_targets import load_photo
from bench.problems.facenet_verify import verify


@pytest.fixture(scope="module")
def judge():
    return DlibJudge()


def test_dlib_separates_faces_pairs_at_its_threshold(judge, faces_pairs):
    pair_set, _, boxes = faces_pairs
    pairs = zip(pair_set.files, boxes, strict=True)
    emb = np.stack([judge.embed(np.asarray(load_photo(f)), b) for f, b in pairs])
    assert emb.shape == (len(pair_set.files), 128)
    v = verify(emb, pair_set)
    assert v.accuracy >= 0.99
    d = np.linalg.norm(emb[pair_set.pairs[:, 0]] - emb[pair_set.pairs[:, 1]], axis=1)
    assert np.mean((d < THRESHOLD) == pair_set.same) >= 0.99
    assert dlib_distance(emb[0], emb[0]) == (0.0, True)


def test_bad_image_is_rejected(judge):
    with pytest.raises(ValueError, match="uint8"):
        judge.embed(np.zeros((10, 10), np.float32), (0, 0, 5, 5))

"""The leaderboard's face pages from hand-made records with known answers.

Diversity of solutions (pairwise distances between best-face embeddings, table and
heatmap), the face columns (baseline, share beating it, second judge), and the
target pictured beside the best faces (or why it cannot be).
"""

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bench.problems.face import seed_latent
from leaderboard_face_campaign import (
    BASELINE,
    MISSING_WEIGHTS,
    PHOTO_REGION,
    SEED_DISTANCES,
    facenet_distance,
    make_face_campaign,
    sideways_photo,
)
from PIL import Image
from test_leaderboard import parse

from bench.generator import to_uint8
from bench.leaderboard import build_leaderboard
from bench.leaderboard.diversity import ALL_ALGOS, embedding_of, pairwise_distances
from bench.leaderboard.target_images import (
    TargetUnavailable,
    photo_crop,
    photo_target,
    seed_target,
    target_images,
)
from bench.registry import registry


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    campaign = make_face_campaign(tmp_path_factory.mktemp("faces") / "c")
    return build_leaderboard(campaign, tmp_path_factory.mktemp("board") / "lb")


def summary(distances):
    d = np.asarray(distances)
    std = d.std(ddof=1) if len(d) > 1 else math.nan
    return [len(d), d.min(), d.max(), d.mean(), std]


STATS = ["pairs", "min_dist", "max_dist", "mean_dist", "std_dist"]


def test_pairwise_distances_of_known_vectors():
    e = np.eye(3)
    dist = pairwise_distances(np.stack([e[0], e[1], -e[0]]))
    expected = [[0, math.sqrt(2), 2], [math.sqrt(2), 0, math.sqrt(2)], [2, math.sqrt(2), 0]]
    np.testing.assert_allclose(dist, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ({"status": "finished"}, "the record has no report"),
        ({"report": {"facenet_distance": 0.4}}, "the report has no 'facenet_embedding'"),
        ({"report": {"facenet_embedding": ["a", "b"]}}, "not a list of numbers"),
        ({"report": {"facenet_embedding": [0.1, float("nan")]}}, "not a finite vector"),
        ({"report": {"facenet_embedding": []}}, "not a finite vector"),
    ],
)
def test_records_without_a_usable_embedding_say_why(record, why):
    emb, reason = embedding_of(record)
    assert emb is None and why in reason


def test_diversity_table_has_the_known_distances(board):
    table = board.diversity["face-seed"].table.set_index("algo")
    counts = ["planned", "finished", "embedded", "skipped"]
    assert table.loc["ga", counts].tolist() == [3, 3, 3, 0]
    assert table.loc["random", counts].tolist() == [3, 3, 2, 1]  # seed 2: no embedding
    assert table.loc["cma-me", counts].tolist() == [3, 1, 1, 0]  # seed 0 failed, 2 pending
    assert table.loc[ALL_ALGOS, counts].tolist() == [9, 7, 6, 1]
    np.testing.assert_allclose(table.loc["ga", STATS], summary(SEED_DISTANCES["ga"]), atol=1e-6)
    np.testing.assert_allclose(
        table.loc["random", STATS], summary(SEED_DISTANCES["random"]), atol=1e-6
    )
    np.testing.assert_allclose(
        table.loc[ALL_ALGOS, STATS], summary(SEED_DISTANCES["all"]), atol=1e-6
    )
    assert table.loc["cma-me", "pairs"] == 0 and table.loc["cma-me", STATS[1:]].isna().all()
    assert set(table["target"]) == {"seed:3"}


def test_runs_without_an_embedding_are_counted_and_named(board):
    div = board.diversity["face-seed"]
    line = "random, seed 2: the record has no report: RuntimeError: FaceNet crashed"
    assert div.skipped == [line]
    md = (board.out / "README.md").read_text()
    assert "1 finished run has no usable embedding" in md and f"- {line}" in md
    page = "".join(parse(board.out / "problem-face-seed.html").text)
    assert "random, seed 2: the record has no report" in page


def test_heatmap_matrix_is_ordered_by_algorithm_then_seed(board):
    div = board.diversity["face-seed"]
    labels = ["ga s0", "ga s1", "ga s2", "random s0", "random s1", "cma-me s1"]
    assert div.labels == labels
    assert div.algos == ["ga", "ga", "ga", "random", "random", "cma-me"]
    dist = div.distances
    assert dist.shape == (6, 6)
    np.testing.assert_allclose(np.diag(dist), 0, atol=1e-12)
    np.testing.assert_allclose(dist, dist.T)
    assert dist[0, 2] == pytest.approx(2.0, abs=1e-6)  # ga at 0° and 180°
    assert dist[1, 5] == pytest.approx(2 * math.sin(math.radians(15)), abs=1e-6)  # 60° vs 90°
    upper = dist[np.triu_indices(6, k=1)]
    np.testing.assert_allclose(np.sort(upper), np.sort(SEED_DISTANCES["all"]), atol=1e-6)
    matrix = pd.read_csv(board.out / "tables" / "diversity-matrix-face-seed.csv", index_col=0)
    assert list(matrix.index) == labels and list(matrix.columns) == labels
    np.testing.assert_allclose(matrix.to_numpy(), dist, atol=1e-9)


def test_diversity_csv_figure_and_pages(board):
    csv = pd.read_csv(board.out / "tables" / "diversity-face-seed.csv").set_index("algo")
    np.testing.assert_allclose(csv.loc["ga", STATS], summary(SEED_DISTANCES["ga"]), atol=1e-6)
    path = board.out / board.figures["diversity-face-seed"]
    assert path == board.out / "figures" / "diversity-face-seed.png"
    with Image.open(path) as im:
        assert im.size[0] > 300 and im.size[1] > 300
    html = board.out / "problem-face-seed.html"
    page = parse(html)
    assert "figures/diversity-face-seed.png" in page.links
    assert "tables/diversity-face-seed.csv" in page.links
    assert page.tables == 2  # the algorithms and the diversity table
    text = "".join(page.text)
    ga = SEED_DISTANCES["ga"]
    assert f"{np.mean(ga):.4g} ± {np.std(ga, ddof=1):.4g}" in text  # mean ± std, as shown
    md = (board.out / "README.md").read_text()
    assert "![Diversity of solutions: face-seed](figures/diversity-face-seed.png)" in md
    assert "| ga | seed:3 | 3 | 3 | 3 | 0 | 3 | 1 | 2 | 1.577 ± 0.5176 |" in md


def test_every_link_of_the_face_pages_resolves(board):
    for name in ("problem-face-seed.html", "problem-face-photo.html", "problem-face-gone.html"):
        for link in parse(board.out / name).links:
            assert (board.out / link).is_file(), f"{name}: broken link {link}"
    for link in re.findall(r"\]\(([^)]+)\)", (board.out / "README.md").read_text()):
        assert (board.out / link).exists(), f"README.md: broken link {link}"


def test_face_columns_come_from_the_report(board):
    photo = next(r for r in board.problems if r.problem == "face-photo")
    table = photo.table.set_index("algo")
    assert {"baseline", "beats_baseline", "dlib_distance", "dlib_accepted"} <= set(table.columns)
    assert not {"report_baseline_distance", "report_beats_baseline"} & set(table.columns)
    assert (table["baseline"] == BASELINE).all()
    ga = [facenet_distance("face-photo", "ga", s) for s in (0, 1, 2)]
    random = [facenet_distance("face-photo", "random", s) for s in (0, 1)]  # seed 2: no report
    assert table.loc["ga", "beats_baseline"] == pytest.approx(np.mean([d < BASELINE for d in ga]))
    assert table.loc["random", "beats_baseline"] == pytest.approx(
        np.mean([d < BASELINE for d in random])
    )
    dlib = [0.5, 0.55, 0.6]  # seeds 0, 1, 2
    assert table.loc["ga", "dlib_distance"] == pytest.approx(np.median(dlib))
    assert table.loc["ga", "dlib_accepted"] == pytest.approx(2 / 3)  # 0.6 is not below 0.6
    legend = (board.out / "README.md").read_text()
    assert "closer to the target than the baseline" in legend
    seed = next(r for r in board.problems if r.problem == "face-seed")
    assert "baseline" not in seed.table.columns  # no baseline photos, no dlib: left out


def test_seed_target_is_the_generators_face_of_that_seed(board):
    (target,) = board.targets["face-seed"]
    assert target.path == "images/face-seed/target-0.png" and target.reason == ""
    gen = registry("generators").load("dcgan-mnist")()
    expected = to_uint8(gen.generate(seed_latent(3, 100)[None]))[0][..., 0]  # [28, 28]
    other = to_uint8(gen.generate(seed_latent(4, 100)[None]))[0][..., 0]
    with Image.open(board.out / target.path) as im:
        shown = np.asarray(im)
    np.testing.assert_array_equal(shown, expected)
    assert not np.array_equal(shown, other)
    md = (board.out / "README.md").read_text()
    assert "- target: seed 3 of dcgan-mnist: ![target](images/face-seed/target-0.png)" in md
    assert "images/face-seed/target-0.png" in parse(board.out / "problem-face-seed.html").links


def test_photo_target_is_the_first_photo_upright(board):
    (target,) = board.targets["face-photo"]
    assert target.caption == "target: photo person.jpg"
    with Image.open(board.out / target.path) as im:
        arr = np.asarray(im.convert("RGB")).astype(int)
    assert arr.shape == (40, 20, 3)  # stored 40 × 20 sideways, shown 20 wide × 40 tall
    top, bottom = arr[:15].mean(axis=(0, 1)), arr[-15:].mean(axis=(0, 1))
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]  # red left half went on top


def test_photo_target_is_shown_as_facenet_saw_it(board):
    (target,) = board.targets["face-photo"]
    x0, y0, x1, y1 = PHOTO_REGION
    assert target.crop_caption == (
        f"as FaceNet saw it: MTCNN's face with margin, pixels of person.jpg ({x0}, {y0})–"
        f"({x1}, {y1}), resized to 160×160"
    )
    with Image.open(board.out / target.crop) as im:
        arr = np.asarray(im.convert("RGB")).astype(int)
    assert arr.shape == (160, 160, 3)
    # the region is the upright photo's bottom: blue (in the stored, sideways file it
    # would lie outside the 40 × 20 pixels)
    assert arr[..., 2].mean() > 200 > arr[..., 0].mean()
    md = (board.out / "README.md").read_text()
    assert f"![target crop]({target.crop})" in md
    assert target.crop in parse(board.out / "problem-face-photo.html").links


@pytest.mark.parametrize(
    "region", [None, [0, 25, 20], [0, 25, 20, 41], [5, 5, 5, 9], [0.0, 25, 20, 40], [True, 0, 1, 1]]
)
def test_a_photo_region_outside_the_photo_is_not_cut(tmp_path, region):
    photo = str(sideways_photo(tmp_path / "p.jpg"))
    assert photo_crop(photo, region) is None
    assert photo_crop(str(tmp_path / "gone.jpg"), list(PHOTO_REGION)) is None


def test_an_unavailable_target_is_said_not_fatal(board):
    (target,) = board.targets["face-gone"]
    assert target.path is None
    assert "target unavailable: generator 'dcgan-mnist' cannot be loaded" in target.text
    assert MISSING_WEIGHTS in target.text  # the runs' own weight file was asked for
    text = "".join(parse(board.out / "problem-face-gone.html").text)
    assert "target unavailable: generator 'dcgan-mnist' cannot be loaded" in text
    assert "target unavailable: generator 'dcgan-mnist'" in (board.out / "README.md").read_text()


def test_target_failures_raise_target_unavailable(tmp_path):
    with pytest.raises(TargetUnavailable, match="no such file"):
        photo_target(str(tmp_path / "gone.jpg"))
    (tmp_path / "junk.jpg").write_text("not an image")
    with pytest.raises(TargetUnavailable, match="not an image"):
        photo_target(str(tmp_path / "junk.jpg"))
    with pytest.raises(TargetUnavailable, match="'no-such-gan' cannot be loaded"):
        seed_target("no-such-gan", 0, 100)
    with pytest.raises(TargetUnavailable, match="z_dim 100, runs used 512"):
        seed_target("dcgan-mnist", 0, 512)
    assert photo_target(str(sideways_photo(tmp_path / "p.jpg"))).shape == (40, 20, 3)


def test_no_described_run_means_an_unavailable_target(tmp_path):
    runs = pd.DataFrame({"run_id": ["a", "b"]})
    records = {"a": {"status": "failed", "spec": {}}}  # failed before describe(); b pending
    (target,) = target_images(runs, records, tmp_path, Path("images"))
    assert target.path is None and "no run recorded its problem" in target.text

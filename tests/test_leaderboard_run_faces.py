"""The best face of every run in a face problem's diversity heatmap, and the target's crop.

The hand-made face campaign of ``leaderboard_face_campaign`` (no face problem runs),
with two changes: the face-seed runs recorded a crop box, and one heatmap run
(ga, seed 1) lost its ``best.png``.
"""

import json
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from headless_browser import Browser, crawl, find_chromium
from leaderboard_face_campaign import ALGOS, make_face_campaign
from PIL import Image
from test_leaderboard import parse

from bench.leaderboard import build_leaderboard
from bench.leaderboard.build import RUN_FACE_SIDE, _run_faces, check_file_names
from bench.leaderboard.diversity import MAX_RUN_FACES, Diversity, spread
from bench.leaderboard.markdown_page import run_faces_notes
from bench.leaderboard.target_images import FACENET_SIDE, face_crop
from bench.results import BEST_IMAGES, RECORD
from bench.spec import SpecError

CROP = [4, 2, 24, 26]  # x0, y0, x1, y1 in the 28 × 28 dcgan-mnist picture
RUN_FACES = [  # the face-seed heatmap's runs with a best.png, in its order
    ("ga s0", "ga-s0"), ("ga s2", "ga-s2"), ("random s0", "random-s0"),
    ("random s1", "random-s1"), ("cma-me s1", "cma-me-s1"),
]  # fmt: skip


def shade(algo: str, seed: int) -> int:
    """The grey level of a run's best.png in the hand-made campaign."""
    return 40 + 60 * ALGOS.index(algo) + 20 * seed


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    campaign = make_face_campaign(tmp_path_factory.mktemp("faces") / "c")
    for record_file in sorted(campaign.rglob(RECORD)):
        record = json.loads(record_file.read_text())
        spec = record["spec"]
        if spec["problem"] != "face-seed":
            continue
        record["problem"]["crop_box"] = CROP
        record_file.write_text(json.dumps(record))
        if (spec["algo"], spec["seed"]) == ("ga", 1):
            (record_file.parent / BEST_IMAGES).unlink()
    return build_leaderboard(campaign, tmp_path_factory.mktemp("board") / "lb")


def img_sources(markdown: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', markdown)


def test_every_heatmap_run_with_a_best_png_is_shown_in_heatmap_order(board):
    faces = board.run_faces["face-seed"]
    assert board.diversity["face-seed"].labels[1] == "ga s1"  # in the heatmap, no picture
    expected = [(label, f"images/face-seed/runs/{stem}.png") for label, stem in RUN_FACES]
    assert [(label, path) for label, _, path in faces.shown] == expected
    assert faces.no_image == ["ga s1"] and faces.left_out == []
    for label, path in expected:
        algo, seed = label.split(" s")
        with Image.open(board.out / path) as im:
            assert np.asarray(im).max() == shade(algo, int(seed)), label  # that run's face


def test_the_html_page_shows_the_faces_under_the_heatmap_with_their_labels(board):
    html = board.out / "problem-face-seed.html"
    links = parse(html).links
    heatmap = links.index("figures/diversity-face-seed.png")
    shown = [link for link in links if "/runs/" in link]
    assert shown == [f"images/face-seed/runs/{stem}.png" for _, stem in RUN_FACES]
    assert links.index(shown[0]) == heatmap + 1  # right under the heatmap
    text = html.read_text()
    for label, _ in RUN_FACES:
        assert f'alt="{label}"><figcaption>{label}</figcaption>' in text, label
    assert "1 run has no best.png: ga s1." in text
    assert text.count('<div class="runs"') == 3  # one row per algorithm


def test_the_markdown_shows_the_faces_with_their_labels(board):
    md = (board.out / "README.md").read_text()
    section = md[md.index("![Diversity of solutions: face-seed]") : md.index("## face-photo")]
    assert img_sources(section) == [f"images/face-seed/runs/{stem}.png" for _, stem in RUN_FACES]
    assert "| ga s0 | ga s2 |" in section and "| cma-me s1 |" in section
    assert "1 run has no best.png: ga s1." in section


def test_the_leaderboard_is_still_a_self_contained_folder(board, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(board.out, copy)
    md = (copy / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", md) + img_sources(md)
    links += [link for page in copy.glob("*.html") for link in parse(page).links]
    assert any("/runs/" in link for link in links)
    for link in links:
        assert not link.startswith("/") and ".." not in link, link
        assert (copy / link).exists(), f"broken link {link}"


def test_a_seed_target_is_also_shown_as_facenet_saw_it(board):
    (target,) = board.targets["face-seed"]
    assert target.crop == "images/face-seed/target-0-crop.png"
    assert "as FaceNet saw it: pixels (4, 2)–(24, 26), resized to 160×160" in target.crop_caption
    with Image.open(board.out / target.path) as im:
        whole = np.asarray(im)  # [28, 28]
    with Image.open(board.out / target.crop) as im:
        crop = np.asarray(im)
    assert crop.shape == (FACENET_SIDE, FACENET_SIDE)
    np.testing.assert_array_equal(crop, face_crop(whole[..., None], CROP)[..., 0])
    assert target.crop in parse(board.out / "problem-face-seed.html").links
    assert f"![target crop]({target.crop})" in (board.out / "README.md").read_text()
    (photo,) = board.targets["face-photo"]  # its runs recorded target_regions
    assert photo.crop == "images/face-photo/target-0-crop.png"


@pytest.mark.parametrize("box", [None, [0, 0, 29, 28], [5, 5, 5, 9], [0.0, 0, 9, 9], [1, 2, 3]])
def test_an_unusable_crop_box_shows_no_crop(box):
    assert face_crop(np.zeros((28, 28, 1), dtype=np.uint8), box) is None


def test_spread_shares_the_limit_between_algorithms_in_heatmap_order():
    algos = ["a"] * 5 + ["b"] + ["c"] * 3
    assert spread(algos, 6) == [0, 1, 2, 5, 6, 7]  # a0 b0 c0, a1 c1, a2
    assert spread(algos, 100) == list(range(9))
    assert spread([], 6) == []


def _many_runs(tmp_path, counts):
    """A leaderboard stand-in with one heatmap run per (algo, seed) and its best.png."""
    rows, labels, algos = [], [], []
    for algo, n in counts.items():
        for seed in range(n):
            path = tmp_path / "runs" / f"{algo}-{seed}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8), seed, dtype=np.uint8)).save(path)
            rows.append({"run_id": f"{algo}-{seed}", "seed": seed, "image_path": str(path)})
            labels.append(f"{algo} s{seed}")
            algos.append(algo)
    runs = pd.DataFrame(rows)
    div = Diversity("face", pd.DataFrame(), labels, algos, run_ids=list(runs["run_id"]))
    return SimpleNamespace(out=tmp_path / "lb", diversity={"face": div}, image_format="png"), runs


def test_past_the_limit_each_algorithm_keeps_its_first_seeds_and_the_rest_is_said(tmp_path):
    board, runs = _many_runs(tmp_path, {"ga": 50, "random": 20})
    faces = _run_faces(board, "face", runs)
    assert len(faces.shown) == MAX_RUN_FACES == 60
    shown = [label for label, _, _ in faces.shown]
    assert shown == [f"ga s{s}" for s in range(40)] + [f"random s{s}" for s in range(20)]
    assert faces.left_out == [(f"ga s{s}", "ga") for s in range(40, 50)]
    assert len(list((board.out / "images" / "face" / "runs").iterdir())) == 60
    note = run_faces_notes(faces, "face")
    assert "60 runs." in note and "10 more are left out to keep the page small (ga: 10;" in note
    assert "tables/diversity-matrix-face.csv hold them all" in note


def test_large_faces_are_shrunk_and_a_repeated_algo_seed_gets_its_own_file(tmp_path):
    board, runs = _many_runs(tmp_path, {"ga": 1})
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((1024, 512, 3), dtype=np.uint8)).save(big)
    runs = pd.concat([runs, runs.assign(run_id="ga-0-other-target", image_path=str(big))])
    div = board.diversity["face"]
    div.labels, div.algos = ["ga s0 (seed:1)", "ga s0 (seed:2)"], ["ga", "ga"]
    div.run_ids = list(runs["run_id"])
    faces = _run_faces(board, "face", runs)
    paths = [path for _, _, path in faces.shown]
    assert paths == ["images/face/runs/ga-s0.png", "images/face/runs/ga-s0-2.png"]
    with Image.open(board.out / paths[1]) as im:
        assert im.size == (RUN_FACE_SIDE // 2, RUN_FACE_SIDE)


def test_names_that_would_share_a_face_picture_are_refused():
    with pytest.raises(SpecError, match="algorithm 'target-0' would both write"):
        check_file_names(["face-seed"], ["ga", "target-0"])
    with pytest.raises(SpecError, match="algorithm 'target-1-crop' would both write"):
        check_file_names(["face"], ["target-1-crop"])
    with pytest.raises(SpecError, match="algorithm 'pymoo:ga' and algorithm 'pymoo_ga'"):
        check_file_names(["face"], ["pymoo:ga", "pymoo_ga"])  # runs/pymoo_ga-s0.png too
    check_file_names(["sphere"], ["target-0"])  # no face problem, no target picture
    check_file_names(["face"], ["target", "target-x", "ga-s1", "ga"])


CHROMIUM = find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_the_run_faces_load_in_a_browser(board):
    with Browser(CHROMIUM) as browser:
        reports, _ = crawl(browser, board.out)
    seed = reports[(board.out / "problem-face-seed.html").resolve()]
    assert seed.errors == []
    loaded = {src for src, ok in seed.images if ok}
    assert {f"images/face-seed/runs/{stem}.png" for _, stem in RUN_FACES} <= loaded
    assert "images/face-seed/target-0-crop.png" in loaded

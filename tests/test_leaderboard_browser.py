"""The leaderboard site in a real browser: Debian's chromium, headless, over the DevTools pipe.

CI installs chromium (.ci/run) and sets LATENT_BENCH_REQUIRE_BROWSER=1, so there a
missing browser fails the test instead of skipping it.
"""

import os
import shutil
from pathlib import Path

import pytest
from headless_browser import Browser, crawl, find_chromium
from leaderboard_campaign import make_campaign
from leaderboard_face_campaign import make_face_campaign

from bench.leaderboard import build_leaderboard

CHROMIUM = find_chromium()
if CHROMIUM is None and os.environ.get("LATENT_BENCH_REQUIRE_BROWSER") == "1":
    raise RuntimeError("LATENT_BENCH_REQUIRE_BROWSER=1 but no chromium on PATH")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: install Debian's `chromium` (apt-get install chromium); "
    "CI's .ci/run installs it",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    campaign = make_campaign(tmp_path_factory.mktemp("campaign") / "c", broken=False)
    return build_leaderboard(campaign, tmp_path_factory.mktemp("site") / "lb").out


def test_every_page_loads_clean_with_tables_images_and_working_links(site):
    with Browser(CHROMIUM) as browser:
        reports, files = crawl(browser, site)
    assert {p.name for p in reports} == {
        "index.html", "problem-sphere.html", "problem-rastrigin.html"
    }  # fmt: skip
    for page, report in reports.items():
        assert report.errors == [], f"{page.name}: {report.errors}"
        assert report.tables >= (3 if page.name == "index.html" else 1), page.name
        assert report.images, f"{page.name} shows no image"
        assert all(ok for _, ok in report.images), f"{page.name}: {report.images}"
        for label in ("commit", "packages", "seeds", "hardware", "budget"):
            assert label in report.text, f"{page.name} lacks provenance '{label}'"
        assert page.parent == site.resolve()
    shown = {Path(src).name for report in reports.values() for src, _ in report.images}
    assert {"winrate.png", "anytime-sphere.png", "ecdf-rastrigin.png"} <= shown
    assert "cd.png" not in shown  # 2 problems, 3 algorithms: Friedman's p is at least 0.135
    for f in files:
        assert f.is_file(), f"broken link to {f}"
        assert site.resolve() in f.parents


def test_a_missing_figure_is_caught(site, tmp_path):
    # the check itself can fail: delete one figure from a copy of the site
    copy = tmp_path / "copy"
    shutil.copytree(site, copy)
    (copy / "figures" / "winrate.png").unlink()
    with Browser(CHROMIUM) as browser:
        report = browser.check((copy / "index.html").as_uri())
    assert ("figures/winrate.png", False) in report.images
    assert any("ERR_FILE_NOT_FOUND" in e for e in report.errors), report.errors


@pytest.fixture(scope="module")
def face_site(tmp_path_factory):
    campaign = make_face_campaign(tmp_path_factory.mktemp("faces") / "c")
    return build_leaderboard(campaign, tmp_path_factory.mktemp("face-site") / "lb").out


def test_face_pages_show_the_target_the_heatmap_and_the_best_faces(face_site):
    with Browser(CHROMIUM) as browser:
        reports, files = crawl(browser, face_site)
    for page, report in reports.items():
        assert report.errors == [], f"{page.name}: {report.errors}"
        assert all(ok for _, ok in report.images), f"{page.name}: {report.images}"
    seed = reports[(face_site / "problem-face-seed.html").resolve()]
    assert seed.tables == 2, "the algorithms' table and the diversity table"
    shown = {src for src, _ in seed.images}
    heatmap, target = "figures/diversity-face-seed.png", "images/face-seed/target-0.png"
    assert {heatmap, target, "images/face-seed/ga.png"} <= shown
    assert "Diversity of solutions" in seed.text
    gone = reports[(face_site / "problem-face-gone.html").resolve()]
    assert "target unavailable: generator 'dcgan-mnist'" in gone.text
    assert all(f.is_file() for f in files)

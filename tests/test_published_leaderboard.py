"""The published leaderboard (results/leaderboard/) is the whole embedded leaderboard plan.

`make leaderboard` runs bench/plans/leaderboard.toml and writes results/leaderboard/.
These tests read what was committed: every planned run is there and finished at its
budget, the provenance agrees with the plan, the README links the site, and (where
chromium is present, always in CI) every page of the site loads clean in a browser.
"""

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from headless_browser import Browser, crawl, find_chromium

from bench.campaign import load_plan
from bench.commands.search import PLANS_DIR
from bench.leaderboard.formatting import slug

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "results" / "leaderboard"
PLAN = load_plan(PLANS_DIR / "leaderboard.toml")


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    table = SITE / "tables" / "runs.csv"
    assert table.is_file(), f"{table} missing: publish the leaderboard with `make leaderboard`"
    return pd.read_csv(table)


# Problems whose runs the published campaign has not finished yet (the page says so),
# named here while a re-sized plan is being run: none now, every planned run is finished.
# `make leaderboard` resumes a campaign.
UNFINISHED: set[str] = set()


def test_every_planned_run_is_published_finished_at_its_budget(runs):
    assert len(PLAN.seeds) >= 5
    planned = {(s.problem, s.algo, s.seed): PLAN.budget_for(s.problem) for s in PLAN.specs()}
    published = {(r.problem, r.algo, int(r.seed)): r for r in runs.itertuples(index=False)}
    assert set(published) == set(planned)
    for key, budget in planned.items():
        row = published[key]
        if row.status == "pending" and key[0] in UNFINISHED:
            continue
        assert row.status == "finished", f"{key}: {row.status} {row.error}"
        assert row.budget == budget, key
        assert row.evaluations == budget, key
        assert not row.dirty, f"{key} ran from a checkout with uncommitted changes"


def test_provenance_states_budgets_seeds_hardware_and_time(runs):
    prov = json.loads((SITE / "provenance.json").read_text())
    assert prov["budgets"] == {p: PLAN.budget_for(p) for p in PLAN.problems}
    assert prov["seeds"] == sorted(PLAN.seeds)
    pending = (runs["status"] == "pending").sum()
    assert prov["machines"] and sum(prov["machines"].values()) == len(PLAN) - pending
    assert prov["run_seconds"] > 0 and prov["started"] < prov["finished"]
    for problem in PLAN.problems:
        assert (SITE / f"problem-{slug(problem)}.html").is_file(), problem


def test_readme_links_the_published_leaderboard():
    assert "results/leaderboard/" in (ROOT / "README.md").read_text()
    assert (SITE / "README.md").is_file() and (SITE / "index.html").is_file()


CHROMIUM = find_chromium()


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("LATENT_BENCH_REQUIRE_BROWSER") != "1",
    reason="no chromium on PATH: install Debian's `chromium`; CI's .ci/run installs it",
)
def test_published_site_loads_clean_in_a_browser():
    with Browser(CHROMIUM) as browser:
        reports, files = crawl(browser, SITE)
    pages = {p.name for p in reports}
    assert pages >= {"index.html"} | {f"problem-{slug(p)}.html" for p in PLAN.problems}
    for page, report in reports.items():
        assert report.errors == [], f"{page.name}: {report.errors}"
        assert report.tables >= 1 and report.images, page.name
    missing = [f for f in files if not f.exists()]
    assert missing == [], missing

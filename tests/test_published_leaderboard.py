"""The published leaderboards are the whole of their embedded plans.

`make leaderboard` runs bench/plans/leaderboard.toml and writes results/leaderboard/;
`make leaderboard-sphere` runs bench/plans/leaderboard-sphere.toml (the generator problems
with sphere = true) and writes results/leaderboard-sphere/. These tests read what was
committed: every planned run is there and finished at its budget with the plan's
settings, the provenance agrees with the plan, the README links the site, and (where
chromium is present, always in CI) every page of the site loads clean in a browser.
"""

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from headless_browser import Browser, crawl, find_chromium

from bench.campaign import Plan, load_plan
from bench.commands.search import PLANS_DIR
from bench.leaderboard.formatting import slug

ROOT = Path(__file__).resolve().parents[1]
BOARDS = {  # published folder → (its plan, the make target that builds it)
    "leaderboard": (load_plan(PLANS_DIR / "leaderboard.toml"), "leaderboard"),
    "leaderboard-sphere": (load_plan(PLANS_DIR / "leaderboard-sphere.toml"), "leaderboard-sphere"),
}


@pytest.fixture(params=sorted(BOARDS), scope="module")
def board(request) -> tuple[Path, Plan, pd.DataFrame]:
    """A published board: its folder, its plan and its table of runs."""
    plan, target = BOARDS[request.param]
    site = ROOT / "results" / request.param
    table = site / "tables" / "runs.csv"
    assert table.is_file(), f"{table} missing: publish the leaderboard with `make {target}`"
    return site, plan, pd.read_csv(table)


# Problems whose runs the published campaign has not finished yet (the page says so),
# named here while a re-sized plan is being run: none now, every planned run is finished.
# `make leaderboard` resumes a campaign.
UNFINISHED: set[str] = set()


def test_every_planned_run_is_published_finished_at_its_budget(board):
    _, plan, runs = board
    assert len(plan.seeds) >= 5
    planned = {(s.problem, s.algo, s.seed): s for s in plan.specs()}
    published = {(r.problem, r.algo, int(r.seed)): r for r in runs.itertuples(index=False)}
    assert set(published) == set(planned)
    for key, spec in planned.items():
        row = published[key]
        if row.status == "pending" and key[0] in UNFINISHED:
            continue
        assert row.status == "finished", f"{key}: {row.status} {row.error}"
        assert row.budget == spec.budget, key
        assert row.evaluations == spec.budget, key
        assert json.loads(row.problem_params) == spec.problem_params, key  # e.g. sphere
        assert json.loads(row.algo_params) == spec.algo_params, key
        assert not row.dirty, f"{key} ran from a checkout with uncommitted changes"


def test_provenance_states_budgets_seeds_hardware_and_time(board):
    site, plan, runs = board
    prov = json.loads((site / "provenance.json").read_text())
    assert prov["budgets"] == {p: plan.budget_for(p) for p in plan.problems}
    assert prov["seeds"] == sorted(plan.seeds)
    pending = (runs["status"] == "pending").sum()
    assert prov["machines"] and sum(prov["machines"].values()) == len(plan) - pending
    assert prov["run_seconds"] > 0 and prov["started"] < prov["finished"]
    for problem in plan.problems:
        assert (site / f"problem-{slug(problem)}.html").is_file(), problem


def test_readme_links_the_published_leaderboard(board):
    site = board[0]
    assert f"results/{site.name}/" in (ROOT / "README.md").read_text()
    assert (site / "README.md").is_file() and (site / "index.html").is_file()


CHROMIUM = find_chromium()


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("LATENT_BENCH_REQUIRE_BROWSER") != "1",
    reason="no chromium on PATH: install Debian's `chromium`; CI's .ci/run installs it",
)
def test_published_site_loads_clean_in_a_browser(board):
    site, plan, _ = board
    with Browser(CHROMIUM) as browser:
        reports, files = crawl(browser, site)
    pages = {p.name for p in reports}
    assert pages >= {"index.html"} | {f"problem-{slug(p)}.html" for p in plan.problems}
    for page, report in reports.items():
        assert report.errors == [], f"{page.name}: {report.errors}"
        assert report.tables >= 1 and report.images, page.name
    missing = [f for f in files if not f.exists()]
    assert missing == [], missing


def test_no_published_file_is_git_ignored(board):
    """A site file that .gitignore matches (a folder called runs/, say) never reaches a clone."""
    import shutil
    import subprocess

    site = board[0]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing decides what a clone holds")
    files = [str(p.relative_to(ROOT)) for p in site.rglob("*") if p.is_file()]
    done = subprocess.run(["git", "check-ignore", "--stdin"], input="\n".join(files),
                          capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == [], "ignored by .gitignore: " + done.stdout[:500]

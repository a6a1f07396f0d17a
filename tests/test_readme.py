"""The README renders as written: code fences that open and close, links that resolve."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("results/*/README.md"))
PAGES = ["README.md", *PUBLISHED]


@pytest.mark.parametrize("page", PAGES)
def test_code_fences_open_and_close_on_their_own_lines(page):
    """CommonMark closes a fence only with a line of backticks: text after it reopens nothing."""
    lines = (ROOT / page).read_text().splitlines()
    fences = [(i + 1, line) for i, line in enumerate(lines) if line.lstrip().startswith("```")]
    inside = False
    for number, line in fences:
        text = line.strip()
        if inside:
            assert text == "```", f"{page}:{number}: a closing fence with text after it: {line!r}"
        else:
            assert re.fullmatch(r"```[\w+-]*", text), f"{page}:{number}: odd opening fence {line!r}"
        inside = not inside
    assert not inside, f"{page}: the last code block is never closed"


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    text = (ROOT / page).read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # links inside code are not links
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    folder = (ROOT / page).parent
    missing = [t for t in targets if "://" not in t and not (folder / t).exists()]
    assert not missing, f"{page}: links to missing files: {missing}"

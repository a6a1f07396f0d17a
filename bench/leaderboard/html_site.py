"""The leaderboard as a static, self-contained HTML site: inline CSS, no scripts, no network.

``index.html`` holds the comparison across problems and links one page per
problem; images are PNG (or WebP) files next to the pages, linked relatively. Every
page ends with the provenance.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from bench.leaderboard import diversity, figures
from bench.leaderboard.formatting import LEGEND, check_commands, rows, slug
from bench.leaderboard.markdown_page import (
    diversity_notes,
    face_rows,
    problem_notes,
    run_faces_notes,
    settings,
    unfinished_runs,
)
from bench.leaderboard.provenance import provenance_lines
from bench.results import grouped_notes

if TYPE_CHECKING:
    from bench.leaderboard.build import Leaderboard
    from bench.leaderboard.tables import ProblemResult

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 78rem; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
tr.best td { background: #eef7ee; }
td.failed, td.pending { background: #fdecea; }
figure { display: inline-block; margin: 0.5rem 1rem 0.5rem 0; vertical-align: top; }
figure img { max-width: 36rem; border: 1px solid #ddd; }
.gallery img { min-width: 7rem; max-width: 16rem; image-rendering: pixelated; }
dl.prov { font-size: 0.8rem; color: #444; border-top: 1px solid #ccc; padding-top: 0.5rem; }
dl.prov dt { font-weight: bold; float: left; clear: left; width: 10rem; }
dl.prov dd { margin-left: 10.5rem; }
nav a { margin-right: 1rem; }
.wide { overflow-x: auto; }
.runs { display: flex; flex-wrap: wrap; gap: 0.3rem; margin: 0.2rem 0; }
.runs figure { margin: 0; text-align: center; }
.runs img { width: 5rem; height: auto; image-rendering: pixelated; }
.runs figcaption { font-size: 0.7rem; }
"""


def html_table(
    table: pd.DataFrame,
    highlight: str | None = None,
    caption: str = "",
    legend: dict[str, str] | None = None,
) -> str:
    """``table`` as HTML with ``legend`` (default ``LEGEND``) as header tooltips.

    The row whose first cell is ``highlight`` is marked.
    """
    legend = LEGEND if legend is None else legend
    head = "".join(
        f'<th title="{escape(legend.get(str(c), ""))}">{escape(str(c))}</th>' for c in table.columns
    )
    body = []
    for raw, text in zip(table.itertuples(index=False), rows(table), strict=True):
        cls = ' class="best"' if highlight is not None and str(raw[0]) == highlight else ""
        tds = []
        for col, value, shown in zip(table.columns, raw, text, strict=True):
            flag = col in ("failed", "pending") and isinstance(value, int | float) and value > 0
            attr = f' class="{col}"' if flag else ""
            tds.append(f"<td{attr}>{escape(shown)}</td>")
        body.append(f"<tr{cls}>{''.join(tds)}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    table_html = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="wide">{table_html}</div>'


def _figure(path: str | None, caption: str) -> str:
    if not path:
        return ""
    return (
        f'<figure><img src="{escape(path)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _page(board: Leaderboard, title: str, body: list[str]) -> str:
    nav = ['<a href="index.html">overview</a>'] + [
        f'<a href="{escape(board.page(r.problem))}">{escape(r.problem)}</a>' for r in board.problems
    ]
    prov = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in provenance_lines(board.provenance)
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
            f"<nav>{''.join(nav)}</nav>",
            f"<h1>{escape(title)}</h1>",
            *body,
            f'<h2>Provenance</h2><dl class="prov">{prov}</dl>',
            "</body></html>",
        ]
    )


def index_page(board: Leaderboard) -> str:
    """The overview: runs, ranks across problems, CD diagram, win rates, links."""
    fr = board.friedman
    counts = ", ".join(f"{n} {s}" for s, n in board.runs["status"].value_counts().items())
    ranks = fr.ranks.sort_values().rename("avg_rank").rename_axis("algo").reset_index()
    problems = pd.DataFrame(
        [
            {
                "problem": r.problem,
                "sense": r.sense,
                "best algo": "– (all tied)" if r.tied else " = ".join([r.best, *r.co_best])
                if r.best
                else "–",
                "omnibus": r.omnibus.verdict(board.alpha),
            }
            for r in board.problems
        ]
    )
    links = "".join(
        f'<li><a href="{escape(board.page(r.problem))}">{escape(r.problem)}</a></li>'
        for r in board.problems
    )
    nemenyi = (
        ', <a href="tables/nemenyi.csv">nemenyi.csv</a>'
        if (board.out / "tables" / "nemenyi.csv").is_file()
        else ""
    )
    body = [
        *([f'<p class="note">{escape(board.note)}</p>'] if board.note else []),
        f"<p>{len(board.runs)} planned runs: {escape(counts)}. Markdown version: "
        '<a href="README.md">README.md</a>; tables: <a href="tables/runs.csv">runs.csv</a>, '
        '<a href="tables/ranks.csv">ranks.csv</a>, <a href="tables/winrate.csv">winrate.csv</a>'
        f"{nemenyi}.</p>",
        "<p>Check it or take it further: "
        + "; ".join(
            f"<code>{escape(cmd)}</code> {escape(what)}"
            for cmd, what in check_commands(board.out, board.home)
        )
        + ".</p>",
        f"<h2>Problems</h2><ul>{links}</ul>",
        html_table(problems),
        "<h2>Average ranks across problems</h2>",
        "<p>Ranks within blocks (one per problem: each algorithm's median loss there; 1 = best): "
        f"{escape(fr.sentence(board.alpha))}</p>",
        html_table(ranks) if len(ranks) else "<p>No complete block, so no average ranks.</p>",
        _figure(board.figures.get("cd"), "Critical-difference diagram (Nemenyi)"),
        "<h2>Win rates</h2>",
        "<p>Chance that a run of the row algorithm beats a run of the column algorithm on the "
        "same problem (ties count half), averaged over problems.</p>",
        html_table(board.winrate.rename_axis("algo").reset_index()),
        _figure(board.figures.get("winrate"), "Win-rate matrix"),
    ]
    return _page(board, board.heading, body)


def _diversity(board: Leaderboard, problem: str) -> list[str]:
    """The diversity section of a face problem's page: sentence, table, left-out runs, heatmap."""
    div = board.diversity[problem]
    name = escape(slug(problem))
    body = [
        "<h2>Diversity of solutions</h2>",
        f"<p>{escape(diversity_notes(div))}</p>",
        html_table(
            diversity.shown_table(div.table),
            caption=f"{problem}: distances between the best faces of independent runs",
            legend=diversity.LEGEND,
        ),
        f'<p>Tables: <a href="tables/diversity-{name}.csv">CSV</a>, '
        f'<a href="tables/diversity-matrix-{name}.csv">distance matrix</a>.</p>',
    ]
    if div.skipped:
        items = "".join(f"<li>{escape(s)}</li>" for s in div.skipped)
        body.append("<p>Finished runs left out of the distances:</p>")
        body.append(f'<ul class="skipped">{items}</ul>')
    body.append(_figure(board.figures.get(f"diversity-{problem}"), diversity.CAPTION))
    return body + _run_faces(board, problem)


def _run_faces(board: Leaderboard, problem: str) -> list[str]:
    """Each heatmap run's best face, small and labelled, one row per algorithm."""
    faces = board.run_faces.get(problem)
    if faces is None or not (faces.shown or faces.no_image):
        return []
    body = [f'<p>{escape(run_faces_notes(faces, problem))}</p>']
    for algo, shown in face_rows(faces):
        cards = "".join(_figure(path, label) for label, path in shown)
        body.append(f'<div class="runs" title="{escape(algo)}">{cards}</div>')
    return body


def problem_page(board: Leaderboard, result: ProblemResult) -> str:
    """One problem: table, tests, unfinished runs, figures, gallery, column legend."""
    runs = board.runs[board.runs["problem"] == result.problem]
    unfinished = unfinished_runs(runs)
    body = [f"<p>{escape(' '.join(problem_notes(board, result)))}</p>"]
    highlight = None if result.tied else result.best
    body.append(html_table(result.table, highlight, f"{result.problem}: one row per algorithm"))
    body.append(
        f'<p>Tables: <a href="tables/{escape(slug(result.problem))}.csv">CSV</a>, '
        f'<a href="tables/{escape(slug(result.problem))}.parquet">Parquet</a>, '
        f'<a href="tables/pairwise-{escape(slug(result.problem))}.csv">pairwise tests</a>, '
        f'<a href="tables/anytime-{escape(slug(result.problem))}.csv">anytime curves</a> '
        "(median, IQR, mean and std of best-so-far fitness).</p>"
    )
    items = "".join(f"<li>{escape(line)}</li>" for line in settings(runs, board.records))
    body.append(
        "<h2>Settings</h2><p>What the plan set; every other option ran at its default, which "
        f"each run's record lists.</p><ul>{items}</ul>"
    )
    if unfinished:
        items = "".join(f"<li>{escape(u)}</li>" for u in unfinished)
        body.append(f'<h2>Runs not in the statistics</h2><ul class="unfinished">{items}</ul>')
    notes = grouped_notes(runs)
    if notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        body.append(f'<h2>Notes the runs recorded</h2><ul class="notes">{items}</ul>')
    body.append("<h2>Figures</h2>")
    body.append(
        _figure(board.figures.get(f"anytime-{result.problem}"), figures.ANYTIME_CAPTION)
    )
    body.append(_figure(board.figures.get(f"ecdf-{result.problem}"), figures.ECDF_CAPTION))
    for key in (f"archive-{result.problem}", f"archive-zoom-{result.problem}"):
        body.append(_figure(board.figures.get(key), board.captions.get(key, "")))
    if result.problem in board.diversity:
        body += _diversity(board, result.problem)
    shots = board.gallery.get(result.problem, {})
    picks = board.gallery_runs.get(result.problem, {})
    targets = board.targets.get(result.problem, [])
    cards = [] if any(shots.values()) or targets else ["<p>This problem renders no images.</p>"]
    for t in targets:
        missing = f'<p class="unavailable">{escape(t.text)}</p>'
        cards.append(_figure(t.path, t.text) if t.path else missing)
        cards.append(_figure(t.crop, f"{t.text}, {t.crop_caption}") if t.crop else "")
    for algo, path in shots.items():
        pick = picks.get(algo)
        what = f"{algo}: seed {pick[0]}, fitness {pick[1]:.4g}" if pick else f"{algo}: no run"
        cards.append(_figure(path, what) if path else f"<p>{escape(what)} (no image)</p>")
    title = "Target and best face" if targets else "Best solution"
    body.append(f'<h2>{title} of each algorithm</h2><div class="gallery">')
    body += [*cards, "</div>"]
    legend = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>"
        for k, v in (LEGEND | result.help).items()
        if k in result.table.columns
    )
    body.append(f'<h2>Columns</h2><dl class="prov">{legend}</dl>')
    return _page(board, f"{result.problem} ({board.title or board.campaign.name})", body)


def write_site(board: Leaderboard) -> None:
    """Write ``index.html`` and one page per problem into ``board.out``."""
    (board.out / "index.html").write_text(index_page(board))
    for result in board.problems:
        (board.out / board.page(result.problem)).write_text(problem_page(board, result))

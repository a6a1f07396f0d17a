"""The leaderboard as one Markdown file (``README.md``), readable on a code-hosting site."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from bench.leaderboard import diversity
from bench.leaderboard.figures import ANYTIME_CAPTION, ECDF_CAPTION
from bench.leaderboard.formatting import LEGEND, cell, check_commands, rows, slug
from bench.leaderboard.provenance import provenance_lines
from bench.prior_distance import far_threshold
from bench.results import grouped_notes

if TYPE_CHECKING:
    from bench.leaderboard.build import Leaderboard
    from bench.leaderboard.stats import Omnibus
    from bench.leaderboard.tables import ProblemResult


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: pd.DataFrame) -> list[str]:
    """A pipe table of ``table`` (values formatted as on the HTML pages)."""
    head = [_escape(str(c)) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_escape(v) for v in r) + " |" for r in rows(table)]
    return lines


def unfinished_runs(runs: pd.DataFrame) -> list[str]:
    """One line per failed or pending run of ``runs`` (never silently dropped)."""
    lines = []
    for r in runs[runs["status"] != "finished"].itertuples(index=False):
        why = f": {r.error_type}: {r.error}" if r.status == "failed" and r.error else ""
        lines.append(f"{r.algo}, seed {r.seed}: {r.status}{why}")
    return lines


def _params_text(params_json: object, preset: object = None) -> str:
    """``k=v, ...`` of a run's JSON parameters (and its preset), or ``defaults``."""
    try:
        params = json.loads(params_json) if isinstance(params_json, str) else {}
    except ValueError:
        params = {}
    words = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in params.items()]
    if isinstance(preset, str) and preset:
        words.insert(0, f"preset {preset}")
    return ", ".join(words) or "defaults"


def settings(runs: pd.DataFrame, records: Mapping[str, dict[str, Any]] | None = None) -> list[str]:
    """What a problem's runs were set to: the problem's parameters, then each algorithm's.

    Only what the plan set is listed; every other option ran at its default, which
    each run's ``record.json`` lists (``algorithm.defaults``). Where runs differ in
    their settings, each variant is listed with its number of runs. Where the runs
    of one algorithm recorded different defaults (a plugin edited, or the suite
    upgraded, between runs of a campaign), the options that differ are listed too
    (``differing_defaults``): the same settings then did not mean the same search.

    Args:
        runs: The problem's rows of the leaderboard's run table.
        records: Records by run id, for the recorded defaults.

    """
    cells = [("problem", [_params_text(p) for p in runs["problem_params"]])]
    for algo, g in runs.groupby("algo", sort=False):
        texts = [_params_text(p, s) for p, s in zip(g["algo_params"], g["preset"], strict=True)]
        cells.append((str(algo), texts))
    lines = []
    for label, texts in cells:
        counts = pd.Series(texts, dtype=object).value_counts(sort=False)
        if len(counts) == 1:
            lines.append(f"{label}: {counts.index[0]}")
        else:
            lines += [f"{label}: {text} ({n} runs)" for text, n in counts.items()]
    for algo, g in runs.groupby("algo", sort=False):
        lines += differing_defaults(str(algo), [(records or {}).get(r) for r in g["run_id"]])
    return lines


def differing_defaults(algo: str, records: list[dict[str, Any] | None]) -> list[str]:
    """Lines naming each default option whose recorded value differs between ``records``.

    Records without ``algorithm.defaults`` (failed runs, older records) are left out;
    an option a run did not record counts as ``absent``. Empty where every run
    recorded the same defaults.
    """
    recorded = [
        r["algorithm"]["defaults"]
        for r in records
        if isinstance(r, dict)
        and isinstance(r.get("algorithm"), dict)
        and isinstance(r["algorithm"].get("defaults"), dict)
    ]
    lines = []
    for key in sorted({k for d in recorded for k in d}):
        values = pd.Series(
            [json.dumps(d[key], sort_keys=True) if key in d else "absent" for d in recorded],
            dtype=object,
        ).value_counts(sort=False)
        if len(values) > 1:
            listed = ", ".join(f"{v} ({n} run{'s' * (n != 1)})" for v, n in values.items())
            lines.append(f"{algo}: default {key} differs between runs: {listed}")
    return lines


def problem_notes(board: Leaderboard, result: ProblemResult) -> list[str]:
    """Sentences under a problem's table: sense, best algorithm, omnibus test."""
    if result.tied:
        best = "none, every finished run reached the same value"
    else:
        best = result.best or "none (no finished runs)"
    shown = best
    if result.co_best:
        shown += f" (tied with {', '.join(result.co_best)}: the same median and mean)"
    return [
        f"Objective: {result.sense}imise final fitness. Best algorithm (lowest median loss): "
        f"{shown}.",
        f"Omnibus test over algorithms: {_omnibus_words(result.omnibus, board.alpha)}. "
        f"Pairwise: two-sided Mann–Whitney U against {best}, Holm-corrected at "
        f"α = {board.alpha}.",
        *far_from_prior_notes(board, result),
    ]


def far_from_prior_notes(board: Leaderboard, result: ProblemResult) -> list[str]:
    """A sentence naming the algorithms whose best genomes lie far outside the prior.

    Far means a median ``prior_rms`` from ``far_threshold`` of the problem's genome
    length on (``bench.prior_distance``): where a prior draw of that length seldom
    reaches. For a generator those are latents it never saw in training, so fitness
    won there does not compare like for like with that of algorithms that stay in
    the prior. Empty where no median gets there, or the column or the genome length
    (in the records' ``best_vs_prior``) is absent.
    """
    table = result.table
    if "prior_rms" not in table or "algo" not in table:
        return []
    genes = {
        figures.get("genes")
        for run_id in board.runs.loc[board.runs["problem"] == result.problem, "run_id"]
        if isinstance(figures := board.records.get(run_id, {}).get("best_vs_prior"), dict)
    } - {None}
    if len(genes) != 1:
        return []
    threshold = far_threshold(int(genes.pop()))
    rms = pd.to_numeric(table.set_index("algo")["prior_rms"], errors="coerce").dropna()
    far = rms[rms >= threshold].sort_values(ascending=False)
    if far.empty:
        return []
    near = rms[rms < threshold]
    named = [f"{algo} ({value:.2f})" for algo, value in far.items()]
    listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    within = f"; the others' lie at {near.min():.2f}–{near.max():.2f}" if len(near) else ""
    return [
        f"Far from the prior: the best genomes of {listed} lie that many prior standard "
        f"deviations out (RMS of their genes, median over runs; a draw from the prior gives "
        f"about 1 and seldom reaches {threshold:.2f}{within}). For a generator these are "
        "latents it never saw in training: fitness won there is not won in the same space "
        "(prior_rms column; the face and set problems take sphere=true to keep latents at "
        "a prior draw's length)."
    ]


def _omnibus_words(test: Omnibus, alpha: float) -> str:
    """The omnibus verdict with its reason; a test not run is its reason alone."""
    verdict = test.verdict(alpha)
    return verdict if test.test == "none" else f"{verdict} ({test.note})"


def diversity_notes(div: diversity.Diversity) -> str:
    """The sentence above a face problem's diversity table."""
    skipped = ""
    if div.skipped:
        n = len(div.skipped)
        verb = "runs have" if n > 1 else "run has"
        skipped = f" {n} finished {verb} no usable embedding (listed below)."
    return (
        "Pairwise L2 distances between the FaceNet embeddings of the best faces of "
        f"independent runs on one target: {len(div.labels)} embedded runs.{skipped} "
        f"'{diversity.ALL_ALGOS}' pools every algorithm's runs, as in the heatmap."
        + ("" if len(div.labels) > 1 else " No heatmap: fewer than two runs have an embedding.")
    )


def run_faces_notes(faces: diversity.RunFaces, problem: str) -> str:
    """The sentence above the best faces of a face problem's heatmap runs."""
    words = [f"{diversity.RUN_FACES_CAPTION}: {len(faces.shown)} runs."]
    if faces.no_image:
        n = len(faces.no_image)
        words.append(
            f"{n} {'runs have' if n > 1 else 'run has'} no best.png: {', '.join(faces.no_image)}."
        )
    if faces.left_out:
        counts = pd.Series([algo for _, algo in faces.left_out]).value_counts(sort=False)
        per_algo = ", ".join(f"{a}: {n}" for a, n in counts.items())
        words.append(
            f"{len(faces.left_out)} more are left out to keep the page small ({per_algo}; "
            f"at most {diversity.MAX_RUN_FACES} are shown, the first seeds of each algorithm in "
            f"turn); the heatmap and tables/diversity-matrix-{slug(problem)}.csv hold them all."
        )
    return " ".join(words)


def face_rows(faces: diversity.RunFaces) -> list[tuple[str, list[tuple[str, str]]]]:
    """The shown faces grouped by algorithm: ``(algorithm, [(label, picture), ...])``."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for label, algo, path in faces.shown:
        groups.setdefault(algo, []).append((label, path))
    return list(groups.items())


MD_FACE_WIDTH = 72  # pixels of each run's face in the Markdown version
MD_FACES_PER_ROW = 10


def _run_faces(board: Leaderboard, problem: str) -> list[str]:
    """Each heatmap run's best face: per algorithm, tables of labelled pictures."""
    faces = board.run_faces.get(problem)
    if faces is None or not (faces.shown or faces.no_image):
        return []
    lines = [run_faces_notes(faces, problem), ""]
    for _, shown in face_rows(faces):
        for start in range(0, len(shown), MD_FACES_PER_ROW):
            chunk = shown[start : start + MD_FACES_PER_ROW]
            lines += ["| " + " | ".join(_escape(label) for label, _ in chunk) + " |"]
            lines += ["|" + "---|" * len(chunk)]
            cells = [
                f'<img src="{html.escape(p)}" alt="{html.escape(lb)}" width="{MD_FACE_WIDTH}">'
                for lb, p in chunk
            ]
            lines += ["| " + " | ".join(_escape(c) for c in cells) + " |", ""]
    return lines


def _diversity(board: Leaderboard, problem: str) -> list[str]:
    div = board.diversity[problem]
    lines = ["### Diversity of solutions", "", diversity_notes(div), ""]
    lines += [*markdown_table(diversity.shown_table(div.table)), ""]
    if div.skipped:
        lines += ["Finished runs left out of the distances:", ""]
        lines += [f"- {_escape(s)}" for s in div.skipped] + [""]
    path = board.figures.get(f"diversity-{problem}")
    if path:
        lines += [f"![Diversity of solutions: {problem}]({path})", "", f"{diversity.CAPTION}.", ""]
    return lines + _run_faces(board, problem)


def _section(board: Leaderboard, result: ProblemResult) -> list[str]:
    runs = board.runs[board.runs["problem"] == result.problem]
    lines = [f"## {result.problem}", ""]
    lines += [" ".join(problem_notes(board, result)), ""]
    lines += [*markdown_table(result.table), ""]
    lines += ["Settings (other options at their defaults, which each run's record lists):", ""]
    lines += [f"- {_escape(line)}" for line in settings(runs, board.records)] + [""]
    unfinished = unfinished_runs(runs)
    if unfinished:
        lines += ["Runs not in the statistics:", ""] + [f"- {u}" for u in unfinished] + [""]
    notes = grouped_notes(runs)
    if notes:
        lines += ["Notes the runs recorded:", ""] + [f"- {n}" for n in notes] + [""]
    for key, title in (("anytime", ANYTIME_CAPTION), ("ecdf", ECDF_CAPTION)):
        path = board.figures.get(f"{key}-{result.problem}")
        if path:
            lines += [f"![{title.split(':')[0]}: {result.problem}]({path})", "", f"{title}.", ""]
    for key, title in (
        (f"archive-{result.problem}", "Archive heatmaps"),
        (f"archive-zoom-{result.problem}", "Archive heatmaps, zoomed"),
    ):
        if key in board.figures:
            lines += [f"![{title}: {result.problem}]({board.figures[key]})", ""]
            lines += [board.captions[key] + ".", ""]
    if result.problem in board.diversity:
        lines += _diversity(board, result.problem)
    targets = board.targets.get(result.problem, [])
    shots = board.gallery.get(result.problem, {})
    pictured = [(a, p) for a, p in shots.items() if p]
    if pictured or targets:
        title = "Target and best face" if targets else "Best solution"
        lines += [f"{title} of each algorithm:", ""]
        for t in targets:
            lines += [f"- {t.text}: ![target]({t.path})" if t.path else f"- {t.text}"]
            lines += [f"- {t.text}, {t.crop_caption}: ![target crop]({t.crop})"] if t.crop else []
        lines += [f"- {a}: ![{a}]({p})" for a, p in pictured] + [""]
    return lines


def render_markdown(board: Leaderboard) -> str:
    """The whole leaderboard as Markdown text."""
    fr = board.friedman
    ranked = fr.ranks.sort_values()
    lines = [
        f"# {board.heading}",
        "",
        *([board.note, ""] if board.note else []),
        f"{len(board.runs)} planned runs: "
        + ", ".join(f"{n} {s}" for s, n in board.runs["status"].value_counts().items())
        + ". HTML version: [index.html](index.html); tables in [tables/](tables/).",
        "",
        "Check it or take it further: "
        + "; ".join(f"`{cmd}` {what}" for cmd, what in check_commands(board.out, board.home))
        + ".",
        "",
        "## Across problems",
        "",
        "Average rank within blocks (one per problem: each algorithm's median loss there; "
        "1 = best): "
        + fr.sentence(board.alpha),
        "",
    ]
    if len(ranked):
        lines += ["| algo | avg_rank |", "|---|---|"]
        lines += [f"| {_escape(str(a))} | {cell('avg_rank', r)} |" for a, r in ranked.items()]
        lines += [""]
    if "cd" in board.figures:
        lines += [f"![Critical-difference diagram]({board.figures['cd']})", ""]
    lines += [
        "Win rate: chance that a run of the row algorithm beats a run of the column "
        "algorithm on the same problem (ties count half), averaged over problems.",
        "",
        *markdown_table(board.winrate.rename_axis("algo").reset_index()),
        "",
    ]
    if "winrate" in board.figures:
        lines += [f"![Win-rate matrix]({board.figures['winrate']})", ""]
    for result in board.problems:
        lines += _section(board, result)
    legend = LEGEND | {k: v for r in board.problems for k, v in r.help.items()}
    shown = {c for r in board.problems for c in r.table.columns}
    lines += ["## Columns", ""]
    lines += [f"- **{k}**: {v}" for k, v in legend.items() if k in shown] + [""]
    lines += ["## Provenance", ""]
    lines += [f"- **{k}**: {_escape(v)}" for k, v in provenance_lines(board.provenance)]
    return "\n".join(lines) + "\n"


def write_markdown(board: Leaderboard) -> None:
    """Write ``out/README.md``."""
    (board.out / "README.md").write_text(render_markdown(board))

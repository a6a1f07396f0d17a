"""Build a leaderboard folder from a campaign folder.

Layout of ``out``::

    index.html                 overview: ranks across problems, CD diagram, win rates
    problem-<name>.html        one page per problem: table, tests, figures, gallery
    README.md                  everything as Markdown (readable on a code-hosting site)
    provenance.json            commits, packages, weights, budgets, seeds, hardware
    tables/runs.{csv,parquet}  every planned run, one row each
    tables/<name>.{csv,parquet}, tables/pairwise-<name>.csv, tables/anytime-<name>.csv
    (best-so-far median, IQR, mean and std per algorithm and evaluation count), tables/ranks.csv,
    tables/winrate.csv, tables/nemenyi.csv
    tables/diversity-<name>.csv, tables/diversity-matrix-<name>.csv   (face problems)
    figures/*.png, images/<problem>/<algo>.png, images/<problem>/target-<i>.png (faces),
    images/<problem>/target-<i>-crop.png (the target's face as FaceNet saw it),
    images/<problem>/runs/<algo>-s<seed>.png (faces: each heatmap run's best face)
    (every picture .webp instead with image_format="webp": see bench.leaderboard.pictures)

Every link between these files is relative, so the folder can be copied or
opened from disk with no network.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.leaderboard import figures, stats
from bench.leaderboard.columns import EXTRA_COLUMNS, FACE_PROBLEMS
from bench.leaderboard.diversity import Diversity, RunFaces, diversity, spread
from bench.leaderboard.formatting import slug
from bench.leaderboard.pictures import IMAGE_FORMATS, check_format, copy_picture
from bench.leaderboard.provenance import gather
from bench.leaderboard.runs import BOARD_IMPROVEMENTS, load_runs
from bench.leaderboard.tables import ProblemResult, problem_result, rank_blocks
from bench.leaderboard.target_images import TargetImage, target_images
from bench.results import read_improvements, remove_orphaned_folders
from bench.spec import SpecError


@dataclass
class Leaderboard:
    """A computed leaderboard and the files written for it (paths relative to ``out``).

    Attributes:
        campaign: The campaign folder.
        out: The leaderboard folder.
        alpha: Significance level of every test.
        runs: The long run table.
        problems: One result per problem, in plan order.
        friedman: Friedman's test across problems.
        winrate: Win-rate matrix.
        provenance: See ``bench.leaderboard.provenance.gather``.
        records: Run records by run id.
        figures: Figure key → file (``anytime-<problem>``, ``ecdf-<problem>``,
            ``archive-<problem>``, ``diversity-<problem>``, ``cd``, ``winrate``).
        captions: Figure key → caption, where the figure needs one.
        gallery: Problem → algorithm → image file (``None`` where none was rendered).
        gallery_runs: Problem → algorithm → (seed, final fitness) of the pictured run.
        diversity: Face problem → pairwise distances between its runs' best faces.
        targets: Face problem → its targets as pictures (or why they are unavailable).
        run_faces: Face problem → the best face of each run of its diversity heatmap.
        title: Heading of the overview; default ``Leaderboard: <campaign folder name>``.
        note: A paragraph under the heading (what was run, where, why these budgets).
        home: The folder the board is built for, while ``out`` is where it is being
            written (a temporary folder beside it); ``out`` where ``None``.
        image_format: Suffix of every figure and picture, ``"png"`` or ``"webp"``.

    """

    campaign: Path
    out: Path
    alpha: float
    runs: pd.DataFrame
    problems: list[ProblemResult]
    friedman: stats.Friedman
    winrate: pd.DataFrame
    provenance: dict[str, Any]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    gallery: dict[str, dict[str, str | None]] = field(default_factory=dict)
    gallery_runs: dict[str, dict[str, tuple[int, float] | None]] = field(default_factory=dict)
    diversity: dict[str, Diversity] = field(default_factory=dict)
    targets: dict[str, list[TargetImage]] = field(default_factory=dict)
    run_faces: dict[str, RunFaces] = field(default_factory=dict)
    title: str | None = None
    note: str | None = None
    home: Path | None = None
    image_format: str = IMAGE_FORMATS[0]

    @property
    def heading(self) -> str:
        """Heading of the overview page and of the Markdown version."""
        return self.title or f"Leaderboard: {self.campaign.name}"

    def page(self, problem: str) -> str:
        """File name of a problem's page."""
        return f"problem-{slug(problem)}.html"


def compute(campaign: Path, out: Path, alpha: float = stats.ALPHA) -> Leaderboard:
    """Statistics of every problem and across problems (no files written)."""
    runs, records = load_runs(campaign)
    problems = [problem_result(g, alpha) for _, g in runs.groupby("problem", sort=False)]
    losses = {
        p: {a: stats.to_loss(g["final"], str(g["sense"].iloc[0])) for a, g in pg.groupby("algo")}
        for p, pg in runs.groupby("problem", sort=False)
    }
    return Leaderboard(
        campaign=Path(campaign),
        out=Path(out),
        alpha=alpha,
        runs=runs,
        problems=problems,
        friedman=stats.friedman(rank_blocks(runs), alpha),
        winrate=stats.win_rate(losses),
        provenance=gather(runs, records),
        records=records,
        diversity={
            str(p): diversity(g, records)
            for p, g in runs.groupby("problem", sort=False)
            if fnmatch.fnmatchcase(str(p), FACE_PROBLEMS)
        },
    )


def _typed(column: pd.Series) -> pd.Series:
    """An object column as booleans or floats where its values allow, else as text."""
    values = column.dropna()
    if len(values) and all(isinstance(v, bool) for v in values):
        return column.astype("boolean")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pd.to_numeric(column, errors="coerce")
    return column.map(lambda v: None if v is None or v is pd.NA else str(v))


def _write_table(table: pd.DataFrame, stem: Path) -> None:
    table = table.apply(lambda c: _typed(c) if c.dtype == object else c)
    table.to_csv(stem.with_suffix(".csv"), index=False)
    table.to_parquet(stem.with_suffix(".parquet"), index=False)


def improvement_rows(runs: pd.DataFrame) -> pd.DataFrame | None:
    """The improvements of every finished run that kept them, one table with ``run_id``.

    Args:
        runs: The board's run table (``run_id``, ``status``, ``curve_path``).

    Returns:
        ``run_id``, ``evaluation``, ``fitness``, ``valid``, runs in table order; ``None``
        where no run kept improvements (runs recorded before 2 December 2026).

    """
    parts = []
    done = runs[(runs["status"] == "finished") & runs["curve_path"].notna()]
    for run_id, curve_path in zip(done["run_id"], done["curve_path"], strict=True):
        table = read_improvements(Path(curve_path).parent)
        if table is not None:
            parts.append(table.assign(run_id=run_id)[["run_id", *table.columns]])
    return pd.concat(parts, ignore_index=True) if parts else None


def write_tables(board: Leaderboard) -> None:
    """CSV and Parquet tables under ``out/tables``."""
    folder = board.out / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    extra = [c.name for c in EXTRA_COLUMNS if c.name in board.runs]
    unused = [n for n in extra if board.runs[n].isna().all()]  # e.g. face columns, no face
    _write_table(board.runs.drop(columns=unused), folder / "runs")
    improvements = improvement_rows(board.runs)
    if improvements is not None:
        improvements.to_parquet(board.out / BOARD_IMPROVEMENTS, index=False)
    for result in board.problems:
        _write_table(result.table, folder / slug(result.problem))
        result.pairwise.to_csv(folder / f"pairwise-{slug(result.problem)}.csv", index=False)
        problem_runs = board.runs[board.runs["problem"] == result.problem]
        figures.anytime_table(problem_runs).to_csv(
            folder / f"anytime-{slug(result.problem)}.csv", index=False
        )
    fr = board.friedman
    fr.ranks.rename("avg_rank").rename_axis("algo").reset_index().to_csv(
        folder / "ranks.csv", index=False
    )
    board.winrate.to_csv(folder / "winrate.csv")
    if fr.nemenyi is not None:
        fr.nemenyi.to_csv(folder / "nemenyi.csv")
    for problem, div in board.diversity.items():
        div.table.to_csv(folder / f"diversity-{slug(problem)}.csv", index=False)
        matrix = pd.DataFrame(div.distances, index=div.labels, columns=div.labels)
        matrix.rename_axis("run").to_csv(folder / f"diversity-matrix-{slug(problem)}.csv")


def _keep(board: Leaderboard, key: str, path: Path | None) -> None:
    """Record a written figure under ``key`` (relative to ``out``); nothing if none was drawn."""
    if path is not None:
        board.figures[key] = path.relative_to(board.out).as_posix()


def write_figures(board: Leaderboard) -> None:
    """Figures under ``out/figures`` and the gallery (and face targets) under ``out/images``."""
    fig_dir, ext = board.out / "figures", board.image_format
    for result in board.problems:
        runs = board.runs[board.runs["problem"] == result.problem]
        name, problem = slug(result.problem), result.problem
        for key, draw in (("anytime", figures.anytime_figure), ("ecdf", figures.ecdf_figure)):
            _keep(board, f"{key}-{problem}", draw(runs, fig_dir / f"{key}-{name}.{ext}"))
        zoom = fig_dir / f"archive-zoom-{name}.{ext}"
        path, caption, zoomed = figures.archive_figure(
            runs, board.records, fig_dir / f"archive-{name}.{ext}", zoom
        )
        _keep(board, f"archive-{problem}", path)
        if path is not None:
            board.captions[f"archive-{problem}"] = caption
        if zoomed:
            _keep(board, f"archive-zoom-{problem}", zoom)
            board.captions[f"archive-zoom-{problem}"] = zoomed
        _gallery(board, result, runs)
        if problem in board.diversity:
            heatmap = figures.diversity_figure(
                board.diversity[problem], fig_dir / f"diversity-{name}.{ext}"
            )
            _keep(board, f"diversity-{problem}", heatmap)
            folder = Path("images") / name
            board.targets[problem] = target_images(runs, board.records, board.out, folder, ext)
            board.run_faces[problem] = _run_faces(board, problem, runs)
    _keep(board, "cd", figures.cd_figure(board.friedman, fig_dir / f"cd.{ext}", board.alpha))
    _keep(board, "winrate", figures.winrate_figure(board.winrate, fig_dir / f"winrate.{ext}"))


def _gallery(board: Leaderboard, result: ProblemResult, runs: pd.DataFrame) -> None:
    """Copy ``best.png`` of each algorithm's best finished run (as ``board.image_format``)."""
    images: dict[str, str | None] = {}
    pictured: dict[str, tuple[int, float] | None] = {}
    for algo, g in runs.groupby("algo", sort=False):
        done = g[g["final"].notna()]
        if done.empty:
            images[algo], pictured[algo] = None, None
            continue
        best = done.iloc[int(stats.to_loss(done["final"], result.sense).argmin())]
        pictured[algo] = (int(best["seed"]), float(best["final"]))
        if not isinstance(best["image_path"], str):  # None, or NaN in a column with images
            images[algo] = None
            continue
        folder = board.out / "images" / slug(result.problem)
        target = copy_picture(
            Path(best["image_path"]), folder / f"{slug(str(algo))}.{board.image_format}"
        )
        images[algo] = target.relative_to(board.out).as_posix()
    board.gallery[result.problem] = images
    board.gallery_runs[result.problem] = pictured


RUN_FACE_SIDE = 256  # pixels: larger best faces are shrunk to this for the strip


def _run_faces(board: Leaderboard, problem: str, runs: pd.DataFrame) -> RunFaces:
    """Copy the ``best.png`` of every run in ``problem``'s heatmap (at most ``MAX_RUN_FACES``).

    The copies go to ``images/<problem>/runs/<algo>-s<seed>.png`` (``-2``, ``-3`` ...
    after a run of the same algorithm and seed on another target; ``.webp`` in a WebP
    board); pictures over ``RUN_FACE_SIDE`` pixels a side are shrunk to it.
    """
    div = board.diversity[problem]
    by_id = runs.set_index("run_id")
    have = [i for i, r in enumerate(div.run_ids) if isinstance(by_id.at[r, "image_path"], str)]
    kept = [have[k] for k in spread([div.algos[i] for i in have])]
    pictured, shown = set(have), set(kept)
    faces = RunFaces(
        no_image=[lb for i, lb in enumerate(div.labels) if i not in pictured],
        left_out=[(div.labels[i], div.algos[i]) for i in have if i not in shown],
    )
    folder = Path("images") / slug(problem) / "runs"  # copy_picture makes it
    used: dict[str, int] = {}
    for i in kept:
        run = by_id.loc[div.run_ids[i]]
        stem = f"{slug(div.algos[i])}-s{int(run['seed'])}"
        used[stem] = used.get(stem, 0) + 1
        stem += f"-{used[stem]}" if used[stem] > 1 else ""
        path = folder / f"{stem}.{board.image_format}"
        copy_picture(Path(run["image_path"]), board.out / path, RUN_FACE_SIDE)
        faces.shown.append((div.labels[i], div.algos[i], path.as_posix()))
    return faces


TABLES = ("runs", "ranks", "winrate", "nemenyi")  # tables/ files not named after a problem


def check_file_names(problems: list[str], algos: list[str]) -> None:
    """Raise ``SpecError`` if two problems or algorithms would write one file.

    Files are named by ``slug``: ``pymoo:ga`` and ``pymoo_ga`` share a gallery
    image, and a problem called ``ranks`` or ``pairwise-x`` would overwrite the
    rank table or the pairwise table of problem ``x``. On a face problem an
    algorithm called ``target-0`` would overwrite the target's picture. The best
    faces of runs, ``images/<problem>/runs/<algo>-s<seed>.png``, end in an integer
    seed, so they differ whenever the algorithms' names do.
    """
    owners: dict[str, str] = {f"tables/{t}": f"the {t} table" for t in TABLES}
    named = [
        (f"problem {p!r}", f"tables/{pre}{slug(p)}")
        for p in problems
        for pre in ("", "pairwise-", "anytime-", "diversity-", "diversity-matrix-")
    ] + [
        (f"algorithm {a!r}", name)
        for a in algos
        for name in (f"images/*/{slug(a)}", f"images/*/runs/{slug(a)}-s*")
    ]
    faces = any(fnmatch.fnmatchcase(p, FACE_PROBLEMS) for p in problems)
    for a in algos:
        if faces and re.fullmatch(r"target-\d+(-crop)?", slug(a)):
            raise SpecError(
                f"the face targets' pictures and algorithm {a!r} would both write "
                f"images/*/{slug(a)}.png: rename the algorithm"
            )
    for owner, name in named:
        other = owners.setdefault(name, owner)
        if other != owner:
            raise SpecError(
                f"{other} and {owner} would both write {name}: rename one (file names "
                "keep letters, digits, '-', '.' and '_', anything else becomes '_')"
            )


def build_leaderboard(
    campaign: Path,
    out: Path,
    alpha: float = stats.ALPHA,
    title: str | None = None,
    note: str | None = None,
    image_format: str = IMAGE_FORMATS[0],
) -> Leaderboard:
    """Compute the leaderboard of ``campaign`` and write every file into ``out``.

    The files are written into a new folder beside ``out`` that then takes its
    place, so a rebuild leaves no file of an older build behind (a problem no
    longer in the campaign, a critical-difference diagram no longer drawn) and
    an interrupted build leaves the old leaderboard whole; the temporary folders
    of a build that was killed are removed by the next build into ``out``. ``title`` and
    ``note`` head the overview and the Markdown version (see ``Leaderboard``).
    ``image_format`` is ``"png"`` or ``"webp"`` (see ``bench.leaderboard.pictures``).

    Raises:
        SpecError: ``out`` holds files but no leaderboard (no ``provenance.json``), or
            ``image_format`` is neither.

    """
    check_format(image_format)
    from bench.leaderboard.html_site import write_site
    from bench.leaderboard.markdown_page import write_markdown

    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not (out / "provenance.json").is_file():
        raise SpecError(
            f"{out} holds files but no leaderboard (no provenance.json), and a build "
            "replaces the whole folder: give a new or empty folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    for kind in _TEMPORARIES:  # left beside ``out`` by builds that were killed
        remove_orphaned_folders(out.parent, _temporary_prefix(out, kind))
    prefix = _temporary_prefix(out, "new", os.getpid())
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    try:
        board = compute(campaign, staging, alpha)
        runs = board.runs
        check_file_names(list(dict.fromkeys(runs["problem"])), list(dict.fromkeys(runs["algo"])))
        board.title, board.note, board.home = title, note, out
        board.image_format = image_format
        write_tables(board)
        write_figures(board)
        (board.out / "provenance.json").write_text(json.dumps(board.provenance, indent=2))
        write_markdown(board)
        write_site(board)
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a leaderboard is not
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    board.out = out
    return board


_TEMPORARIES = ("new", "old")  # the folder being built, the one being replaced


def _temporary_prefix(out: Path, kind: str, pid: int | None = None) -> str:
    """Name of a build's temporary folder beside ``out`` up to its process id, or with it.

    ``.OUT-new-PID-XXXXXXXX`` is the folder being written, ``.OUT-old-PID-XXXXXXXX``
    the previous leaderboard while it is swapped out; a build removes those whose
    process is gone (``remove_orphaned_folders``), never those of a running build.
    """
    return f".{out.name}-{kind}-" + (f"{pid}-" if pid is not None else "")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_in(new: Path, out: Path) -> None:
    """Put the folder ``new`` where ``out`` is, removing the old ``out`` after the swap."""
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(out, "old", os.getpid()), dir=out.parent))
    old.rmdir()  # only its unique name is wanted
    out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)

"""Figures of a leaderboard (PNG or lossless WebP), drawn on ``Figure`` (no pyplot, no display).

- anytime curves: median and inter-quartile band of the best-so-far fitness
  against evaluations, one line per algorithm (evaluation by evaluation where the
  runs kept their improvements, else batch by batch, ``_traces``; so the ECDF);
- ECDF of (run, target) pairs reached against evaluations, COCO style, with
  targets spread between the typical first-batch fitness and the best final one;
- MAP-Elites heatmaps of the passive archive at the first, middle and last
  snapshot of the run with the median final QD-score of each algorithm (1-D
  and 2-D grids; ``draw_archive`` also draws ``bench archive``'s);
- critical-difference diagram of the average ranks across problems;
- win-rate matrix;
- on the face problems, the pairwise distances between the best faces of all
  runs (diversity of solutions).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from bench.archive import snapshot_cells
from bench.leaderboard.diversity import Diversity
from bench.leaderboard.pictures import save_options
from bench.leaderboard.stats import Friedman, to_loss
from bench.results import read_archive, read_curve, read_improvements

GRID_POINTS = 200
TARGETS = 51
ECDF_CAPTION = (
    f"ECDF: share of (run, target) pairs reached against evaluations, for {TARGETS} fitness "
    "targets evenly spaced from the median first-batch fitness to the best final fitness"
)
ANYTIME_CAPTION = "Anytime: median (line) and inter-quartile range (band) of best-so-far fitness"
DPI = 110


def evaluation_grid(budget: int) -> np.ndarray:
    """Up to ``GRID_POINTS`` whole evaluation counts from 0 to ``budget``, evenly spread.

    Whole counts: a run's best at 1.5 evaluations is its best after 1, which a table
    would label 2.
    """
    return np.unique(np.linspace(0, budget, GRID_POINTS).round())


def _best_so_far(curve: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """Best-so-far ``[len(grid)]`` at each grid evaluation count (NaN before the first batch)."""
    evals = curve["evaluations"].to_numpy()
    idx = np.searchsorted(evals, grid, side="right") - 1
    best = curve["best"].to_numpy(dtype=np.float64)
    return np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan)


def _curves(runs: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
    out: dict[str, list[pd.DataFrame]] = {}
    for algo, g in runs.groupby("algo", sort=False):
        done = g[(g["status"] == "finished") & g["curve_path"].notna()]
        out[str(algo)] = [read_curve(Path(p).parent) for p in done["curve_path"]]
    return out


def _traces(runs: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
    """Best so far per run (``evaluations``, ``best``), evaluation by evaluation where it can be.

    Where every finished run kept its improvements (``improvements.parquet``), each
    trace steps at the evaluations that improved, so running times are exact; else
    every trace is the run's curve, one step per batch (runs recorded before
    2 December 2026), so that no algorithm is timed finer than another. An invalid
    first evaluation is left out, as the curve leaves it (best NaN until a valid one).
    """
    done = runs[(runs["status"] == "finished") & runs["curve_path"].notna()]
    tables = {p: read_improvements(Path(p).parent) for p in done["curve_path"]}
    if not tables or any(t is None for t in tables.values()):
        return _curves(runs)
    out: dict[str, list[pd.DataFrame]] = {}
    for algo, g in runs.groupby("algo", sort=False):  # every algorithm, as ``_curves`` gives
        out[str(algo)] = [
            tables[p][tables[p]["valid"]]
            .rename(columns={"evaluation": "evaluations", "fitness": "best"})
            .reset_index(drop=True)
            for p in g["curve_path"] if p in tables
        ]
    return out


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = save_options(path, figure=True)  # lossless where the suffix is .webp
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pil_kwargs=options or None)
    return path


def anytime_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The anytime curves as numbers: best-so-far statistics over runs at each grid count.

    The figure draws the median and IQR; the studies averaged (mean ± std), so both
    are here, for the finished runs of each algorithm at ``GRID_POINTS`` evaluation
    counts from 0 to the budget (a run counts from its first valid evaluation on).

    Returns:
        One row per algorithm × grid count: ``algo``, ``evaluations``, ``runs`` (those
        with a valid evaluation by then), ``median``, ``q25``, ``q75``, ``mean``, ``std``
        (ddof=1); empty where no run finished.

    """
    columns = ["algo", "evaluations", "runs", "median", "q25", "q75", "mean", "std"]
    curves = _traces(runs)
    if not any(curves.values()):
        return pd.DataFrame(columns=columns)
    grid = evaluation_grid(int(runs["budget"].max()))
    parts = []
    for algo, cs in curves.items():
        if not cs:
            continue
        values = np.stack([_best_so_far(c, grid) for c in cs])  # [runs, GRID_POINTS]
        counted = np.isfinite(values).sum(axis=0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before a start
            q25, median, q75 = np.nanpercentile(values, [25, 50, 75], axis=0)
            mean = np.nanmean(values, axis=0)
            std = np.nanstd(values, axis=0, ddof=1)
        parts.append(pd.DataFrame({
            "algo": algo, "evaluations": grid.round().astype(int), "runs": counted,
            "median": median, "q25": q25, "q75": q75, "mean": mean,
            "std": np.where(counted > 1, std, np.nan),
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def anytime_figure(runs: pd.DataFrame, path: Path) -> Path | None:
    """Median and IQR of best-so-far against evaluations per algorithm; ``None`` if no curves."""
    curves = _traces(runs)
    if not any(curves.values()):
        return None
    grid = evaluation_grid(int(runs["budget"].max()))
    sense = str(runs["sense"].iloc[0])
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    low, high = math.inf, -math.inf
    for algo, cs in curves.items():
        if not cs:
            continue
        values = np.stack([_best_so_far(c, grid) for c in cs])  # [runs, GRID_POINTS]
        with np.errstate(all="ignore"):
            started = ~np.isnan(values).all(axis=0)
        if not started.any():  # no run of it ever had a valid evaluation: nothing to draw
            ax.plot([], [], label=f"{algo} ({len(cs)} runs, no valid evaluation)")
            continue
        with np.errstate(all="ignore"):
            q1, med, q3 = np.nanpercentile(values[:, started], [25, 50, 75], axis=0)
        finite = values[np.isfinite(values)]
        low, high = min(low, finite.min(initial=math.inf)), max(high, finite.max(initial=-math.inf))
        marker = "o" if started.sum() == 1 else None  # a single batch is a single point
        (line,) = ax.plot(grid[started], med, marker=marker, label=f"{algo} ({len(cs)} runs)")
        ax.fill_between(grid[started], q1, q3, color=line.get_color(), alpha=0.2, linewidth=0)
    if sense == "min" and 0 < low and high > 10 * low:  # spans a decade or more
        ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best fitness so far ({sense}imise)")
    ax.set_title(f"{runs['problem'].iloc[0]}: median and IQR over runs")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def hitting_times(curve: pd.DataFrame, targets: np.ndarray, sense: str) -> np.ndarray:
    """Evaluations at which the best-so-far loss first reaches each target ``[T]`` (inf: never)."""
    loss = np.fmin.accumulate(to_loss(curve["best"], sense))  # [batches]; NaN until a valid one
    evals = curve["evaluations"].to_numpy(dtype=np.float64)
    reached = loss[None, :] <= targets[:, None]  # [T, batches]
    first = np.argmax(reached, axis=1)
    return np.where(reached.any(axis=1), evals[first], np.inf)


def fitness_targets(runs: pd.DataFrame) -> np.ndarray | None:
    """``TARGETS`` losses from the median first-batch loss down to the best final loss.

    Where every first-batch and final loss is a whole number (a count: bits set,
    constraints broken), the targets are whole numbers too: every level between the
    two where there are at most ``TARGETS``, else evenly spaced ones. Evenly spaced
    fractional targets would clump: a whole-number loss reaches all those between two
    levels at once, and some levels would hold one target more than others.
    """
    sense = str(runs["sense"].iloc[0])
    firsts = [to_loss(c["best"].iloc[:1], sense)[0] for cs in _curves(runs).values() for c in cs]
    firsts = [f for f in firsts if np.isfinite(f)]  # NaN: a first batch without a valid one
    finals = to_loss(runs["final"], sense)
    finals = finals[np.isfinite(finals)]  # inf: a run that never had a valid evaluation
    if not firsts or not len(finals):
        return None
    start, end = float(np.median(firsts)), float(finals.min())
    if not start > end:
        return np.array([end])
    if _whole(np.asarray(firsts)) and _whole(finals):
        levels = np.arange(end, np.floor(start) + 1)  # end is whole: a final loss
        if len(levels) <= TARGETS:
            return levels[::-1]
        return np.unique(np.round(np.linspace(start, end, TARGETS)))[::-1]
    return np.linspace(start, end, TARGETS)


def _whole(losses: np.ndarray) -> bool:
    """Every loss is a whole number that a float64 holds exactly."""
    return bool(np.all((losses == np.round(losses)) & (np.abs(losses) < 2.0**53)))


def ecdf_figure(runs: pd.DataFrame, path: Path) -> Path | None:
    """Share of (run, target) pairs reached against evaluations; ``None`` if no curves."""
    targets = fitness_targets(runs)
    if targets is None:
        return None
    sense = str(runs["sense"].iloc[0])
    grid = evaluation_grid(int(runs["budget"].max()))
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for algo, cs in _traces(runs).items():
        if not cs:
            continue
        hits = np.concatenate([hitting_times(c, targets, sense) for c in cs])  # [runs * T]
        share = (hits[None, :] <= grid[:, None]).mean(axis=1)
        ax.step(grid, share, where="post", label=f"{algo} ({len(cs)} runs)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("share of (run, target) pairs reached")
    ax.set_title(f"{runs['problem'].iloc[0]}: {len(targets)} fitness targets")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _median_qd_run(group: pd.DataFrame) -> pd.Series | None:
    done = group[(group["status"] == "finished") & group["qd_score"].notna()]
    done = done.sort_values("qd_score", kind="stable")
    return done.iloc[(len(done) - 1) // 2] if len(done) else None


@dataclass
class ArchiveRow:
    """One row of archive heatmaps: a run's snapshots, side by side.

    Attributes:
        label: What the row shows, at the head of each panel (an algorithm, a run).
        data: The run's ``archive.npz`` arrays (``bench.results.read_archive``).
        positions: The snapshots to draw, positions in ``data["evaluations"]``.
        measures: The measure names, for the axes (``[]``: "measure 1", ...).

    """

    label: str
    data: dict[str, np.ndarray]
    positions: list[int]
    measures: list[str]

    @property
    def evaluations(self) -> list[int]:
        """The evaluation counts of the snapshots drawn."""
        return [int(self.data["evaluations"][p]) for p in self.positions]


def default_snapshots(evaluations: np.ndarray) -> list[int]:
    """Positions of the first, middle and last snapshot (fewer when there are fewer).

    The middle one is the snapshot between them nearest half the last one's
    evaluations (the earlier of two as near): 12,000 of ``[50, 1000, ..., 25000]``.
    """
    n = len(evaluations)
    if n < 3:
        return list(range(n))
    inner = np.asarray(evaluations[1:-1], dtype=np.float64)
    middle = 1 + int(np.argmin(np.abs(inner - float(evaluations[-1]) / 2)))
    return [0, middle, n - 1]


def drawable(data: dict[str, np.ndarray] | None) -> bool:
    """Whether archive arrays have a snapshot on a grid of 1 or 2 measures, which heatmaps show."""
    return data is not None and len(data["bins"]) <= 2 and len(data["evaluations"]) > 0


def _panel(
    ax: Axes, row: ArchiveRow, position: int, sense: str, limits: tuple[float, float]
) -> AxesImage:
    """Draw one snapshot of ``row`` on ``ax``; return the image (for the colour bar)."""
    data = row.data
    bins = [int(b) for b in data["bins"]] + [1] * (2 - len(data["bins"]))
    grid = np.full(bins[0] * bins[1], np.nan)  # flat index: C order, last measure fastest
    cells = snapshot_cells(data, position)
    grid[cells["index"]] = -cells["objective"] if sense == "min" else cells["objective"]
    ranges = [tuple(r) for r in data["ranges"]] + [(0.0, 1.0)] * (2 - len(data["bins"]))
    image = ax.imshow(
        grid.reshape(bins).T, origin="lower", aspect="auto", vmin=limits[0], vmax=limits[1],
        cmap="viridis", interpolation="nearest", extent=(*ranges[0], *ranges[1]),
    )  # fmt: skip
    ax.set_title(f"{row.label}: {int(data['evaluations'][position])} evals", fontsize="small")
    ax.set_xlabel(row.measures[0] if row.measures else "measure 1", fontsize="small")
    if len(data["bins"]) > 1:
        ax.set_ylabel(row.measures[1] if len(row.measures) > 1 else "measure 2", fontsize="small")
    else:
        ax.set_yticks([])
    ax.tick_params(labelsize="x-small")
    return image


ZOOM_MARGIN = 2  # cells of the grid shown beyond the filled ones on a zoomed heatmap
ZOOM_SHARE = 0.25  # a zoomed heatmap is drawn where the filled cells span less of the grid
STRAY_SHARE = 0.01  # at most this share of the drawn cells at each end may be left out ...
STRAY_GAP = 5  # ... and only beyond this many empty cells from the rest: stray cells
COLOUR_SHARE = 0.01  # colours span the drawn fitness from this quantile to 1 minus it


def _kept_span(coords: np.ndarray) -> tuple[int, int]:
    """The cell span ``(low, high)`` of ``coords [E]`` without stray cells at its ends.

    A stray cell is among the outer ``STRAY_SHARE`` of the cells and more than
    ``STRAY_GAP`` cells from the rest (one evaluation of the prior mean, say, far
    from where a search spent the rest of its budget).
    """
    low = int(np.quantile(coords, STRAY_SHARE, method="inverted_cdf"))
    high = int(np.quantile(coords, 1 - STRAY_SHARE, method="inverted_cdf"))
    values = np.unique(coords)
    for v in values[values < low][::-1]:  # walk out while the next cell is near
        if low - v > STRAY_GAP:
            break
        low = int(v)
    for v in values[values > high]:
        if v - high > STRAY_GAP:
            break
        high = int(v)
    return low, high


def filled_extent(rows: list[ArchiveRow]) -> list[tuple[float, float]] | None:
    """The measure ranges of the cells filled in any drawn panel, ``ZOOM_MARGIN`` cells wider.

    Stray cells far from the rest (``_kept_span``) are left outside; ``stray_cells``
    counts them.

    Args:
        rows: What ``draw_archive`` draws; rows of other grids than the first's are ignored.

    Returns:
        ``[(low, high)]`` per measure (at most 2) in the measures' units, inside the
        grid's ranges; ``None`` where no drawn panel has a filled cell.

    """
    spans = _cell_spans(rows)
    if spans is None:
        return None
    ranges = np.asarray(rows[0].data["ranges"], dtype=np.float64)  # [M, 2]
    bins = [int(b) for b in rows[0].data["bins"]]
    extent = []
    for m, (low, high) in enumerate(spans):
        width = (ranges[m, 1] - ranges[m, 0]) / bins[m]
        low, high = max(low - ZOOM_MARGIN, 0), min(high + 1 + ZOOM_MARGIN, bins[m])
        extent.append((ranges[m, 0] + low * width, ranges[m, 0] + high * width))
    return extent


def stray_cells(rows: list[ArchiveRow]) -> int:
    """How many drawn cells (per row, over its panels) ``filled_extent`` leaves outside."""
    spans = _cell_spans(rows)
    if spans is None:
        return 0
    count = 0
    for _, cells in _drawn_cells(rows):
        outside = np.zeros(len(cells[0]), dtype=bool)
        for c, (low, high) in zip(cells, spans, strict=True):
            outside |= (c < low) | (c > high)
        count += int(outside.sum())
    return count


def _drawn_cells(rows: list[ArchiveRow]) -> list[tuple[ArchiveRow, tuple[np.ndarray, ...]]]:
    """Per row on the first row's grid, the cells filled in any of its panels, per measure."""
    first = rows[0].data
    bins = [int(b) for b in first["bins"]]
    ranges = np.asarray(first["ranges"], dtype=np.float64)
    out = []
    for r in rows:
        if list(map(int, r.data["bins"])) != bins or not np.array_equal(r.data["ranges"], ranges):
            continue
        index = np.unique(
            np.concatenate([snapshot_cells(r.data, p)["index"] for p in r.positions])
        ).astype(np.int64)
        out.append((r, np.unravel_index(index, bins)))
    return out


def _cell_spans(rows: list[ArchiveRow]) -> list[tuple[int, int]] | None:
    """Per measure, the span of cells kept in view (``_kept_span``), ``None`` with none drawn."""
    drawn = _drawn_cells(rows)
    if not drawn or not sum(len(cells[0]) for _, cells in drawn):
        return None
    measures = len(drawn[0][1])
    return [
        _kept_span(np.concatenate([cells[m] for _, cells in drawn])) for m in range(measures)
    ]


def draw_archive(rows: list[ArchiveRow], sense: str, path: Path, zoom: bool = False) -> Path:
    """Heatmaps of the cells' fitness at the chosen snapshots, one row per ``ArchiveRow``.

    Every panel shares one colour scale. Grids of 1 or 2 measures only (``drawable``).

    Args:
        rows: The runs and snapshots, one figure row each.
        sense: ``"min"`` or ``"max"``, the problem's.
        path: The figure file.
        zoom: Show every panel on the same ``filled_extent`` instead of the whole grid
            (where a map fills a small corner of it, as the set-diversity maps do).

    Returns:
        ``path``, written (its suffix gives the format: ``.png``, ``.pdf``, ``.svg``...).

    """
    ncol = max(len(r.positions) for r in rows)
    fig = Figure(figsize=(3.0 * ncol + 1.0, 2.6 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), ncol, squeeze=False)
    drawn = [snapshot_cells(r.data, p)["objective"] for r in rows for p in r.positions]
    values = np.concatenate(drawn)
    fitness = -values if sense == "min" else values
    limits, extend = _colour_limits(fitness)
    extent = filled_extent(rows) if zoom else None
    image = None
    for i, row in enumerate(rows):
        for c in range(ncol):
            if c < len(row.positions):
                image = _panel(axes[i, c], row, row.positions[c], sense, limits)
                if extent is not None:
                    axes[i, c].set_xlim(*extent[0])
                    if len(extent) > 1:
                        axes[i, c].set_ylim(*extent[1])
            else:
                axes[i, c].axis("off")
    if image is not None:
        label = f"fitness of the cell's elite ({sense}imise)"
        fig.colorbar(image, ax=axes, label=label, extend=extend)
    return _save(fig, path)


def _colour_limits(fitness: np.ndarray) -> tuple[tuple[float, float], str]:
    """Colour limits of the drawn fitness ``[E]`` and the colour bar's ``extend``.

    From the ``COLOUR_SHARE`` quantile to ``1 - COLOUR_SHARE``, so that one cell far
    from the rest (a prior-mean sample at similarity 1.0) does not paint every other
    cell one colour; cells beyond take the end colours, and the bar's arrows say so.
    """
    if not len(fitness):
        return (0.0, 1.0), "neither"
    low = float(np.quantile(fitness, COLOUR_SHARE, method="inverted_cdf"))
    high = float(np.quantile(fitness, 1 - COLOUR_SHARE, method="inverted_cdf"))
    below, above = bool((fitness < low).any()), bool((fitness > high).any())
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}
    return (low, high), extend.get((below, above), "neither")


def archive_figure(
    runs: pd.DataFrame, records: dict[str, dict], path: Path, zoom: Path | None = None
) -> tuple[Path | None, str, str]:
    """Fitness of the filled cells at the first, middle and last snapshot, one row per algorithm.

    Args:
        runs: One problem's rows of the runs table.
        records: Run records by run id.
        path: The figure on the whole grid.
        zoom: Where to draw the same panels zoomed to the filled cells, if they fill
            under ``ZOOM_SHARE`` of the grid's area (``None``: never drawn).

    Returns:
        The figure (``None`` where no run saved 1-D or 2-D snapshots), a caption
        naming the runs shown and the evaluation counts of their panels, and the
        zoomed figure's caption (``""`` where it was not drawn).

    """
    sense = str(runs["sense"].iloc[0])
    shown = []
    for algo, g in runs.groupby("algo", sort=False):
        run = _median_qd_run(g)
        data = read_archive(Path(run["path"])) if run is not None else None
        if drawable(data):
            measures = (records.get(run["run_id"], {}).get("archive") or {}).get("measures", [])
            row = ArchiveRow(str(algo), data, default_snapshots(data["evaluations"]), measures)
            shown.append((row, run))
    if not shown:
        return None, "", ""
    caption = "Passive archive of each algorithm's median-QD-score run, at its first, middle and "
    caption += "last snapshot: " + "; ".join(
        f"{row.label} seed {int(run['seed'])} ({_counts(row.evaluations)} evaluations)"
        for row, run in shown
    )
    rows = [row for row, _ in shown]
    zoomed = _zoom_caption(rows) if zoom is not None else ""
    if zoomed:
        draw_archive(rows, sense, zoom, zoom=True)
    return draw_archive(rows, sense, path), caption, zoomed


def _zoom_caption(rows: list[ArchiveRow]) -> str:
    """What a zoomed heatmap of ``rows`` shows, or ``""`` where zooming shows little more.

    Zooming is worth it where the filled cells (with their margin) span under
    ``ZOOM_SHARE`` of the grid's area.
    """
    extent = filled_extent(rows)
    if extent is None:
        return ""
    ranges = np.asarray(rows[0].data["ranges"], dtype=np.float64)
    spans = [(lo, hi, float(r[0]), float(r[1])) for (lo, hi), r in zip(extent, ranges, strict=True)]
    share = float(np.prod([(hi - lo) / (r1 - r0) for lo, hi, r0, r1 in spans]))
    if share >= ZOOM_SHARE:
        return ""
    names = [*rows[0].measures, *(f"measure {m + 1}" for m in range(len(spans)))]
    text = " and ".join(
        f"{name} {lo:.3g} to {hi:.3g} (of {r0:.3g} to {r1:.3g})"
        for name, (lo, hi, r0, r1) in zip(names, spans, strict=False)
    )
    stray = stray_cells(rows)
    left = (
        f"; {stray} stray cell{'s' if stray > 1 else ''} more than {STRAY_GAP} cells from "
        "the rest lie outside (see the whole grid above)"
        if stray
        else ""
    )
    return (
        f"The same panels zoomed to the cells filled in any of them ({share:.1%} of the "
        f"grid, {ZOOM_MARGIN} cells of margin): {text}{left}"
    )


def _counts(evaluations: list[int]) -> str:
    """``[50, 12000, 25000]`` as ``"50, 12,000 and 25,000"``."""
    words = [f"{n:,}" for n in evaluations]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def cd_figure(result: Friedman, path: Path, alpha: float) -> Path | None:
    """Critical-difference diagram (Nemenyi) of average ranks; ``None`` without a post-hoc."""
    if result.nemenyi is None:
        return None
    fig = Figure(figsize=(6.4, 0.6 + 0.35 * len(result.ranks)))
    ax = fig.add_subplot()
    sp.critical_difference_diagram(result.ranks, result.nemenyi, ax=ax, alpha=alpha)
    ax.set_title(
        f"average ranks over {result.blocks} blocks; CD = {result.cd:.2f} (Nemenyi, α={alpha})",
        fontsize="small",
    )
    return _save(fig, path)


def winrate_figure(matrix: pd.DataFrame, path: Path) -> Path | None:
    """Heatmap of the win-rate matrix with its values written in; ``None`` if empty."""
    if matrix.empty:
        return None
    n = len(matrix)
    fig = Figure(figsize=(1.2 + 0.7 * n, 0.8 + 0.6 * n))
    ax = fig.add_subplot()
    image = ax.imshow(matrix.to_numpy(dtype=float), vmin=0, vmax=1, cmap="RdBu")
    ax.set_xticks(range(n), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(n), matrix.index)
    for i in range(n):
        for j in range(n):
            v = matrix.iat[i, j]
            if not math.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="small")
    ax.set_xlabel("opponent")
    ax.set_ylabel("algorithm")
    fig.colorbar(image, ax=ax, label="chance a run beats the opponent's")
    return _save(fig, path)


def diversity_figure(result: Diversity, path: Path) -> Path | None:
    """Heatmap of the pairwise distances between the runs' best faces; ``None`` under 2 faces.

    Rows and columns are the embedded runs ``[N]`` in ``result.labels`` order
    (algorithm, then seed); lines separate the algorithms. The colours span the
    distances between different runs (the zero diagonal is left blank so it
    does not wash them out); values are written in up to 15 runs.
    """
    n = len(result.labels)
    if n < 2:
        return None
    dist = np.array(result.distances, dtype=np.float64)  # [N, N]
    np.fill_diagonal(dist, np.nan)
    low, high = float(np.nanmin(dist)), float(np.nanmax(dist))
    side = min(1.6 + 0.42 * n, 16.0)  # inches
    label_size = 8.0 if n <= 35 else max(3.0, 280.0 / n)  # points: past 35 runs labels shrink
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.add_subplot()
    image = ax.imshow(dist, vmin=low, vmax=max(high, low + 1e-6), cmap="magma_r")
    ax.set_xticks(range(n), result.labels, rotation=60, ha="right", fontsize=label_size)
    ax.set_yticks(range(n), result.labels, fontsize=label_size)
    for i in range(1, n):
        if result.algos[i] != result.algos[i - 1]:
            ax.axhline(i - 0.5, color="grey", linewidth=1.5)
            ax.axvline(i - 0.5, color="grey", linewidth=1.5)
    if n <= 15:
        for i, j in zip(*np.nonzero(np.isfinite(dist)), strict=True):
            dark = dist[i, j] > low + 0.6 * (high - low)
            ax.text(j, i, f"{dist[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if dark else "black")  # fmt: skip
    ax.set_title(f"{result.problem}: best faces of {n} runs", fontsize="small")
    fig.colorbar(
        image, ax=ax, fraction=0.046, pad=0.04, label="L2 distance between FaceNet embeddings"
    )
    return _save(fig, path)

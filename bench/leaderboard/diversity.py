"""Diversity of solutions on the face problems: how far apart independent runs' best faces are.

The face problem's report carries the FaceNet embedding of each run's best face
(``record["report"]["facenet_embedding"]``, 512 unit-norm floats). Across the
finished runs (seeds) of one algorithm on one target, the pairwise L2 distances
between those embeddings say whether the runs found one face or many (seeds
digest §1: min, max, mean ± std over the pairs, and a heatmap of all runs).

Finished runs whose record has no usable embedding (the report failed, an older
record, a malformed list) are left out of the distances and counted in the
``skipped`` column, each named with its reason; failed and pending runs are
counted in ``planned`` − ``finished``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from bench.leaderboard.formatting import cell

EMBEDDING_KEY = "facenet_embedding"
ALL_ALGOS = "all algorithms"
TABLE_COLUMNS = [
    "algo", "target", "planned", "finished", "embedded", "skipped", "pairs",
    "min_dist", "max_dist", "mean_dist", "std_dist",
]  # fmt: skip
LEGEND = {
    "algo": f"algorithm ('{ALL_ALGOS}': every best face on the target, as in the heatmap)",
    "target": "the problem's target (seed:N of the generator, or photo paths)",
    "planned": "runs planned on this target",
    "finished": "runs that spent their whole budget",
    "embedded": "finished runs whose record holds the best face's FaceNet embedding",
    "skipped": "finished runs without a usable embedding (listed under the table)",
    "pairs": "pairs of embedded runs, embedded × (embedded − 1) / 2",
    "min_dist": "smallest L2 distance between two runs' best-face embeddings",
    "max_dist": "largest L2 distance between two runs' best-face embeddings",
    "mean_dist": "mean L2 distance over the pairs",
    "std_dist": "standard deviation (ddof=1) of the L2 distance over the pairs",
}
SHOWN_COLUMNS = [*TABLE_COLUMNS[:-2], "mean ± std"]  # as the pages show the table
LEGEND["mean ± std"] = f"{LEGEND['mean_dist']} ± {LEGEND['std_dist']}"
CAPTION = (
    "Diversity of solutions: L2 distances between the FaceNet embeddings of the best faces "
    "of independent runs (ordered by algorithm, then seed; lines separate algorithms; colours "
    "span the smallest to the largest distance between two runs, the diagonal is left blank)"
)


@dataclass
class Diversity:
    """The diversity of the best faces on one face problem.

    Attributes:
        problem: The problem's name.
        table: One row per (target, algorithm), then a pooled row per target
            (``TABLE_COLUMNS``).
        labels: ``[N]`` heatmap labels of the embedded runs, ordered by
            algorithm (plan order), then target, then seed.
        algos: ``[N]`` algorithm of each of those runs.
        distances: ``[N, N]`` pairwise L2 distances between their embeddings.
        skipped: One line per finished run left out, with the reason.
        run_ids: ``[N]`` run id of each of those runs (heatmap order).

    """

    problem: str
    table: pd.DataFrame
    labels: list[str] = field(default_factory=list)
    algos: list[str] = field(default_factory=list)
    distances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    skipped: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


def embedding_of(record: dict[str, Any] | None) -> tuple[np.ndarray | None, str]:
    """The best face's embedding ``[D]`` in a run record, or ``None`` and why not."""
    report = (record or {}).get("report")
    if not isinstance(report, dict):
        error = (record or {}).get("report_error") or {}
        why = f": {error.get('type')}: {error.get('message')}" if error else ""
        return None, f"the record has no report{why}"
    values = report.get(EMBEDDING_KEY)
    if values is None:
        return None, f"the report has no '{EMBEDDING_KEY}'"
    try:
        emb = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"'{EMBEDDING_KEY}' is not a list of numbers"
    if emb.ndim != 1 or not len(emb) or not np.isfinite(emb).all():
        return None, f"'{EMBEDDING_KEY}' is not a finite vector"
    return emb, ""


def pairwise_distances(embeddings: np.ndarray) -> np.ndarray:
    """L2 distances ``[N, N]`` between the rows of ``embeddings [N, D]``."""
    return cdist(embeddings, embeddings, "euclidean")  # pair by pair: exact, O(N²) memory


def summarise_pairs(distances: np.ndarray) -> dict[str, float | int]:
    """``pairs``, ``min_dist``, ``max_dist``, ``mean_dist``, ``std_dist`` of ``distances [N, N]``.

    Only the pairs above the diagonal count (each pair once, no run against itself).
    """
    upper = distances[np.triu_indices(len(distances), k=1)]  # [N (N - 1) / 2]
    if not len(upper):
        nan = math.nan
        return {"pairs": 0, "min_dist": nan, "max_dist": nan, "mean_dist": nan, "std_dist": nan}
    return {
        "pairs": len(upper),
        "min_dist": float(upper.min()),
        "max_dist": float(upper.max()),
        "mean_dist": float(upper.mean()),
        "std_dist": float(upper.std(ddof=1)) if len(upper) > 1 else math.nan,
    }


UNKNOWN_TARGET = "unknown"


def _targets(runs: pd.DataFrame, records: dict[str, dict[str, Any]]) -> list[str]:
    """The target of each run ``[len(runs)]``.

    From the run's problem block (``describe()``), else from the target parameter
    of its spec (pending runs), else the problem's only known target, else
    ``UNKNOWN_TARGET``.
    """
    found: list[str | None] = []
    for run_id, params in zip(runs["run_id"], runs["problem_params"], strict=True):
        described = ((records.get(run_id) or {}).get("problem") or {}).get("target")
        if not described and isinstance(params, str):
            described = json.loads(params).get("target")
        found.append(str(described) if described else None)
    known = set(found) - {None}
    fallback = known.pop() if len(known) == 1 else UNKNOWN_TARGET
    return [t or fallback for t in found]


def _embeddings(
    done: pd.DataFrame, records: dict[str, dict[str, Any]]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Usable embeddings of finished runs by run id, and why the others are not usable.

    Embeddings whose length differs from the most common one are not usable either:
    one matrix needs one embedding size.
    """
    found, why = {}, {}
    for run_id in done["run_id"]:
        emb, reason = embedding_of(records.get(run_id))
        if emb is None:
            why[run_id] = reason
        else:
            found[run_id] = emb
    lengths = pd.Series([len(e) for e in found.values()], dtype=int)
    if len(lengths):
        size = int(lengths.mode().max())
        for run_id in [i for i, e in found.items() if len(e) != size]:
            why[run_id] = f"its embedding has {len(found.pop(run_id))} values, the others {size}"
    return found, why


def diversity(runs: pd.DataFrame, records: dict[str, dict[str, Any]]) -> Diversity:
    """The diversity table and distance matrix of one face problem.

    Args:
        runs: Rows of ``bench.leaderboard.runs.load_runs`` for one problem.
        records: Run records by run id.

    Returns:
        The problem's ``Diversity``.

    """
    problem = str(runs["problem"].iloc[0])
    algos = list(dict.fromkeys(runs["algo"]))
    frame = runs.assign(target=_targets(runs, records))
    targets = list(dict.fromkeys(frame["target"]))
    frame = frame.assign(
        algo_order=frame["algo"].map(algos.index), target_order=frame["target"].map(targets.index)
    ).sort_values(["algo_order", "target_order", "seed"], kind="stable")
    done = frame[frame["status"] == "finished"]
    found, why = _embeddings(done, records)
    skipped = [
        f"{r.algo}, seed {r.seed}: {why[r.run_id]}"
        for r in done.itertuples(index=False)
        if r.run_id in why
    ]
    rows = []
    for target in targets:
        block = []
        for algo in algos:
            g = frame[(frame["algo"] == algo) & (frame["target"] == target)]
            if g.empty:
                continue
            ids = [i for i in g["run_id"] if i in found]
            finished = int((g["status"] == "finished").sum())
            block.append(
                {
                    "algo": algo, "target": target, "planned": len(g), "finished": finished,
                    "embedded": len(ids), "skipped": finished - len(ids),
                    **summarise_pairs(_distances([found[i] for i in ids])),
                }
            )  # fmt: skip
        if len(block) > 1:
            ids = [i for i in frame.loc[frame["target"] == target, "run_id"] if i in found]
            sums = {k: sum(r[k] for r in block) for k in TABLE_COLUMNS[2:6]}
            pooled = summarise_pairs(_distances([found[i] for i in ids]))
            block.append({"algo": ALL_ALGOS, "target": target, **sums, **pooled})
        rows += block
    shown = frame[frame["run_id"].isin(list(found))]
    many = len(targets) > 1
    labels = [
        f"{r.algo} s{r.seed}" + (f" ({r.target})" if many else "")
        for r in shown.itertuples(index=False)
    ]
    return Diversity(
        problem,
        pd.DataFrame(rows, columns=TABLE_COLUMNS),
        labels,
        [str(a) for a in shown["algo"]],
        _distances([found[i] for i in shown["run_id"]]),
        skipped,
        [str(i) for i in shown["run_id"]],
    )


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` as the pages show it: mean and standard deviation in one "mean ± std" cell.

    A single pair shows its distance alone; no pair shows "–".
    """
    both = [
        f"{cell('mean_dist', m)} ± {cell('std_dist', s)}" if pairs > 1 else cell("mean_dist", m)
        for pairs, m, s in zip(table["pairs"], table["mean_dist"], table["std_dist"], strict=True)
    ]
    return table.assign(**{"mean ± std": both})[SHOWN_COLUMNS]


def _distances(embeddings: list[np.ndarray]) -> np.ndarray:
    """Pairwise distances ``[N, N]`` of ``N`` embeddings of one length (``[0, 0]`` for none)."""
    return pairwise_distances(np.stack(embeddings)) if embeddings else np.zeros((0, 0))


MAX_RUN_FACES = 60  # best faces shown under a heatmap; the heatmap itself shows every run
RUN_FACES_CAPTION = (
    "Best face of each run in the heatmap, in its order and with its labels (one row per algorithm)"
)


@dataclass
class RunFaces:
    """The best faces of a heatmap's runs, as a face problem's page shows them.

    Attributes:
        shown: ``(label, algorithm, picture)`` per pictured run, in heatmap order;
            the picture is relative to the leaderboard folder.
        no_image: Labels of heatmap runs whose folder holds no ``best.png``.
        left_out: ``(label, algorithm)`` of heatmap runs with a picture not shown
            (past ``MAX_RUN_FACES``).

    """

    shown: list[tuple[str, str, str]] = field(default_factory=list)
    no_image: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)


def spread(algos: list[str], limit: int = MAX_RUN_FACES) -> list[int]:
    """Positions of at most ``limit`` runs shared fairly between algorithms, in order.

    Args:
        algos: ``[N]`` algorithm of each run, in heatmap order.
        limit: How many positions to keep.

    Returns:
        Sorted positions into ``algos``: each algorithm's first runs, taken in
        turn (one of each algorithm, then a second of each, ...) until ``limit``.

    """
    queues: dict[str, list[int]] = {}
    for i, algo in enumerate(algos):
        queues.setdefault(algo, []).append(i)
    kept: list[int] = []
    depth = 0
    while len(kept) < min(limit, len(algos)):
        kept += [q[depth] for q in queues.values() if depth < len(q)][: limit - len(kept)]
        depth += 1
    return sorted(kept)

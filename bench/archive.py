"""Grid archives on a problem's measure space, and the passive archive of every run.

Quality-diversity results compare across algorithms only if every algorithm is
judged on the same grid. So for a problem with a ``measure_space`` the
evaluator offers *every* evaluated solution, whatever the algorithm, to a
``PassiveArchive``: a pyribs ``GridArchive`` on the problem's grid whose
objective is ``-loss`` (pyribs maximises). Its QD-score uses a fixed offset,
stated in the run record:

- ``offset = -loss(worst_fitness)`` when the problem declares a finite worst
  fitness, so ``qd_score = Σ_cells (worst_loss - loss)`` is never negative and
  an elite counts by how far it is from the worst possible solution;
- ``offset = 0`` otherwise, so ``qd_score = Σ_cells -loss``.

The passive archive stores, as its "solution", the 1-based number of the
evaluation that produced each elite (not the genome), so it costs a few bytes
per cell even for 5,000-gene genomes on a 100 × 100 grid. Non-finite
evaluations are not offered. Given checkpoints (the evaluator passes
``snapshot_points(budget)``: the first batch and every 4 % of the budget), it
keeps a snapshot of its cells at each, for the leaderboard's archive heatmaps
and ``bench archive``.

``archive.npz`` (``PassiveArchive.snapshot_arrays``) stores each snapshot's
*changes*: the cells filled or improved since the snapshot before. The archive
only ever improves (a cell is never emptied), so the map at snapshot ``s`` is,
for each cell, its row with the latest snapshot ``≤ s`` (``snapshot_cells``);
files written before (every filled cell at every snapshot) read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.problem import MeasureSpace, Problem, check_batch_shape

if TYPE_CHECKING:  # pyribs takes seconds to import; only QD runs need it
    from ribs.archives import GridArchive


def grid_archive(
    measure_space: MeasureSpace,
    solution_dim: int | tuple[int, ...],
    seed: int | None = None,
    **kwargs: Any,
) -> GridArchive:
    """A pyribs ``GridArchive`` on ``measure_space``'s ranges and bins.

    Args:
        measure_space: The grid: one range and one bin count per measure.
        solution_dim: What each cell stores (``D`` for genomes, ``()`` for a scalar).
        seed: Seed of the archive's own generator (used by ``sample_elites``).
        **kwargs: Further ``GridArchive`` arguments (``learning_rate``,
            ``threshold_min``, ``qd_score_offset``, ...).

    Returns:
        An empty archive.

    """
    from ribs.archives import GridArchive

    return GridArchive(
        solution_dim=solution_dim,
        dims=tuple(measure_space.bins),
        ranges=tuple(measure_space.ranges),
        seed=seed,
        **kwargs,
    )


SNAPSHOT_STEPS = 25  # default snapshots: every budget / 25 evaluations (4 %), and the first batch


def snapshot_points(budget: int, steps: int = SNAPSHOT_STEPS) -> list[int]:
    """The evaluation counts at which a run of ``budget`` snapshots its passive archive.

    Args:
        budget: The run's evaluations.
        steps: Snapshots spread over the budget.

    Returns:
        ``1`` (after the first batch) and every multiple of ``budget / steps``, rounded
        up, sorted and without repeats: ``[1, 1000, 2000, ..., 25000]`` for 25,000. A
        batch that reaches several points is followed by one snapshot.

    """
    if budget < 1:
        return []
    return sorted({1, *(-(-k * budget // steps) for k in range(1, steps + 1))})


def qd_score_offset(problem: Problem) -> float:
    """The fixed QD-score offset of ``problem``: minus the loss of its worst fitness, or 0."""
    if problem.worst_fitness is None:
        return 0.0
    return float(-problem.loss(np.array([float(problem.worst_fitness)]))[0])


class PassiveArchive:
    """Every evaluated solution of a run, binned on the problem's grid.

    Args:
        measure_space: The problem's measure space (ranges and bins).
        offset: QD-score offset in objective (``-loss``) units.
        checkpoints: Evaluation counts at which to snapshot the cells: the first
            batch that reaches each one is followed by a snapshot.

    """

    def __init__(
        self, measure_space: MeasureSpace, offset: float = 0.0, checkpoints: Sequence[int] = ()
    ) -> None:
        self.measure_space = measure_space
        self.offset = float(offset)
        self.archive = grid_archive(measure_space, solution_dim=(), qd_score_offset=self.offset)
        self._seen = 0
        self._checkpoints = sorted({int(c) for c in checkpoints})
        self.snapshots: list[tuple[int, dict[str, np.ndarray]]] = []

    @classmethod
    def for_problem(cls, problem: Problem, budget: int | None = None) -> PassiveArchive | None:
        """The passive archive of ``problem`` (``None`` if it has no measures).

        With a ``budget``, it snapshots at ``snapshot_points(budget)``.
        """
        if problem.measure_space is None:
            return None
        checkpoints = snapshot_points(budget) if budget else ()
        return cls(problem.measure_space, qd_score_offset(problem), checkpoints)

    def add(self, loss: np.ndarray, measures: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Offer one evaluated batch.

        Args:
            loss: ``[n]`` minimisation losses.
            measures: ``[n, M]`` behaviour descriptors.
            valid: ``[n]`` booleans; rows that are ``False`` (non-finite
                evaluations) are counted but not offered.

        """
        n = len(loss)
        check_batch_shape(measures, (n, self.measure_space.dim), "passive archive measures")
        ok = np.isfinite(loss) & np.isfinite(measures).all(axis=1)
        if valid is not None:
            ok &= np.asarray(valid, dtype=bool)
        number = self._seen + 1 + np.arange(n, dtype=np.float64)  # 1-based evaluation number
        self._seen += n
        if ok.any():
            objective = -np.asarray(loss, dtype=np.float64)[ok]
            self.archive.add(number[ok], objective, self.measure_space.clip(measures[ok]))
        if self._checkpoints and self._seen >= self._checkpoints[0]:
            self._checkpoints = [c for c in self._checkpoints if c > self._seen]
            self.snapshots.append((self._seen, self.cells()))

    def stats(self) -> dict[str, float | int]:
        """``qd_score``, ``coverage`` (fraction of cells filled) and ``elites`` (cells filled)."""
        s = self.archive.stats
        return {
            "qd_score": float(s.qd_score),
            "coverage": float(s.coverage),
            "elites": int(s.num_elites),
        }

    def describe(self) -> dict[str, Any]:
        """The grid, the offset and the current statistics, for the run record."""
        return {
            "measures": list(self.measure_space.names),
            "ranges": [list(r) for r in self.measure_space.ranges],
            "bins": list(self.measure_space.bins),
            "objective": "-loss",
            "qd_score_offset": self.offset,
            **self.stats(),
        }

    def cells(self) -> dict[str, np.ndarray]:
        """The filled cells now.

        Returns:
            ``index`` ``[E]`` (flat grid index), ``objective`` ``[E]`` (``-loss``) and
            ``found_at`` ``[E]`` (1-based number of the evaluation that found the elite).

        """
        data = self.archive.data(["index", "objective", "solution"])
        return {
            "index": np.asarray(data["index"], dtype=np.int64),
            "objective": np.asarray(data["objective"], dtype=np.float64),
            "found_at": np.asarray(data["solution"], dtype=np.int64),
        }

    def snapshot_arrays(self) -> dict[str, np.ndarray]:
        """Every snapshot as flat arrays for ``archive.npz``: each one's changes only.

        Returns:
            ``bins`` ``[M]``, ``ranges`` ``[M, 2]``, ``offset`` ``[]``, ``evaluations``
            ``[S]`` (when each snapshot was taken) and, over the ``K`` cells filled or
            improved since the snapshot before (all filled cells for the first one),
            ``snapshot`` ``[K]`` (the position in ``evaluations`` of the snapshot that
            found the cell so), ``index``, ``objective`` and ``found_at`` ``[K]`` (see
            ``cells``). ``snapshot_cells`` rebuilds a snapshot's whole map.

        """
        parts, before = [], 0
        for evaluations, cells in self.snapshots:
            new = cells["found_at"] > before  # an elite found since the snapshot before
            parts.append({k: v[new] for k, v in cells.items()})
            before = evaluations
        parts = parts or [
            {"index": np.zeros(0, np.int64), "objective": np.zeros(0), "found_at": np.zeros(0)}
        ]
        out = {k: np.concatenate([p[k] for p in parts]) for k in ("index", "objective", "found_at")}
        out["snapshot"] = np.repeat(np.arange(len(parts)), [len(p["index"]) for p in parts])
        return {
            "bins": np.asarray(self.measure_space.bins, dtype=np.int64),
            "ranges": np.asarray(self.measure_space.ranges, dtype=np.float64),
            "offset": np.asarray(self.offset),
            "evaluations": np.asarray([n for n, _ in self.snapshots], dtype=np.int64),
            **out,
        }


def snapshot_cells(data: Mapping[str, np.ndarray], position: int) -> dict[str, np.ndarray]:
    """The whole map at one snapshot of ``archive.npz``'s arrays (either layout).

    Args:
        data: The arrays of ``archive.npz`` (``bench.results.read_archive``).
        position: The snapshot's position in ``data["evaluations"]``.

    Returns:
        ``index``, ``objective`` and ``found_at`` ``[E]`` of the cells filled then,
        in flat-index order: for each cell, its row of the latest snapshot ``≤ position``.

    """
    rows = np.flatnonzero(np.asarray(data["snapshot"]) <= position)
    rows = rows[np.argsort(data["snapshot"][rows], kind="stable")][::-1]  # latest first
    _, first = np.unique(data["index"][rows], return_index=True)
    keep = rows[first]
    return {k: np.asarray(data[k])[keep] for k in ("index", "objective", "found_at")}


def snapshot_summary(data: Mapping[str, np.ndarray], sense: str) -> list[dict[str, float | int]]:
    """One row per snapshot of ``archive.npz``'s arrays, as the run's curve states them.

    Args:
        data: The arrays of ``archive.npz``.
        sense: ``"min"`` or ``"max"``, the problem's, to give the best elite as a fitness.

    Returns:
        Per snapshot: ``evaluations``, ``cells`` (filled), ``coverage`` (their share of
        the grid), ``qd_score`` (``Σ objective - offset``) and ``best`` (the best
        elite's fitness; NaN while the map is empty).

    """
    total = int(np.prod(data["bins"]))
    offset = float(data["offset"])
    out = []
    for position, evaluations in enumerate(np.asarray(data["evaluations"]).tolist()):
        objective = snapshot_cells(data, position)["objective"]
        best = float(objective.max()) if len(objective) else float("nan")
        out.append({
            "evaluations": int(evaluations),
            "cells": len(objective),
            "coverage": len(objective) / total,
            "qd_score": float(np.sum(objective - offset)),
            "best": -best if sense == "min" else best,
        })  # fmt: skip
    return out

"""pymoo's Nelder–Mead on arrays: the same points as pymoo 0.6.2, without an object per vertex.

pymoo keeps the simplex as a ``Population`` of ``Individual`` objects. After
every step (one or two evaluations) it sorts them, looks up the optimum and
checks its termination criteria, and each of those reads every vertex's
attributes through Python calls: at D = 512 that is about 11 ms per step on
one CPU thread, which is 23% of a face run with ``dcgan-faces``, although the
arithmetic of a step is a centroid and one new vertex.

``ArrayNelderMead`` runs the same algorithm on a ``[D + 1, D]`` array of
vertices and a ``[D + 1]`` array of losses, in the same order of operations:

- the 20 prior samples (``n_sample_points``) are drawn by the same sampling
  with the same generator; the best (first among ties) is ``x0``;
- the initial simplex is pymoo's ``initialize_simplex`` around ``x0``;
- each step computes the centroid of the D best vertices as pymoo does (the
  rows gathered in pymoo's order and averaged), reflects the worst through it
  with pymoo's ``max_alpha`` and clipping, and expands, contracts or shrinks
  by pymoo's rules with its adaptive coefficients and strict comparisons;
- the vertices are re-sorted by loss with the same stable sort;
- ``NelderAndMeadTermination`` is evaluated with the same numbers: loss
  spread, box-normalised vertex spread, and the degenerate-simplex check on
  every edge, whose lengths are kept between steps and recomputed only for
  the vertices that moved (the same arithmetic as pymoo's
  ``vectorized_cdist``, ``pymoo_fast_paths.pair_distances``).

Vertices stay in fixed rows ("slots") and a permutation gives pymoo's order,
so a step writes one row instead of moving the whole simplex. Tests run both
side by side and compare every genome asked, restarts included.

One deliberate difference from pymoo 0.6.2: ``init_simplex_scale`` is
honoured (pymoo accepts it and then builds the simplex with 0.05 whatever it
was given); the adapter applies the same fix to pymoo's own class, so both
agree for every value and equal plain pymoo at the default 0.05.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from bench.algorithms.pymoo_fast_paths import pair_distances
from pymoo.algorithms.soo.nonconvex.nelder import adaptive_params, initialize_simplex
from pymoo.operators.repair.to_bound import set_to_bounds_if_outside_by_problem
from pymoo.util.vectors import max_alpha

# NelderAndMeadTermination's defaults in pymoo 0.6.2.
X_TOL = 1e-6
F_TOL = 1e-6
N_MAX_ITER = 1e6
N_MAX_EVALS = 1e6
GATHER_NUMBERS = 1 << 20  # centroid_of gathers blocks up to 8 MiB of float64
MOVES = ("reflect", "expand", "outside", "inside", "shrink")


def centroid_of(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``X[rows].mean(axis=0)``, bit for bit, without gathering a large block.

    NumPy reduces a C-contiguous ``[m, D]`` array over axis 0 by adding whole
    rows in turn into one accumulator; adding the rows in the same order gives
    the same sums. Small blocks are gathered (faster than a Python loop); above
    ``GATHER_NUMBERS`` the rows are added in place (at D = 5,000 a gather moves
    200 MB per step: 296 ms against 23 ms on one thread).

    Args:
        X: Vertices, shape ``[m, D]``.
        rows: Row indices in the order pymoo averages them, shape ``[k]``.

    Returns:
        Their mean, shape ``[D]``.

    """
    if len(rows) * X.shape[1] <= GATHER_NUMBERS:
        return X[rows].mean(axis=0)
    total = X[rows[0]].copy()
    for row in rows[1:]:
        np.add(total, X[row], out=total)
    return np.true_divide(total, len(rows), out=total)


def simplex_edges(x0: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Edge lengths of pymoo's initial simplex in O(D²), equal to ``pair_distances``.

    Vertex ``k`` is ``x0`` with gene ``k`` moved, so two vertices differ in at
    most two genes and every other difference is exactly 0. A row sum that
    adds zeros to one or two squares is exact whatever its order, hence the
    length between vertex i and j is ``sqrt(a_i + a_j)`` with
    ``a_k = (vertices[k, k] - x0[k])²``, and ``sqrt(a_k)`` from ``x0`` itself.

    Args:
        x0: The start, shape ``[D]``.
        vertices: The other vertices (pymoo's ``initialize_simplex``), shape ``[D, D]``.

    Returns:
        Lengths between the ``D + 1`` vertices ``[x0, *vertices]``, shape
        ``[D + 1, D + 1]``, NaN on the diagonal.

    """
    moved = np.arange(len(vertices))
    if np.count_nonzero(vertices - x0) != np.count_nonzero(vertices[moved, moved] - x0):
        every = np.concatenate([x0[None], vertices])  # not pymoo's form: measure every pair
        out = pair_distances(every, every)
        np.fill_diagonal(out, np.nan)
        return out
    squares = np.square(vertices[moved, moved] - x0)
    out = np.empty((len(vertices) + 1,) * 2)
    out[1:, 1:] = np.sqrt(np.add.outer(squares, squares))
    out[0, 1:] = out[1:, 0] = np.sqrt(squares)
    np.fill_diagonal(out, np.nan)
    return out


class ArrayNelderMead:
    """pymoo's ``NelderMead`` with its default termination, asking and told in arrays.

    Args:
        problem: The pymoo problem whose box (``xl``, ``xu``, shape ``(D,)``)
            bounds the search; it is never evaluated here.
        seed: Integer seed of the algorithm's generator (pymoo's ``seed``).
        sampling: pymoo ``Sampling`` that draws the initial points (its
            ``_do(problem, n, random_state=...)`` returns ``[n, D]``).
        n_sample_points: Initial samples from which ``x0`` is chosen.
        init_simplex_scale: Initial simplex edge, as a fraction of the box width.
        terminates: Whether pymoo's termination criteria apply (``False`` is
            pymoo's ``NoTermination``: the simplex never stops).

    """

    def __init__(
        self,
        problem: Any,
        seed: int,
        sampling: Any,
        n_sample_points: int = 20,
        init_simplex_scale: float = 0.05,
        terminates: bool = True,
    ) -> None:
        if int(n_sample_points) < 1:
            raise ValueError(f"n_sample_points must be at least 1, got {n_sample_points}")
        self.problem = problem
        self.random_state = np.random.default_rng(seed)
        self.sampling = sampling
        self.n_sample_points = int(n_sample_points)
        self.init_simplex_scale = init_simplex_scale
        self.terminates = terminates
        self.alpha, self.beta, self.gamma, self.delta = adaptive_params(problem)
        self.n_iter = 1  # pymoo's iteration counter: 1 after initialisation, +1 per step
        self.perc = 0.0  # pymoo's termination progress; at 1 or more the method stops
        self.width = problem.xu - problem.xl
        self._dist = np.empty((0, 0))  # edge lengths between slots, NaN on the diagonal
        self._row_min = self._row_max = np.empty(0)  # each slot's shortest and longest edge
        self._spread = np.empty(0)  # per slot: max_j |x_j - best_j| / width_j
        self._spread_of = -1  # the best slot that _spread was measured from
        self.moves = dict.fromkeys(MOVES, 0)  # how each step ended
        # pymoo's population after the last iteration: points X[order], losses F[order]
        self.X, self.F, self.order = np.empty((0, problem.n_var)), np.empty(0), np.empty(0, int)
        self._steps = self._run()
        self._request = next(self._steps)

    def has_next(self) -> bool:
        """Whether the method goes on (pymoo's ``has_next``)."""
        return not self.perc >= 1.0

    def ask(self) -> np.ndarray:
        """The points to evaluate next, shape ``[k, D]`` (all new, never evaluated)."""
        return self._request

    def tell(self, loss: np.ndarray) -> None:
        """Losses of the points of the last ``ask()``, shape ``[k]``."""
        self._request = self._steps.send(np.asarray(loss, dtype=np.float64))

    def _run(self) -> Generator[np.ndarray, np.ndarray, None]:
        """The initialisation, simplex and steps of pymoo; yields points, receives losses."""
        problem, xl, xu = self.problem, self.problem.xl, self.problem.xu
        samples = np.asarray(
            self.sampling._do(problem, self.n_sample_points, random_state=self.random_state),
            dtype=np.float64,
        )
        f_samples = yield samples
        best = np.lexsort([f_samples, np.zeros_like(f_samples)])[0]  # FitnessSurvival
        x0, f0 = samples[best].copy(), f_samples[best]
        self._post_advance(samples, f_samples, np.arange(len(samples)), moved=None)

        vertices = initialize_simplex(problem, x0, scale=self.init_simplex_scale)
        f_vertices = yield vertices
        X = np.concatenate([x0[None], vertices])  # slots; pymoo's population is X[order]
        F = np.concatenate([[f0], f_vertices])
        order = np.arange(len(X))  # pymoo does not sort the new simplex before its first step
        edges = simplex_edges(x0, vertices) if self.terminates else None
        self._post_advance(X, F, order, moved=None, edges=edges)

        n = problem.n_var - 1  # pymoo's n: the simplex has n + 2 vertices
        while True:
            centroid = centroid_of(X, order[: n + 1])
            worst = order[n + 1]
            alpha_u = max_alpha(centroid, (centroid - X[worst]), xl, xu)
            x_reflect = centroid + min(self.alpha, alpha_u) * (centroid - X[worst])
            x_reflect = set_to_bounds_if_outside_by_problem(problem, x_reflect)
            f_reflect = (yield x_reflect[None])[0]

            # pymoo's is_better(new, old): old - new > 0 (every point is feasible here)
            move, new_x, new_f = "reflect", x_reflect, f_reflect
            if F[order[0]] - f_reflect > 0:  # better than the best: expand
                beta_u = max_alpha(centroid, (x_reflect - centroid), xl, xu)
                x_expand = centroid + min(self.beta, beta_u) * (x_reflect - centroid)
                x_expand = set_to_bounds_if_outside_by_problem(problem, x_expand)
                f_expand = (yield x_expand[None])[0]
                if f_reflect - f_expand > 0:
                    move, new_x, new_f = "expand", x_expand, f_expand
            elif F[order[n]] - f_reflect > 0:  # better than the second worst: keep it
                pass
            elif F[worst] - f_reflect > 0:  # better than the worst: outside contraction
                x_out = centroid + self.gamma * (x_reflect - centroid)
                f_out = (yield x_out[None])[0]
                move, new_x, new_f = "outside", x_out, f_out
                if not f_reflect - f_out > 0:
                    move = "shrink"
            else:  # inside contraction
                x_in = centroid - self.gamma * (x_reflect - centroid)
                f_in = (yield x_in[None])[0]
                move, new_x, new_f = "inside", x_in, f_in
                if not F[worst] - f_in > 0:
                    move = "shrink"
            self.moves[move] += 1

            if move == "shrink":
                x_best, others = X[order[0]], order[1:]
                x_shrink = x_best + self.delta * (X[others] - x_best)
                f_shrink = yield x_shrink
                X[others], F[others] = x_shrink, f_shrink
                moved = others
            else:
                X[worst], F[worst] = new_x, new_f
                moved = np.array([worst])

            order = order[np.lexsort([F[order], np.zeros(len(order))])]  # FitnessSurvival
            self._post_advance(X, F, order, moved=moved)

    def _post_advance(
        self,
        X: np.ndarray,
        F: np.ndarray,
        order: np.ndarray,
        moved: np.ndarray | None,
        edges: np.ndarray | None = None,
    ) -> None:
        """Termination progress after an iteration, then the next iteration (pymoo's order).

        Args:
            X: Vertices (or samples) in slots, shape ``[m, D]``.
            F: Their losses, shape ``[m]``.
            order: pymoo's population order as slot indices, shape ``[m]``.
            moved: Slots whose vertex changed since the last call (``None``: all).
            edges: Every edge length, shape ``[m, m]``, where already known.

        """
        self.X, self.F, self.order = X, F, order
        if self.terminates:
            self.perc = self._progress(moved, edges)
        self.n_iter += 1

    def _progress(self, moved: np.ndarray | None, edges: np.ndarray | None) -> float:
        """``NelderAndMeadTermination._update`` on ``X[order]``, with the same numbers."""
        X, F, order = self.X, self.F, self.order
        self._update_edges(X, moved, edges)
        if len(order) <= 1:
            return 0.0
        best = order[0]
        # Over every slot: the best's own row adds |0|, which leaves a maximum of |.| unchanged.
        f_delta = np.abs(F - F[best]).max()
        f_tol = 1 / (1 + (f_delta - F_TOL))
        x_delta = self._update_spread(X, best, moved).max()
        x_tol = 1 / (1 + (x_delta - X_TOL))
        # Each edge appears twice in the symmetric matrix, the diagonal is NaN and ignored.
        min_e, max_e = np.fmin.reduce(self._row_min), np.fmax.reduce(self._row_max)
        is_degenerated = int(max_e < 1e-16 or min_e / max_e < 1e-16)
        max_iter = self.n_iter / N_MAX_ITER
        max_evals = 0 / N_MAX_EVALS  # the adapter evaluates; pymoo's own evaluator counts 0
        return max(f_tol, x_tol, max_iter, max_evals, is_degenerated)

    def _update_spread(self, X: np.ndarray, best: int, moved: np.ndarray | None) -> np.ndarray:
        """Per slot, the largest box-normalised distance of a gene from the best vertex.

        Recomputed for the moved slots only while the best vertex stays; the
        elements are pymoo's ``abs((x - best) / (xu - xl))`` and a maximum is
        exact, so the maximum over slots is pymoo's ``x_delta``.
        """
        if moved is None or best != self._spread_of or best in moved or 2 * len(moved) > len(X):
            diff = np.subtract(X, X[best])
            self._spread = np.abs(np.divide(diff, self.width, out=diff), out=diff).max(axis=1)
            self._spread_of = best
        else:
            diff = np.abs((X[moved] - X[best]) / self.width)
            self._spread[moved] = diff.max(axis=1)
        return self._spread

    def _update_edges(
        self, X: np.ndarray, moved: np.ndarray | None, edges: np.ndarray | None
    ) -> None:
        """Edge lengths between slots after ``moved`` slots changed (every pair if ``None``)."""
        if edges is not None or moved is None or 2 * len(moved) > len(X):
            self._dist = edges if edges is not None else pair_distances(X, X)
            np.fill_diagonal(self._dist, np.nan)
            self._row_min = np.fmin.reduce(self._dist, axis=1)
            self._row_max = np.fmax.reduce(self._dist, axis=1)
            return
        rows = pair_distances(X[moved], X)  # [k, n]
        old = self._dist[:, moved]  # [n, k], a copy
        self._dist[moved] = rows
        self._dist[:, moved] = rows.T
        np.fill_diagonal(self._dist, np.nan)
        self._update_extremes(moved, old, rows.T)

    def _update_extremes(self, moved: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Each slot's shortest and longest edge after the columns ``moved`` changed.

        A row keeps its extreme unless the edge that held it changed (then the
        row is read again); minima and maxima are exact in any order, so the
        overall shortest and longest edge equal a pass over the whole matrix
        (12 ms at D = 5,000, where the rest of a step is 40 ms).

        Args:
            moved: The slots whose vertex moved ``[k]``.
            old: Their columns before the move ``[n, k]``.
            new: Their columns after it ``[n, k]`` (the diagonal not yet NaN).

        """
        new = new.copy()
        new[moved, np.arange(len(moved))] = np.nan  # each moved slot's own diagonal
        lost_min = np.any(old == self._row_min[:, None], axis=1)
        lost_max = np.any(old == self._row_max[:, None], axis=1)
        self._row_min = np.fmin(self._row_min, np.fmin.reduce(new, axis=1))
        self._row_max = np.fmax(self._row_max, np.fmax.reduce(new, axis=1))
        lost_min[moved] = lost_max[moved] = True  # a moved slot's whole row changed
        for extreme, lost, reduce in (
            (self._row_min, lost_min, np.fmin.reduce),
            (self._row_max, lost_max, np.fmax.reduce),
        ):
            rows = np.flatnonzero(lost)
            if len(rows):
                extreme[rows] = reduce(self._dist[rows], axis=1)

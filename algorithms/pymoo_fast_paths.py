"""Exact, faster stand-ins for the pymoo helpers that dominate its time at many genes.

Two helpers of pymoo 0.6.2 cost far more than the method they serve once a
genome has hundreds or thousands of genes (the face problem in W has 512, the
set-diversity problems 5,000):

- ``es_intermediate_recomb`` (``pymoo:es``) draws one partner index at a time
  in a Python double loop, λ × D draws: 2.3 s per generation at λ = 200,
  D = 5,000.
- ``norm_eucl_dist`` (``pymoo:pso``, twice per generation to adapt its
  coefficients; ``pymoo:niche-ga``, for its clearing) materialises every pair
  of rows at once, (n · m) × D numbers: about 6 GB and 4.4 s for 200
  particles at D = 5,000.

(Nelder–Mead's termination check, which measured every edge of the simplex
after every step with pymoo's ``vectorized_cdist``, (D + 1)² × D numbers, 0.76 s
per step at D = 512, is now part of ``nelder_mead_arrays``: the whole method
runs on arrays there and updates only the edges of vertices that moved.)

The stand-ins give **bit-identical** results (tests compare them with pymoo's
own functions, and whole runs with and without them):

- the partner indices come from one vectorised draw, which NumPy's
  ``Generator.integers`` fills from the same stream as λ × D scalar draws in
  row-major order;
- the distances use the same element-wise operations and row sums as pymoo,
  one row against a cache-sized block of others at a time instead of on
  repeated and tiled copies.

``pymoo_fast_paths()`` installs them in pymoo's modules for the duration of a
``with`` block and restores pymoo's own afterwards; the adapter wraps every
call into pymoo with it. Like the adapter's RNG swap it is not thread-safe, but
since the stand-ins are exact an interleaving can only leave an equivalent
function in place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pymoo.algorithms.soo.nonconvex.es as pymoo_es
import pymoo.algorithms.soo.nonconvex.ga_niching as pymoo_niching
import pymoo.algorithms.soo.nonconvex.pso as pymoo_pso
import pymoo.util.misc as pymoo_misc

BLOCK_NUMBERS = 1 << 18  # differences held at once by pair_distances: 2 MiB of float64
PYMOO_NORM_EUCL_DIST = pymoo_misc.norm_eucl_dist
PYMOO_ES_INTERMEDIATE_RECOMB = pymoo_es.es_intermediate_recomb


def es_intermediate_recomb(
    sigma: np.ndarray, random_state: np.random.Generator | None = None
) -> np.ndarray:
    """Intermediate recombination of step sizes, each gene with a random partner row.

    ``out[i, j] = (sigma[i, j] + sigma[k_ij, j]) / 2`` with ``k_ij`` uniform in
    ``[0, λ)``, drawn in row-major order exactly as pymoo's loop draws them.

    Args:
        sigma: Step sizes, shape ``(λ, D)``.
        random_state: The algorithm's generator (pymoo always passes it; without
            one, pymoo's own function and its default generator are used).

    Returns:
        Recombined step sizes, shape ``(λ, D)``.

    """
    if random_state is None:
        return PYMOO_ES_INTERMEDIATE_RECOMB(sigma)
    lam, dim = sigma.shape
    partner = random_state.integers(lam, size=(lam, dim))
    return (sigma + np.take_along_axis(sigma, partner, axis=0)) / 2.0


def pair_distances(A: np.ndarray, B: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """``sqrt(sum(((a - b) / scale) ** 2))`` for every pair of rows, as pymoo computes it.

    The same element-wise operations and the same row sums as pymoo's
    ``func_euclidean_distance`` (``scale=None``) and
    ``func_norm_euclidean_distance``, applied to one row of ``A`` against a
    cache-sized block of ``B`` at a time (in one reused buffer) instead of to
    repeated and tiled copies of both. When ``A is B`` only the upper
    triangle is computed and mirrored: ``a - b`` is exactly ``-(b - a)`` in
    floating point, so the squares are the same.

    Args:
        A: Points, shape ``(n, D)``.
        B: Points, shape ``(m, D)``.
        scale: Per-gene divisor, shape ``(D,)`` (pymoo's ``xu - xl``), or ``None``.

    Returns:
        Distances, shape ``(n, m)``.

    """
    same = A is B  # distances of a set to itself: the upper triangle, mirrored
    out = np.empty((len(A), len(B)))
    rows = max(1, BLOCK_NUMBERS // max(1, B.shape[1]))
    buffer = np.empty((min(rows, len(B)), B.shape[1]), dtype=np.result_type(A, B))
    for i, a in enumerate(A):
        for start in range(i if same else 0, len(B), rows):
            block = B[start : start + rows]
            diff = np.subtract(a, block, out=buffer[: len(block)])
            if scale is not None:
                diff /= scale
            np.square(diff, out=diff)
            sums = diff.sum(axis=1)
            out[i, start : start + len(block)] = sums
            if same:
                out[start : start + len(block), i] = sums
    return np.sqrt(out, out=out)


def norm_eucl_dist(problem: Any, A: Any, B: Any, **kwargs: Any) -> Any:
    """Distances normalised by the problem's box, as ``pymoo.util.misc.norm_eucl_dist``.

    Args:
        problem: The pymoo problem (its ``bounds()`` give the divisor ``xu - xl``).
        A: Points, shape ``(n, D)`` or ``(D,)``.
        B: Points, shape ``(m, D)`` or ``(D,)``.
        **kwargs: pymoo's ``vectorized_cdist`` options; given any, pymoo's own function runs.

    Returns:
        Distances, shape ``(n, m)``, squeezed like pymoo's for 1-D inputs.

    """
    if kwargs:
        return PYMOO_NORM_EUCL_DIST(problem, A, B, **kwargs)
    A, only_row = pymoo_misc.at_least_2d_array(A, extend_as="row", return_if_reshaped=True)
    B, only_column = pymoo_misc.at_least_2d_array(B, extend_as="row", return_if_reshaped=True)
    xl, xu = problem.bounds()
    M = pair_distances(A, B, xu - xl)
    if only_row and only_column:
        return M[0, 0]
    if only_row:
        return M[0]
    if only_column:
        return M[:, [0]]
    return M


@contextlib.contextmanager
def pymoo_fast_paths(enabled: bool = True) -> Iterator[None]:
    """Use the stand-ins inside pymoo for the duration of the block.

    Args:
        enabled: ``False`` leaves pymoo untouched (to compare with its own helpers).

    """
    if not enabled:
        yield
        return
    stand_ins = (
        (pymoo_es, "es_intermediate_recomb", es_intermediate_recomb),
        (pymoo_pso, "norm_eucl_dist", norm_eucl_dist),
        (pymoo_niching, "norm_eucl_dist", norm_eucl_dist),
    )
    saved = [(module, name, getattr(module, name)) for module, name, _ in stand_ins]
    for module, name, stand_in in stand_ins:
        setattr(module, name, stand_in)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)

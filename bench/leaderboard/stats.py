"""Statistics of final fitness: summaries, normality, omnibus and pairwise tests, ranks.

Every function takes plain arrays or a long DataFrame (one row per run) and an
objective sense; nothing here reads files. Tests come from scipy, statsmodels
and scikit-posthocs rather than being re-derived:

- normality per cell: Kolmogorov–Smirnov with estimated mean and variance
  (Lilliefors' correction, as the studies' KS test needs when the normal's
  parameters come from the same sample) and Shapiro–Wilk;
- omnibus per problem: one-way ANOVA where every cell is normal, otherwise
  Kruskal–Wallis (its p by permutation where a cell has fewer than 5 runs);
- pairwise: two-sided Mann–Whitney U of every algorithm against the best one,
  Holm-corrected, with the Vargha–Delaney effect size A12;
- across problems: Friedman's test on ranks within blocks (one block per
  problem, its median losses) and, where it rejects, the Nemenyi post-hoc with
  its critical difference (Demšar 2006).

Losses are fitness turned into "lower is better" (``-fitness`` for a ``max``
problem), so every comparison reads the same way whatever the sense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats
from statsmodels.stats.diagnostic import lilliefors
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05
NOT_SIGNIFICANT = "not significant"
MIN_RUNS_FOR_A12 = 2  # fewer runs on either side: A12 is 0, ½ or 1, no estimate of a chance


def to_loss(values: np.ndarray | pd.Series, sense: str) -> np.ndarray:
    """Fitness ``[n]`` as losses ``[n]`` (lower is better) for ``sense`` ``"min"``/``"max"``."""
    if sense not in ("min", "max"):
        raise ValueError(f"sense must be 'min' or 'max', got {sense!r}")
    arr = np.asarray(values, dtype=np.float64)
    return arr if sense == "min" else -arr


def summarise(values: np.ndarray, sense: str) -> dict[str, float | int]:
    """Best, median, mean, standard deviation and IQR of final fitness values ``[n]``.

    NaNs are left out (and counted in ``n_missing``); ``best`` respects ``sense``.
    """
    arr = np.asarray(values, dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    out: dict[str, float | int] = {"n": len(ok), "n_missing": len(arr) - len(ok)}
    if not len(ok):
        return out | dict.fromkeys(("best", "median", "mean", "std", "iqr"), math.nan)
    q1, q3 = np.percentile(ok, [25, 75])
    return out | {
        "best": float(ok.min() if sense == "min" else ok.max()),
        "median": float(np.median(ok)),
        "mean": float(ok.mean()),
        "std": float(ok.std(ddof=1)) if len(ok) > 1 else math.nan,
        "iqr": float(q3 - q1),
    }


def normality(values: np.ndarray, alpha: float = ALPHA) -> dict[str, float | bool | None]:
    """Kolmogorov–Smirnov (Lilliefors) and Shapiro–Wilk tests of one cell ``[n]``.

    Returns:
        ``ks_p``, ``shapiro_p`` (NaN where the test cannot run: fewer than 4
        runs for KS, 3 for Shapiro–Wilk, or all values equal) and ``normal``:
        ``True``/``False`` by the KS test at ``alpha``, ``None`` when untested.

    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    ks_p = sw_p = math.nan
    if len(arr) >= 3 and np.ptp(arr) > 0:
        sw_p = float(stats.shapiro(arr).pvalue)
        if len(arr) >= 4:
            ks_p = float(lilliefors(arr, dist="norm", pvalmethod="table")[1])
    normal = None if math.isnan(ks_p) else bool(ks_p >= alpha)
    return {"ks_p": ks_p, "shapiro_p": sw_p, "normal": normal}


@dataclass
class Omnibus:
    """An omnibus test over the algorithms of one problem.

    Attributes:
        test: ``"ANOVA"``, ``"Kruskal–Wallis"`` or ``"none"``.
        statistic: F or H.
        p: p-value (NaN when no test ran).
        note: Why this test, or why none.

    """

    test: str
    statistic: float
    p: float
    note: str

    def verdict(self, alpha: float = ALPHA) -> str:
        """``"significant (p=…)"``, ``"not significant (p=…)"`` or the note."""
        if self.test == "none":
            return self.note
        word = "significant" if self.p < alpha else NOT_SIGNIFICANT
        return f"{word} ({self.test}, p={self.p:.3g})"


def omnibus(groups: dict[str, np.ndarray], all_normal: bool) -> Omnibus:
    """ANOVA where ``all_normal``, else Kruskal–Wallis, over cells with at least 2 runs."""
    cells = {k: np.asarray(v, dtype=np.float64) for k, v in groups.items()}
    cells = {k: v[np.isfinite(v)] for k, v in cells.items()}
    cells = {k: v for k, v in cells.items() if len(v) >= 2}
    if len(cells) < 2:
        return Omnibus("none", math.nan, math.nan, "no test: fewer than 2 algorithms with 2+ runs")
    samples = list(cells.values())
    if np.ptp(np.concatenate(samples)) == 0:
        return Omnibus("none", math.nan, 1.0, "no test: every run reached the same value")
    if all_normal:
        res = stats.f_oneway(*samples)
        note = "no cell's normality rejected (KS)"
        return Omnibus("ANOVA", float(res.statistic), float(res.pvalue), note)
    res = stats.kruskal(*samples)
    if min(len(v) for v in samples) >= KW_CHI2_MIN:
        return Omnibus(
            "Kruskal–Wallis",
            float(res.statistic),
            float(res.pvalue),
            "normality rejected or untestable in some cell (KS)",
        )
    p, how = _kruskal_permutation_p(samples)
    return Omnibus(
        "Kruskal–Wallis",
        float(res.statistic),
        p,
        f"normality rejected or untestable in some cell (KS); {how} p, as a cell has fewer than "
        f"{KW_CHI2_MIN} runs",
    )


KW_CHI2_MIN = 5  # runs per cell from which Kruskal–Wallis' chi-square p is used
KW_EXACT_SPLITS = 1_000_000  # splits up to which the permutation p is counted exactly (~5 s)
KW_RESAMPLES = 99_999  # random splits drawn where there are more


def _kruskal_permutation_p(samples: list[np.ndarray]) -> tuple[float, str]:
    """Permutation p of Kruskal–Wallis' H: exact where the splits can be counted.

    The chi-square approximation is poor for small cells: 3 runs against 3
    fully separated gave p = 0.0495, "significant", where only 2 of the 20
    splits of the six runs are as extreme (p = 0.1, the exact Mann–Whitney p of
    the same runs). SciPy's ``permutation_test`` enumerates every split when
    there are at most ``KW_EXACT_SPLITS`` of them (4 cells of 3 runs: 369,600),
    and otherwise draws ``KW_RESAMPLES`` from a fixed seed (so a leaderboard
    rebuilt from the same runs says the same); the text then gives the estimate's
    Monte Carlo standard error.

    Args:
        samples: The cells' losses ``[n_i]``, at least 2 cells.

    Returns:
        The p-value and ``"exact permutation"`` or
        ``"Monte Carlo permutation (N splits, standard error SE)"``.

    """
    sizes = [len(v) for v in samples]
    splits = math.factorial(sum(sizes))
    for n in sizes:
        splits //= math.factorial(n)
    # H is an increasing function of sum(R_i^2 / n_i) over the cells' sums of pooled mid-ranks
    # (its tie correction is the same for every split), so the splits permute the ranks
    ranks = stats.rankdata(np.concatenate(samples))
    cells = np.split(ranks, np.cumsum(sizes)[:-1])

    def rank_score(*cells: np.ndarray, axis: int) -> np.ndarray:
        return sum(c.sum(axis=axis) ** 2 / c.shape[axis] for c in cells)

    res = stats.permutation_test(
        cells,
        rank_score,
        permutation_type="independent",
        vectorized=True,
        alternative="greater",
        n_resamples=KW_EXACT_SPLITS if splits <= KW_EXACT_SPLITS else KW_RESAMPLES,
        rng=np.random.default_rng(np.random.SeedSequence(0)),
    )
    p = float(res.pvalue)
    if splits <= KW_EXACT_SPLITS:
        return p, "exact permutation"
    se = math.sqrt(p * (1 - p) / KW_RESAMPLES)
    return p, f"Monte Carlo permutation ({KW_RESAMPLES:,} splits, standard error {se:.2g})"


def a12(x: np.ndarray, y: np.ndarray) -> float:
    """Vargha–Delaney A12: chance that a loss from ``x`` is below one from ``y`` (ties half)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not len(x) or not len(y):
        return math.nan
    less = (x[:, None] < y[None, :]).sum()
    ties = (x[:, None] == y[None, :]).sum()
    return float((less + 0.5 * ties) / (len(x) * len(y)))


def best_algorithm(losses: dict[str, np.ndarray]) -> str | None:
    """The cell with the lowest median loss (then mean loss, then name); ``None`` if all empty.

    Only cells with at least 2 finished runs compete while any has them: a
    single lucky run cannot be tested against, so naming it best would leave
    every other algorithm "too few runs".
    """
    keyed = []
    for name, v in losses.items():
        v = np.asarray(v, dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v):
            keyed.append((len(v) < 2, float(np.median(v)), float(v.mean()), name))
    return min(keyed)[3] if keyed else None


EXACT_LIMIT = 200  # pooled runs up to which a tied Mann–Whitney p is counted exactly


def exact_mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mann–Whitney U of ``x`` against ``y`` and its exact two-sided p, ties allowed.

    The p-value is the share of all ways to split the pooled runs into groups
    of ``len(x)`` and ``len(y)`` whose U lies at least as far from its mean
    ``len(x) * len(y) / 2`` as the observed one (the permutation test's
    two-sided p; without ties it equals Mann–Whitney's exact table). Splits
    are counted, not listed: doubled mid-ranks are integers, so the number of
    subsets of each size and doubled rank sum follows from one pass over the
    runs.

    Args:
        x: Losses ``[n]``.
        y: Losses ``[m]``.

    Returns:
        ``(U of x, p)``; U counts pairs where ``x`` is larger, ties half.

    """
    n, m = len(x), len(y)
    ranks2 = np.rint(2 * stats.rankdata(np.concatenate([x, y]))).astype(np.int64)
    total = int(ranks2.sum())
    counts = np.zeros((n + 1, total + 1))  # [subset size, doubled rank sum]
    counts[0, 0] = 1.0
    for r in ranks2:
        counts[1:, r:] += counts[:-1, : total + 1 - r].copy()
    sums = np.arange(total + 1)
    # |n_all·S − n·total| compares doubled rank sums with their mean in integers
    n_all = n + m
    observed = abs(n_all * int(ranks2[:n].sum()) - n * total)
    far = np.abs(n_all * sums - n * total) >= observed
    p = float(counts[n, far].sum() / counts[n].sum())
    u = ranks2[:n].sum() / 2 - n * (n + 1) / 2
    return float(u), min(p, 1.0)


def _mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(U, two-sided p)``: SciPy's exact table without ties, ``exact_mann_whitney`` with them.

    SciPy's normal approximation is too small for a few tied runs (3 against 3
    identical runs: 0.047 where no split of six runs gives less than 0.1) and
    its permutation p doubles the smaller tail, which is not the two-sided p
    when group sizes differ; beyond ``EXACT_LIMIT`` pooled runs the
    approximation with its tie correction is close.
    """
    ties = len(np.unique(np.concatenate([x, y]))) < len(x) + len(y)
    if ties and len(x) + len(y) <= EXACT_LIMIT:
        return exact_mann_whitney(x, y)
    method = "exact" if not ties and len(x) * len(y) <= 10_000 else "asymptotic"
    res = stats.mannwhitneyu(x, y, alternative="two-sided", method=method)
    return float(res.statistic), float(res.pvalue)


def pairwise_vs_best(losses: dict[str, np.ndarray], alpha: float = ALPHA) -> pd.DataFrame:
    """Two-sided Mann–Whitney U of each algorithm against the best, Holm-corrected.

    The p-value is exact: Mann–Whitney's table without ties, every split of the
    pooled runs counted with them (``exact_mann_whitney``, up to ``EXACT_LIMIT``
    pooled runs); only larger samples get the normal approximation with tie and
    continuity corrections.

    Args:
        losses: Final losses ``[n_i]`` per algorithm (lower is better).
        alpha: Family-wise error rate of the Holm procedure.

    Returns:
        One row per algorithm: ``algo``, ``vs`` (the best), ``u``, ``p``,
        ``p_holm``, ``a12`` (chance a run of ``algo`` beats a run of the best;
        NaN where either has fewer than 2 runs, whose 0 or 1 would read as a
        certainty) and ``verdict``: ``"best"`` (``"tied: every run the same"`` where every
        run of every algorithm reached one value), ``"worse"``/``"better"`` where the Holm
        p-value is below ``alpha``, ``"not significant"`` otherwise, or
        ``"too few runs"``.

    """
    clean = {k: np.asarray(v, dtype=np.float64) for k, v in losses.items()}
    clean = {k: v[np.isfinite(v)] for k, v in clean.items()}
    best = best_algorithm(clean)
    rows = []
    for name, v in clean.items():
        row = {"algo": name, "vs": best, "u": math.nan, "p": math.nan, "p_holm": math.nan}
        enough = best is not None and min(len(v), len(clean[best])) >= MIN_RUNS_FOR_A12
        row["a12"] = a12(v, clean[best]) if enough or name == best else math.nan
        if name == best:
            row["verdict"] = "best"
        elif len(v) < 2 or best is None or len(clean[best]) < 2:
            row["verdict"] = "too few runs"
        else:
            row.update(zip(("u", "p"), _mann_whitney(v, clean[best]), strict=True))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["algo", "vs", "u", "p", "p_holm", "a12", "verdict"])
    pooled = np.concatenate([v for v in clean.values() if len(v)] or [np.empty(0)])
    if sum(len(v) > 0 for v in clean.values()) >= 2 and np.ptp(pooled) == 0:
        table.loc[table["verdict"] == "best", "verdict"] = "tied: every run the same"
    tested = table["p"].notna()
    if tested.any():
        reject, p_holm, _, _ = multipletests(table.loc[tested, "p"], alpha=alpha, method="holm")
        table.loc[tested, "p_holm"] = p_holm
        table.loc[tested, "verdict"] = [
            ("worse" if a < 0.5 else "better") if r else NOT_SIGNIFICANT
            for r, a in zip(reject, table.loc[tested, "a12"], strict=True)
        ]
    return table


def pooled_ranks(losses: dict[str, np.ndarray]) -> dict[str, float]:
    """Average rank per algorithm when all runs of a problem are ranked together.

    Rank 1 is the lowest loss; ties share the average of their ranks (as in
    Kruskal–Wallis).
    """
    names = [k for k, v in losses.items() for _ in np.asarray(v)]
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in losses.values()] or [[]])
    ok = np.isfinite(values)
    ranks = stats.rankdata(values[ok])
    frame = pd.DataFrame({"algo": np.asarray(names)[ok], "rank": ranks})
    means = frame.groupby("algo")["rank"].mean()
    return {k: float(means.get(k, math.nan)) for k in losses}


@dataclass
class Friedman:
    """Friedman's test over blocks, its average ranks and the Nemenyi post-hoc.

    Attributes:
        ranks: Average rank per algorithm (1 is best).
        statistic: Friedman's chi-square (NaN when not run).
        p: Its p-value (NaN when not run).
        blocks: Number of complete blocks used.
        cd: Nemenyi critical difference at ``alpha``.
        nemenyi: Pairwise Nemenyi p-values (algorithms × algorithms); ``None`` unless
            Friedman's test rejects.
        note: What was done, or why not.

    """

    ranks: pd.Series
    statistic: float
    p: float
    blocks: int
    cd: float
    nemenyi: pd.DataFrame | None
    note: str

    def sentence(self, alpha: float = ALPHA) -> str:
        """What was tested and found, in words."""
        if math.isnan(self.statistic):
            return f"{self.note}."
        word = "significant" if self.p < alpha else NOT_SIGNIFICANT
        return f"{self.note}; Friedman χ² = {self.statistic:.3g}, p = {self.p:.3g} ({word})."


def _count(n: int, noun: str) -> str:
    """``"1 complete block"``, ``"2 complete blocks"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def friedman(matrix: pd.DataFrame, alpha: float = ALPHA) -> Friedman:
    """Friedman's test on a blocks × algorithms matrix of losses.

    Algorithms missing from more than half of the blocks (runs failed or not
    run) are left out first, then every block still missing a value; ``note``
    says what was left out. Ranks are taken within each block (1 = lowest loss,
    ties averaged).
    """
    sparse = [c for c in matrix.columns if matrix[c].isna().mean() > 0.5]
    complete = matrix.drop(columns=sparse).dropna(axis=0, how="any")
    if complete.shape[1] == 0:  # no algorithm left: no block is complete (dropna kept them all)
        complete = complete.iloc[:0]
    dropped = len(matrix) - len(complete)
    k, n = complete.shape[1], len(complete)
    ranks = complete.rank(axis=1, method="average").mean(axis=0) if n else pd.Series(dtype=float)
    note = _count(n, "complete block") + (
        f", {dropped} with missing runs left out" if dropped else ""
    )
    if sparse:
        note += f"; left out for missing more than half their runs: {', '.join(sparse)}"
    if k < 3 or n < 2:
        why = "fewer than 3 algorithms" if k < 3 else "fewer than 2 complete blocks"
        return Friedman(
            ranks, math.nan, math.nan, n, math.nan, None, f"{note}; no Friedman test: {why}"
        )
    if (complete.nunique(axis=1) == 1).all():
        return Friedman(ranks, math.nan, 1.0, n, math.nan, None, f"{note}; no test: all tied")
    res = stats.friedmanchisquare(*[complete[c].to_numpy() for c in complete.columns])
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    cd = float(q * math.sqrt(k * (k + 1) / (6 * n)))
    if res.pvalue >= alpha:  # Demšar: the post-hoc only follows a rejected Friedman test
        note += "; no Nemenyi post-hoc: Friedman's test does not reject"
        return Friedman(ranks, float(res.statistic), float(res.pvalue), n, cd, None, note)
    nemenyi = sp.posthoc_nemenyi_friedman(complete.to_numpy())
    nemenyi.index = nemenyi.columns = list(complete.columns)
    return Friedman(ranks, float(res.statistic), float(res.pvalue), n, cd, nemenyi, note)


def win_rate(losses_by_problem: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Chance that a run of the row algorithm beats one of the column algorithm.

    A12 on each problem (ties count half), averaged over the problems where both
    algorithms have at least ``MIN_RUNS_FOR_A12`` finished runs (one run against one
    is a 0 or a 1, not a chance). The diagonal is NaN, as is a pair never compared.
    """
    algos = list(dict.fromkeys(a for cells in losses_by_problem.values() for a in cells))
    sums = pd.DataFrame(0.0, index=algos, columns=algos)
    counts = pd.DataFrame(0, index=algos, columns=algos)
    for cells in losses_by_problem.values():
        clean = {k: np.asarray(v, dtype=np.float64) for k, v in cells.items()}
        clean = {
            k: v[np.isfinite(v)]
            for k, v in clean.items()
            if np.isfinite(v).sum() >= MIN_RUNS_FOR_A12
        }
        for a in clean:
            for b in clean:
                if a != b:
                    sums.loc[a, b] += a12(clean[a], clean[b])
                    counts.loc[a, b] += 1
    return (sums / counts.where(counts > 0)).astype(float)

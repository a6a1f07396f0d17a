"""Leaderboard statistics on hand-made samples whose answers are known."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from bench.leaderboard import stats
from bench.leaderboard.tables import problem_result, rank_blocks

SEPARATED = {"a": np.arange(10.0), "b": 100 + np.arange(10.0), "c": 200 + np.arange(10.0)}


def long_table(cells: dict[str, np.ndarray], sense: str = "min", problem: str = "p"):
    """The long run table of one problem, as ``load_runs`` builds it, from final values."""
    rows = []
    for algo, values in cells.items():
        for seed, v in enumerate(values):
            rows.append(
                {"problem": problem, "algo": algo, "seed": seed, "budget": 100,
                 "status": "finished", "final": float(v), "sense": sense,
                 "evals_per_second": 1000.0, "wall_seconds": 0.1, "nonfinite": 0,
                 "qd_score": None, "coverage": None, "prior_rms": None}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_separated_samples_are_significant_after_holm():
    table = stats.pairwise_vs_best(SEPARATED).set_index("algo")
    assert table.loc["a", "verdict"] == "best"
    # exact two-sided Mann–Whitney p for two fully separated samples of 10: 2 / C(20, 10)
    p = 2 / math.comb(20, 10)
    assert table.loc["b", "p"] == pytest.approx(p)
    assert table.loc["c", "p"] == pytest.approx(p)
    assert table.loc["b", "p_holm"] == pytest.approx(2 * p)  # Holm: smallest of 2 times 2
    assert table.loc["b", "verdict"] == table.loc["c", "verdict"] == "worse"
    assert table.loc["b", "a12"] == 0.0


def test_identical_distributions_are_not_significant():
    same = np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    table = stats.pairwise_vs_best({"x": same, "y": same[::-1].copy()}).set_index("algo")
    tested = table[table["verdict"] != "best"]
    assert len(tested) == 1
    assert tested["verdict"].iloc[0] == stats.NOT_SIGNIFICANT
    assert tested["p_holm"].iloc[0] == pytest.approx(1.0)
    assert tested["a12"].iloc[0] == 0.5


def test_three_seeds_can_never_be_significant():
    # the smallest exact two-sided p with 3 runs each is 2 / C(6, 3) = 0.1
    table = stats.pairwise_vs_best({"a": [1.0, 2, 3], "b": [10.0, 11, 12]}).set_index("algo")
    assert table.loc["b", "p"] == pytest.approx(0.1)
    assert table.loc["b", "verdict"] == stats.NOT_SIGNIFICANT


def test_too_few_runs_is_said():
    table = stats.pairwise_vs_best({"a": [1.0, 2.0], "b": [5.0]}).set_index("algo")
    assert table.loc["b", "verdict"] == "too few runs"
    assert math.isnan(table.loc["b", "p"])


def test_holm_is_step_down():
    # raw p: b is clearly worse (p tiny), c only slightly (p just under 0.05 before correction)
    a = np.arange(10.0)
    cells = {"a": a, "b": a + 100, "c": a + 4.5}
    table = stats.pairwise_vs_best(cells).set_index("algo")
    assert table.loc["c", "p"] < 0.05
    assert table.loc["c", "p_holm"] == pytest.approx(table.loc["c", "p"])  # last step: times 1
    assert table.loc["b", "p_holm"] == pytest.approx(2 * table.loc["b", "p"])


def test_sense_max_picks_the_highest():
    result = problem_result(long_table(SEPARATED, sense="max"))
    assert result.best == "c"
    assert list(result.table["algo"]) == ["c", "b", "a"]
    row = result.table.set_index("algo").loc["c"]
    assert row["best"] == 209.0 and row["verdict"] == "best"
    assert result.table.set_index("algo").loc["a", "verdict"] == "worse"
    assert stats.summarise(np.array([1.0, 5.0, 3.0]), "max")["best"] == 5.0
    assert stats.summarise(np.array([1.0, 5.0, 3.0]), "min")["best"] == 1.0


def test_summary_figures():
    s = stats.summarise(np.array([1.0, 2, 3, 4, 5, np.nan]), "min")
    assert s["n"] == 5 and s["n_missing"] == 1
    assert s["median"] == 3 and s["mean"] == 3 and s["iqr"] == 2
    assert s["std"] == pytest.approx(np.sqrt(2.5))
    with pytest.raises(ValueError, match="sense"):
        stats.to_loss(np.ones(2), "maximise")


def test_pooled_ranks_share_ties():
    # values 1, 1, 1, 2 get ranks 2, 2, 2, 4
    ranks = stats.pooled_ranks({"a": np.array([1.0, 1.0]), "b": np.array([1.0, 2.0])})
    assert ranks == {"a": 2.0, "b": 3.0}
    ranks = stats.pooled_ranks({"a": np.array([np.nan]), "b": np.array([1.0])})
    assert math.isnan(ranks["a"]) and ranks["b"] == 1.0


def test_normality():
    rng = np.random.default_rng(np.random.SeedSequence(7))
    assert stats.normality(rng.normal(size=60))["normal"] is True
    skewed = stats.normality(rng.exponential(size=60) ** 3)
    assert skewed["normal"] is False and skewed["shapiro_p"] < 0.05
    few = stats.normality(np.array([1.0, 2.0, 4.0]))
    assert few["normal"] is None and math.isnan(few["ks_p"]) and not math.isnan(few["shapiro_p"])
    assert stats.normality(np.ones(10))["normal"] is None  # constant: untestable


def test_omnibus_chooses_and_computes():
    kw = stats.omnibus(SEPARATED, all_normal=False)
    # H for three fully separated groups of 10: 12/(30·31)·(55² + 155² + 255²)/10 − 3·31
    assert kw.test == "Kruskal–Wallis"
    assert kw.statistic == pytest.approx(12 / (30 * 31) * (55**2 + 155**2 + 255**2) / 10 - 93)
    assert kw.verdict().startswith("significant")
    anova = stats.omnibus(SEPARATED, all_normal=True)
    assert anova.test == "ANOVA" and anova.p < 1e-10
    same = stats.omnibus({"a": [1.0, 2, 3], "b": [3.0, 2, 1]}, all_normal=False)
    assert same.p == pytest.approx(1.0) and same.verdict().startswith(stats.NOT_SIGNIFICANT)
    tied = stats.omnibus({"a": [1.0, 1.0], "b": [1.0, 1.0]}, all_normal=False)
    assert tied.p == 1.0 and "same value" in tied.verdict()
    none = stats.omnibus({"a": [1.0, 2.0], "b": [3.0]}, all_normal=False)
    assert none.test == "none" and "fewer than 2" in none.verdict()


def test_a12():
    assert stats.a12(np.array([1.0, 2]), np.array([3.0, 4])) == 1.0
    assert stats.a12(np.array([1.0, 3]), np.array([2.0, 4])) == 0.75
    assert stats.a12(np.array([1.0]), np.array([1.0])) == 0.5


def test_friedman_known_ranks_and_cd():
    a = np.arange(10.0)
    blocks = pd.DataFrame({"a": a, "b": a + 1, "c": a + 2})
    fr = stats.friedman(blocks)
    assert list(fr.ranks) == [1.0, 2.0, 3.0]
    assert fr.statistic == pytest.approx(20.0)  # 12N/(k(k+1)) Σ(R_j − (k+1)/2)² = 10·2
    assert fr.p == pytest.approx(math.exp(-10.0))  # chi-square, 2 df: exp(−x/2)
    assert fr.cd == pytest.approx(2.343 * math.sqrt(3 * 4 / 60), abs=1e-3)  # Demšar's q_0.05
    assert fr.nemenyi.loc["a", "c"] < 0.05


def test_friedman_ties_and_missing_blocks():
    blocks = pd.DataFrame({"a": [1.0, 1.0, np.nan], "b": [1.0, 1.0, 2.0], "c": [1.0, 1.0, 3.0]})
    fr = stats.friedman(blocks)
    assert fr.blocks == 2 and "1 with missing runs" in fr.note
    assert list(fr.ranks) == [2.0, 2.0, 2.0] and fr.p == 1.0
    two = stats.friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 3.0]}))
    assert math.isnan(two.p) and "fewer than 3 algorithms" in two.note


def test_best_algorithm_needs_two_runs_while_any_cell_has_them():
    table = stats.pairwise_vs_best(
        {"lucky": [0.1], "b": [1.0, 1.1, 1.2, 1.3, 1.4], "c": [2.0, 2.1, 2.2, 2.3, 2.4]}
    ).set_index("algo")
    assert table.loc["b", "verdict"] == "best" and table.loc["lucky", "verdict"] == "too few runs"
    assert table.loc["c", "p"] == pytest.approx(2 / math.comb(10, 5))
    assert stats.best_algorithm({"a": [0.1], "b": [0.5]}) == "a"  # none has 2: lowest median


def test_friedman_blocks_are_problems_with_median_losses():
    runs = pd.concat(
        [long_table({"a": [1.0, 2.0, 9.0], "b": [3.0, 4.0, 0.0], "c": [5.0, 6.0, 7.0]}, "min", p)
         for p in ("p", "q", "r", "s")]
    )  # fmt: skip
    runs.loc[(runs["problem"] == "s") & (runs["algo"] == "c"), "status"] = "failed"
    matrix = rank_blocks(runs)
    assert list(matrix.index) == ["p", "q", "r", "s"]
    assert matrix.loc["p"].tolist() == [2.0, 3.0, 6.0]  # medians of each algorithm's 3 seeds
    assert math.isnan(matrix.loc["s", "c"])  # no finished run: the block is incomplete
    fr = stats.friedman(matrix)
    assert fr.blocks == 3 and list(fr.ranks) == [1.0, 2.0, 3.0]


def test_nemenyi_only_after_friedman_rejects():
    a = np.arange(10.0)
    rejects = stats.friedman(pd.DataFrame({"a": a, "b": a + 1, "c": a + 2}))
    assert rejects.p < 0.05 and rejects.nemenyi is not None
    mixed = pd.DataFrame({"a": [1.0, 2, 3, 1], "b": [2.0, 1, 1, 3], "c": [3.0, 3, 2, 2]})
    keeps = stats.friedman(mixed)
    assert keeps.p >= 0.05 and keeps.nemenyi is None
    assert "no Nemenyi post-hoc" in keeps.sentence() and not math.isnan(keeps.statistic)


def test_rank_blocks_turn_max_into_loss():
    runs = pd.concat(
        [long_table({"a": [1.0, 2.0], "b": [3.0, 4.0]}, "max", "p"),
         long_table({"a": [1.0, 2.0], "b": [3.0, 4.0]}, "min", "q")]
    )  # fmt: skip
    fr = stats.friedman(rank_blocks(runs))
    assert list(fr.ranks) == [1.5, 1.5]  # b wins on p (max), a on q (min)


def test_win_rate_averages_problems():
    wr = stats.win_rate(
        {"p": {"a": np.array([1.0, 1.5]), "b": np.array([2.0, 3.0])},
         "q": {"a": np.array([5.0, 6]), "b": np.array([2.0, 3]), "c": np.array([9.0, 8])}}
    )  # fmt: skip
    assert wr.loc["a", "b"] == 0.5 and wr.loc["b", "a"] == 0.5
    assert wr.loc["b", "c"] == 1.0 and wr.loc["c", "a"] == 0.0
    assert math.isnan(wr.loc["a", "a"])


def test_one_run_against_one_gives_no_chance():
    one = {"a": np.array([1.0]), "b": np.array([2.0]), "c": np.array([3.0, 4.0])}
    wr = stats.win_rate({"p": one})
    assert wr.loc[["a", "b"]].isna().all().all()  # a 1 or a 0 is no chance of winning
    assert wr[["a", "b"]].isna().all().all()
    table = stats.pairwise_vs_best(one).set_index("algo")  # c: the one cell of 2+ runs
    assert table.loc["c", "verdict"] == "best" and table.loc["c", "a12"] == 0.5
    assert math.isnan(table.loc["a", "a12"]) and math.isnan(table.loc["b", "a12"])
    assert table.loc["a", "verdict"] == table.loc["b", "verdict"] == "too few runs"
    both = stats.pairwise_vs_best({"a": [1.0, 2.0], "b": [3.0]}).set_index("algo")
    assert math.isnan(both.loc["b", "a12"])  # 2 runs against 1: still no chance


def test_problem_table_counts_every_status():
    runs = long_table({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    runs.loc[4, ["status", "final"]] = ["failed", np.nan]
    runs.loc[5, ["status", "final"]] = ["pending", np.nan]
    table = problem_result(runs).table.set_index("algo")
    assert table.loc["b", ["planned", "finished", "failed", "pending"]].tolist() == [3, 1, 1, 1]
    assert table.loc["b", "median"] == 4.0
    assert table.loc["b", "verdict"] == "too few runs"


def test_report_values_become_columns():
    runs = long_table({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    runs["report_beats_baseline"] = [True, False, True, False, False, None]
    runs["report_distance"] = [0.5, 0.7, 0.9, 1.0, 1.2, None]
    runs.loc[5, ["status", "final"]] = ["failed", np.nan]
    result = problem_result(runs)
    table = result.table.set_index("algo")
    assert table.loc["a", "report_beats_baseline"] == pytest.approx(2 / 3)
    assert table.loc["b", "report_beats_baseline"] == 0.0
    assert table.loc["a", "report_distance"] == 0.7 and table.loc["b", "report_distance"] == 1.1
    assert "share" in result.help["report_beats_baseline"]
    # a run without the key is NaN in the long table, not a "yes"
    runs["report_beats_baseline"] = [True, False, np.nan, np.nan, False, None]
    table = problem_result(runs).table.set_index("algo")
    assert table.loc["a", "report_beats_baseline"] == 0.5
    assert "report_distance" in result.extra and "qd_score" not in result.extra


def test_friedman_leaves_out_algorithms_missing_most_runs():
    a = np.arange(6.0)
    blocks = pd.DataFrame({"a": a, "b": a + 1, "c": a + 2, "d": [1.0] + [np.nan] * 5})
    fr = stats.friedman(blocks)
    assert list(fr.ranks.index) == ["a", "b", "c"] and fr.blocks == 6
    assert "left out for missing more than half their runs: d" in fr.note


def _brute_force_mwu_p(a: list[float], b: list[float]) -> float:
    """Two-sided Mann–Whitney p by enumerating every split of the pooled values."""

    def u(x, y):
        return sum((xi > yi) + 0.5 * (xi == yi) for xi in x for yi in y)

    pooled, n = a + b, len(a)
    centre = n * len(b) / 2
    observed = abs(u(a, b) - centre)
    splits = list(itertools.combinations(range(len(pooled)), n))
    hits = 0
    for idx in splits:
        x = [pooled[i] for i in idx]
        y = [pooled[i] for i in range(len(pooled)) if i not in idx]
        hits += abs(u(x, y) - centre) >= observed - 1e-12
    return hits / len(splits)


@pytest.mark.parametrize(
    ("best", "other"),
    [
        ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]),  # 3 seeds, all tied: no split gives p < 0.1
        ([1.0, 2.0, 2.0, 3.0, 5.0], [2.0, 4.0, 4.0, 6.0, 7.0]),
        ([0.5, 0.5, 0.6, 0.7, 0.7], [0.7, 0.8, 0.8, 0.8, 0.9]),
        # unequal sizes: doubling the smaller tail (SciPy's permutation p) gives 0.19
        ([0.0, 1.0, 1.0, 1.0, 3.0], [3.0, 4.0]),
        ([0.0, 0.0, 1.0, 2.0], [0.0, 2.0, 2.0, 3.0, 3.0, 5.0]),
    ],
)
def test_mann_whitney_with_ties_is_exact_for_few_runs(best, other):
    table = stats.pairwise_vs_best({"a": best, "b": other}).set_index("algo")
    assert table.loc["b", "p"] == pytest.approx(_brute_force_mwu_p(other, best), abs=1e-12)
    if len(best) == 3:
        assert table.loc["b", "verdict"] == "not significant"  # at the default alpha 0.05


@pytest.mark.parametrize(
    ("problems", "algos", "message"),
    [
        (["p"], ["pymoo:ga", "pymoo_ga"], "algorithm 'pymoo:ga' and algorithm 'pymoo_ga' would"),
        (["ranks"], ["a"], "the ranks table and problem 'ranks' would both write tables/ranks"),
        (["x", "pairwise-x"], ["a"], "problem 'x' and problem 'pairwise-x' would both write"),
    ],
)
def test_names_that_would_share_a_file_are_refused(problems, algos, message):
    from bench.leaderboard.build import check_file_names
    from bench.spec import SpecError

    with pytest.raises(SpecError, match=message):
        check_file_names(problems, algos)
    check_file_names(["sphere", "diversity-mnist-rmse", "face"], ["pymoo:ga", "ga", "random"])


def test_a_problem_where_every_run_ties_names_no_best_algorithm():
    result = problem_result(long_table({"a": [0.5, 0.5, 0.5], "b": [0.5, 0.5, 0.5]}))
    assert result.tied and result.best == "a"  # the name sorts first; it won nothing
    verdicts = result.table.set_index("algo")["verdict"].to_dict()
    assert verdicts == {"a": "tied: every run the same", "b": "not significant"}
    from bench.leaderboard.markdown_page import problem_notes

    board = type("Board", (), {"alpha": 0.05})()
    notes = " ".join(problem_notes(board, result))
    assert "Best algorithm (lowest median loss): none, every finished run reached the same" in notes
    assert notes.count("every run reached the same value") == 1  # the reason, once
    assert not problem_result(long_table({"a": [0.5, 0.4], "b": [0.5, 0.5]})).tied


def test_small_cells_get_a_permutation_kruskal_p():
    """3 runs against 3, fully separated: chi-square said p = 0.0495, "significant"."""
    separated = stats.omnibus({"a": np.array([1.0, 2, 3]), "b": np.array([4.0, 5, 6])}, False)
    assert separated.p == pytest.approx(0.1)  # 2 of the 20 splits are as extreme
    assert separated.verdict().startswith(stats.NOT_SIGNIFICANT) and "exact" in separated.note
    # with ties, the exact p is the share of all 4,200 splits whose H is at least the observed
    cells = {"a": np.array([1.0, 1, 3]), "b": np.array([1.0, 5, 6]), "c": np.array([2.0, 2, 2, 2])}
    pooled = np.concatenate(list(cells.values()))
    observed = scipy_stats.kruskal(*cells.values()).statistic
    extreme = total = 0
    for a in itertools.combinations(range(10), 3):
        rest = [i for i in range(10) if i not in a]
        for b in itertools.combinations(rest, 3):
            c = [i for i in rest if i not in b]
            h = scipy_stats.kruskal(pooled[list(a)], pooled[list(b)], pooled[c]).statistic
            extreme, total = extreme + (h >= observed - 1e-9), total + 1
    assert stats.omnibus(cells, False).p == pytest.approx(extreme / total, abs=1e-12)
    # too many splits to count: drawn from a fixed seed, so a rebuild says the same
    seven = {name: np.arange(3.0) + 10 * i for i, name in enumerate("abcdefg")}
    first, again = stats.omnibus(seven, False), stats.omnibus(seven, False)
    assert first.p == again.p < 0.001 and "Monte Carlo" in first.note
    assert "standard error" in first.note
    # 4 cells of 3 runs (369,600 splits, the 3-seed campaign) are counted, not drawn
    four = {name: np.array([0.0, 1.5, 3.1]) + i for i, name in enumerate("abcd")}
    counted = stats.omnibus(four, False)
    assert "exact" in counted.note
    assert counted.p * 369_600 == pytest.approx(round(counted.p * 369_600), abs=1e-6)
    # five runs a cell and more keep the chi-square p
    five = {"a": np.arange(5.0), "b": 10 + np.arange(5.0)}
    assert stats.omnibus(five, False).p == scipy_stats.kruskal(*five.values()).pvalue


def test_friedman_counts_no_complete_block_when_every_algorithm_is_left_out():
    """'1 complete blocks' was printed when the only algorithm had failed everywhere."""
    matrix = pd.DataFrame({"ga": [np.nan]}, index=["sphere"])
    result = stats.friedman(matrix)
    assert result.note.startswith("0 complete blocks, 1 with missing runs left out")
    assert "left out for missing more than half their runs: ga" in result.note
    one = stats.friedman(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}, index=["p"]))
    assert one.note.startswith("1 complete block;")


def test_algorithms_with_the_best_runs_exactly_are_named_beside_it():
    """A GA that never left its first population equals random sampling, and sorted first."""
    from bench.leaderboard.markdown_page import problem_notes

    result = problem_result(long_table({"ga": [1.0, 2.0], "random": [2.0, 1.0], "de": [3.0, 4.0]}))
    assert result.best == "ga" and result.co_best == ["random"]
    board = type("Board", (), {"alpha": 0.05})()
    notes = " ".join(problem_notes(board, result))
    assert "lowest median loss): ga (tied with random: the same median and mean)." in notes
    assert "Mann–Whitney U against ga," in notes
    assert problem_result(long_table({"a": [1.0, 2.0], "b": [1.0, 3.0]})).co_best == []

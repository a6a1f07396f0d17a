"""Leaderboards: statistics, figures, tables and a static site from a campaign folder.

A leaderboard compares the algorithms of a campaign on each problem (one row
per algorithm, tests against the best) and across problems (Friedman ranks, a
critical-difference diagram, a win-rate matrix), and says where every number
came from. Face problems (names ``face*``) also get the diversity of solutions
(pairwise distances between the runs' best faces) and their target pictured
beside the best faces.

Exported:
    build_leaderboard: campaign folder → leaderboard (HTML, Markdown, CSV/Parquet, PNG or WebP).
    Leaderboard: what ``build_leaderboard`` computed and wrote.
"""

from bench.leaderboard.build import Leaderboard, build_leaderboard

__all__ = ["Leaderboard", "build_leaderboard"]

"""A small real campaign with failed and unfinished runs, for the leaderboard tests.

Plan: sphere and rastrigin (dim 8) × random, ga, cma-me × 3 seeds. On sphere
the budget (30) is below one GA population (40), so every GA run there fails;
the campaign is then interrupted (as by Ctrl-C) at rastrigin × GA seed 1, so
that run and the three CMA-ME runs after it stay pending.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.campaign import Plan, run_campaign
from bench.runner import execute
from bench.spec import RunSpec

PLAN = Plan(
    problems=["sphere", "rastrigin"],
    algorithms=["random", "ga", "cma-me"],
    seeds=[0, 1, 2],
    budget={"sphere": 30, "rastrigin": 120},
    problem_params={"sphere": {"dim": 8}, "rastrigin": {"dim": 8}},
    algo_params={
        "random": {"batch": 10},
        "ga": {"population": 40},
        "cma-me": {"emitters": 2, "batch": 10, "initial": 20},
    },
)
STOP_AT = ("rastrigin", "ga", 1)  # this run and those after it stay pending


def make_campaign(folder: Path, broken: bool = True) -> Path:
    """Run ``PLAN`` into ``folder`` until the interruption; return ``folder``.

    With ``broken=False`` every run finishes (sphere gets a budget of 60).
    """
    plan = PLAN if broken else replace(PLAN, budget={"sphere": 60, "rastrigin": 120})

    def run(spec: RunSpec):
        if broken and (spec.problem, spec.algo, spec.seed) == STOP_AT:
            raise KeyboardInterrupt
        return execute(spec)

    try:
        run_campaign(plan, folder, progress=False, run_fn=run)
    except KeyboardInterrupt:
        pass
    return folder

"""Campaign plans: the matrix of runs, read from and written to TOML plan files.

A plan file is TOML::

    budget = 2000                  # or a table per problem (below)
    seeds = 5                      # or a list: [0, 1, 2]
    problems = "all"               # or a list of names
    algorithms = ["random", "ga"]

    [problem.sphere]               # parameters of one problem
    dim = 100

    [algo.ga]                      # parameters (and preset) of one algorithm
    preset = "quick"

Budgets may differ between problems (never between the algorithms of one
problem)::

    [budget]
    default = 2000
    diversity-mnist-rmse = 500

A name may carry a variant label, ``NAME@label``, to compare settings of one
problem or algorithm in one campaign; each variant has its own parameter table
(and, for a problem, may have its own budget), and two variants of one setting
are refused::

    algorithms = ["pymoo:cmaes", "pymoo:cmaes@pop200"]

    [algo."pymoo:cmaes@pop200"]
    popsize = 200
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.registry import base_name, registry
from bench.spec import RunSpec, SpecError, check_spec, plain


@dataclass
class Plan:
    """A fully specified matrix of runs.

    Attributes:
        problems: Problem names.
        algorithms: Algorithm names.
        seeds: Seeds; replicate ``i`` of every pairing uses ``seeds[i]``.
        budget: Evaluations per run, the same for every algorithm on a problem: one
            number for all problems, or ``{problem: n, "default": n}``.
        problem_params: Parameters per problem name.
        algo_params: Parameters per algorithm name (``preset`` included).

    """

    problems: list[str]
    algorithms: list[str]
    seeds: list[int]
    budget: int | dict[str, int]
    problem_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    algo_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def specs(self) -> Iterator[RunSpec]:
        """Every run of the plan, problem-major, then algorithm, then seed."""
        for problem in self.problems:
            for algo in self.algorithms:
                params = dict(self.algo_params.get(algo, {}))
                preset = params.pop("preset", None)
                for seed in self.seeds:
                    yield RunSpec(
                        problem=problem,
                        algo=algo,
                        budget=self.budget_for(problem),
                        seed=seed,
                        problem_params=dict(self.problem_params.get(problem, {})),
                        algo_params=params,
                        preset=preset,
                    )

    def budget_for(self, problem: str) -> int:
        """Evaluations of every run on ``problem``."""
        if isinstance(self.budget, int):
            return self.budget
        if problem in self.budget:
            return self.budget[problem]
        if "default" in self.budget:
            return self.budget["default"]
        raise SpecError(f"plan has no budget for problem '{problem}' and no default budget")

    def __len__(self) -> int:
        return len(self.problems) * len(self.algorithms) * len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def check_types(self, values: bool = True) -> None:
        """Check the type of every field, without looking a name up; raise ``SpecError``.

        Args:
            values: Check parameter values too (``check_param_value``), not only that
                the parameters are tables.

        """
        for key, names in (("problems", self.problems), ("algorithms", self.algorithms)):
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise SpecError(f"{key} must be a list of names, got {names!r}")
        budgets = self.budget.values() if isinstance(self.budget, dict) else [self.budget]
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in budgets):
            raise SpecError(
                "budget must be a positive integer or a table of them per problem, got "
                f"{self.budget!r}"
            )
        check_seeds(self.seeds)  # a string would be iterated letter by letter
        check_param_tables("problem", self.problem_params, values)
        check_param_tables("algo", self.algo_params, values)

    def validate(self) -> None:
        """Check every name and parameter; raise ``SpecError`` on the first problem."""
        if not self.problems or not self.algorithms or not self.seeds:
            raise SpecError("a campaign needs at least one problem, one algorithm and one seed")
        self.check_types()
        _refuse_repeats("problems", self.problems)
        _refuse_repeats("algorithms", self.algorithms)  # check_types checked the seeds
        for name in self.problem_params:
            if name not in self.problems:
                raise SpecError(
                    f"plan sets parameters of problem '{name}', which is not in the plan"
                )
        if isinstance(self.budget, dict):
            for name, n in self.budget.items():
                if name != "default" and name not in self.problems:
                    raise SpecError(f"plan sets a budget for problem '{name}', which is not in it")
                if not isinstance(n, int) or isinstance(n, bool):
                    raise SpecError(f"budget of '{name}' must be an integer, got {n!r}")
        for name in self.algo_params:
            if name not in self.algorithms:
                raise SpecError(
                    f"plan sets parameters of algorithm '{name}', which is not in the plan"
                )
        self._refuse_twin_variants()
        seen = set()
        for spec in self.specs():
            key = (spec.problem, spec.algo)
            if key not in seen:
                seen.add(key)
                check_spec(spec)

    def _refuse_twin_variants(self) -> None:
        """Raise ``SpecError`` where two names of one entry (``face``, ``face@b``) are one setting.

        Variants (``NAME@label``) exist to compare settings; two with the same
        parameters (and, for problems, budget) would run the same search twice and
        count it twice on a leaderboard.
        """
        kinds = (
            ("problem", self.problems, self.problem_params),
            ("algo", self.algorithms, self.algo_params),
        )
        for key, names, tables in kinds:
            first: dict[tuple[str, str], str] = {}
            for name in names:
                setting = dict(tables.get(name, {}))
                if key == "problem":
                    setting["budget"] = self.budget_for(name)
                fingerprint = json.dumps(plain(setting), sort_keys=True)
                twin = first.setdefault((base_name(name), fingerprint), name)
                if twin != name:
                    noun = "problems" if key == "problem" else "algorithms"
                    what = "parameters and budget" if key == "problem" else "parameters"
                    raise SpecError(
                        f"{noun} '{twin}' and '{name}' are one setting (the same {what}), so "
                        f"their runs would be the same runs twice; give each variant its own "
                        f"[{key}.{_toml_key(name)}] parameters, or list one of them"
                    )


def resolve_names(kind: str, names: list[str] | str) -> list[str]:
    """Expand ``"all"`` and check every name against the registry of ``kind``."""
    reg = registry(kind)
    if names == "all" or names == ["all"]:
        return reg.names()
    if isinstance(names, str):
        names = [names]
    for name in names:
        reg.entry(name)  # raises UnknownNameError with suggestions
    _refuse_repeats(kind, names)
    return list(names)


def _refuse_repeats(what: str, items: list) -> None:
    """A name or seed listed twice is a slip (a run cannot be planned twice): say which."""
    repeated = [item for item, n in Counter(items).items() if n > 1]
    if repeated:
        listed = ", ".join(repr(item) for item in repeated)
        raise SpecError(f"{what} listed more than once: {listed}; list each once")


def check_seeds(seeds: list[int]) -> None:
    """Raise ``SpecError`` unless ``seeds`` is a non-empty list of distinct integers from 0."""
    if not isinstance(seeds, list) or not seeds:
        raise SpecError(f"seeds must be a non-empty list of integers from 0, got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SpecError(f"seeds are Python ints from 0, got {seed!r} in {seeds!r}")
    _refuse_repeats("seeds", seeds)


def resolve_seeds(seeds: int | list[int]) -> list[int]:
    """``5`` → ``[0, 1, 2, 3, 4]``; a list is checked (``check_seeds``) and kept."""
    if isinstance(seeds, bool):
        raise SpecError("seeds must be a count or a list of integers")
    if isinstance(seeds, int):
        if seeds < 1:
            raise SpecError(f"seeds must be at least 1, got {seeds}")
        return list(range(seeds))
    check_seeds(seeds)
    return list(seeds)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # TOML's bare keys: ASCII only


def _toml_key(name: str) -> str:
    """``name`` as a TOML key: bare where it can be (``ga``), else quoted (``"pymoo:de"``)."""
    return name if _BARE_KEY.fullmatch(name) else _toml_string(name)


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string: JSON's escapes, and DEL escaped too (TOML refuses it)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    """A plan value (``check_param_value``'s kinds) as TOML: ``1.0`` stays a float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 1.0, 0.001, 1e-05: TOML floats all
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise SpecError(f"a plan holds numbers, strings, booleans and lists, not {value!r}")


def plan_toml(plan: Plan, comment: str = "") -> str:
    """``plan`` as a plan file that ``load_plan`` reads back to the same runs (run ids).

    Args:
        plan: The plan, e.g. a campaign folder's (``read_plan``).
        comment: Lines to put on top, each as a ``#`` comment.

    Returns:
        The TOML text.

    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    if isinstance(plan.budget, dict):
        budget = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in plan.budget.items()]
    else:
        lines.append(f"budget = {_toml_value(plan.budget)}")
    lines.append(f"seeds = {_toml_value(list(plan.seeds))}")
    lines.append(f"problems = {_toml_value(list(plan.problems))}")
    lines.append(f"algorithms = {_toml_value(list(plan.algorithms))}")
    if isinstance(plan.budget, dict):
        lines += ["", "[budget]", *budget]
    for key, tables in (("problem", plan.problem_params), ("algo", plan.algo_params)):
        for name, params in tables.items():
            lines += ["", f"[{key}.{_toml_key(name)}]"]
            lines += [f"{_toml_key(p)} = {_toml_value(v)}" for p, v in params.items()]
    return "\n".join(lines) + "\n"


def check_param_value(where: str, value: Any) -> None:
    """Raise ``SpecError`` unless ``value`` is a plan's kind of parameter value.

    That is a finite number, a string, a boolean, or a (nested) list of them: what
    ``--set`` can give, what JSON keeps exactly, and what compares equal to itself
    when a campaign resumes (a NaN does not).

    Args:
        where: The parameter, as the message names it (``[algo.ga] cxpb``).
        value: Its value.

    """
    if isinstance(value, list):
        for item in value:
            check_param_value(where, item)
    elif isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where} = {value} is not a finite number; give a finite value")
    elif not isinstance(value, bool | int | float | str):
        raise SpecError(
            f"{where} is a {type(value).__name__} ({value}); a parameter is a number, a string, "
            "a boolean or a list of them"
        )


def check_param_tables(key: str, tables: Any, values: bool = True) -> None:
    """Raise ``SpecError`` unless ``tables`` maps names to tables of plain parameters.

    Args:
        key: ``"problem"`` or ``"algo"``, the plan file's name of the tables.
        tables: ``{name: {parameter: value}}``.
        values: Check the values too (``check_param_value``).

    """
    if not isinstance(tables, dict):
        raise SpecError(
            f"'{key}' must be a table of tables ([{key}.NAME] with one parameter a line), "
            f"got {tables!r}"
        )
    for name, params in tables.items():
        section = f"[{key}.{_toml_key(name)}]"
        if not isinstance(params, dict):
            raise SpecError(f"{section} must be a table of parameters, got {params!r}")
        for param, value in params.items():
            if values:
                check_param_value(f"{section} {param}", value)
        if key == "algo" and not isinstance(params.get("preset", ""), str):
            raise SpecError(f"{section} preset must be a preset's name, got {params['preset']!r}")


def load_plan(path: Path) -> Plan:
    """Read a TOML plan file; any defect raises ``SpecError`` naming the file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read plan file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"plan file {path} is not valid TOML: {exc}") from exc
    known = {"budget", "seeds", "problems", "algorithms", "problem", "algo"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(f"plan file {path}: unknown keys {unknown}; valid: {sorted(known)}")
    for key in ("budget", "problems", "algorithms"):
        if key not in data:
            raise SpecError(f"plan file {path}: missing '{key}'")
    budget = data["budget"]
    if isinstance(budget, bool) or not isinstance(budget, int | dict):
        raise SpecError(f"plan file {path}: budget must be an integer or a table per problem")
    for key in ("problems", "algorithms"):
        names = data[key]
        if not isinstance(names, str) and not (
            isinstance(names, list) and all(isinstance(name, str) for name in names)
        ):
            raise SpecError(
                f'plan file {path}: {key} must be "all" or a list of names, got {names!r}'
            )
    try:  # an unknown name raises UnknownNameError, which names the registry instead
        plan = Plan(
            problems=resolve_names("problems", data["problems"]),
            algorithms=resolve_names("algorithms", data["algorithms"]),
            seeds=resolve_seeds(data.get("seeds", 5)),
            budget=budget,
            problem_params=data.get("problem", {}),
            algo_params=data.get("algo", {}),
        )
        plan.check_types()
    except SpecError as exc:
        raise SpecError(f"plan file {path}: {exc}") from None
    return plan


def plan_run_ids(plan: Plan) -> set[str] | None:
    """The run ids of ``plan``, ``None`` where it names a problem without a budget."""
    try:
        return {spec.run_id for spec in plan.specs()}
    except SpecError:
        return None


def plan_additions(old: Plan, new: Plan) -> dict[str, list] | None:
    """What ``new`` adds to ``old``, where it is ``old`` plus more runs, else ``None``.

    ``new`` extends ``old`` when every run of ``old`` is a run of ``new``, by run id
    (the hash of its whole spec): its finished runs stand as they are. A budget or
    parameter written another way that changes the id (``sigma = 1`` for ``1.0``)
    is another run, so the plan does not extend ``old``.

    Args:
        old: The plan stored in a campaign folder.
        new: The plan about to run there.

    Returns:
        ``{"problems": [...], "algorithms": [...], "seeds": [...]}``, the names and
        seeds ``new`` adds (in its order; all empty for the same runs), or ``None``.

    """
    before, after = plan_run_ids(old), plan_run_ids(new)
    if before is None or after is None or not before <= after:
        return None
    return {
        key: [x for x in getattr(new, key) if str(x) not in set(map(str, getattr(old, key)))]
        for key in ("problems", "algorithms", "seeds")
    }


def describe_additions(added: dict[str, list]) -> str:
    """``algorithms my-algo; seeds 5, 6``: what ``plan_additions`` found, for one line."""
    return "; ".join(
        f"{key} {', '.join(map(str, names))}" for key, names in added.items() if names
    )

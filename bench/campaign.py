"""Campaigns: every problem × algorithm × seed, the same budget each, resumable.

A campaign folder holds ``campaign.json`` (the plan), a ``.lock`` file and
``runs/<run_id>/`` per run, where the run id hashes the run's full spec.
Re-running the same command skips finished runs (and failed ones unless asked),
so a campaign stopped by Ctrl-C or ``kill -9`` finishes where it stopped. Two
campaigns cannot write into one folder at once, and a folder whose plan changed
is refused unless forced. A run id hashes a file parameter's path, not the file:
on resume every input file a finished run recorded (``provenance.weights``) is
hashed again, and a folder whose runs were made with another version of a file
is refused unless those runs are to be run again (``rerun_changed``). Finished
runs whose problem, algorithm or generator came from another version of a
plugin than the one installed now (``provenance.registered``) are kept with a
warning, or run again with ``rerun_changed``. Only this process writes
records: the runs themselves may happen elsewhere (``run_many``;
``bench.distributed`` runs them on a Dask cluster).

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

import dataclasses
import fcntl
import json
import math
import os
import re
import tomllib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from bench.atomic_file import write_atomically
from bench.provenance import (
    REGISTERED_KINDS,
    SCHEMA_VERSION,
    distribution_version,
    local_path,
    problem_generator,
    provenance,
    registered_sources,
    sha256_file,
    utc_now,
)
from bench.registry import RegistryError, base_name, registry
from bench.results import (
    RECORD,
    flat_row,
    read_record,
    remove_stale_temporaries,
    run_table,
)
from bench.runner import RunResult, error_info, execute
from bench.spec import RunSpec, SpecError, algorithm_params, check_spec, placed, plain

CAMPAIGN_FILE = "campaign.json"
DEVICE_ENV = "LATENT_BENCH_DEVICE"  # where workers (and ``--device``) put problems
LOCK_FILE = ".lock"
RUNS = "runs"


RunMany = Callable[[list[RunSpec]], Iterator[tuple[RunSpec, RunResult]]]
"""Runs pending specs and yields each with its result as it finishes, in any order."""


class CampaignError(RuntimeError):
    """A campaign cannot start; the message says why and what to do."""


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


RERUN_CHANGED = "--rerun-changed (rerun_changed=True in Python)"
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


class CampaignLock:
    """An exclusive, non-blocking lock on a campaign folder (released when the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._fh = None

    def __enter__(self) -> CampaignLock:
        try:
            fh = open(self.path, "a+")
        except OSError as exc:  # a folder or an unwritable file in its place
            raise CampaignError(
                f"cannot open the lock file {self.path} ({exc.strerror}); remove it or use "
                "another --out folder"
            ) from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise CampaignError(
                f"{self.path.parent} is in use by {holder}; wait for it to finish or use "
                "another --out folder"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {utc_now()}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _write_json_atomic(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=True)
    write_atomically(path, lambda tmp: tmp.write_text(text))


def _run_ids(plan: Plan) -> set[str] | None:
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
    before, after = _run_ids(old), _run_ids(new)
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


def _check_plan(folder: Path, plan: Plan, force: bool) -> None:
    path = folder / CAMPAIGN_FILE
    if not path.exists() or force:
        return
    stored = read_plan(folder)
    if plan_additions(stored, plan) is not None:
        return  # the same runs, perhaps more: the finished ones keep their ids
    new_ids = _run_ids(plan) or set()
    lacking = [spec for spec in stored.specs() if spec.run_id not in new_ids]
    absent = {
        "problems": sorted({s.problem for s in lacking} - set(plan.problems)),
        "algorithms": sorted({s.algo for s in lacking} - set(plan.algorithms)),
        "seeds": sorted({s.seed for s in lacking} - set(plan.seeds)),
    }
    resume = (
        f"run `bench campaign --out {folder}` to resume it with its own plan (--add-algos, "
        f"--add-problems and --seeds add to it; in Python, run_campaign(read_plan(folder), "
        "folder)), use another --out folder, or pass --force to make this plan the "
        "folder's (the other runs stay on disk, unlisted)"
    )
    if any(absent.values()):
        raise CampaignError(
            f"{folder} holds a campaign with runs this plan lacks ({len(lacking)} of its "
            f"{len(stored)}: its {describe_additions(absent)} too): {resume}"
        )
    old, new = stored.to_dict(), plan.to_dict()
    changed = [k for k in ("budget", "problem_params", "algo_params") if old[k] != new[k]]
    what = ", ".join(changed) or "a parameter's type, such as 1 for 1.0"
    raise CampaignError(
        f"{folder} holds a campaign whose runs this plan changes ({len(lacking)} of its "
        f"{len(stored)} runs; changed: {what}): {resume}"
    )


@dataclass
class CampaignSummary:
    """Counts of what one invocation did."""

    total: int = 0
    ran: int = 0
    skipped_finished: int = 0
    skipped_failed: int = 0
    failed: int = 0
    rerun_changed: int = 0


def _sha_prefix(digest: str) -> str:
    return str(digest)[:12]


def _changed_inputs(
    finished: dict[str, dict[str, Any]],
) -> tuple[dict[str, str], dict[tuple[str, str], list[str]], dict[str, list[str]]]:
    """Compare the input files finished runs recorded with the files now at those paths.

    Each distinct file is hashed once (``sha256_file``, cached per file signature).

    Args:
        finished: Records of finished runs, by run id.

    Returns:
        ``(current, changed, missing)``: the sha256 of every recorded file that
        exists now, by recorded name; ``(name, recorded sha256)`` → ids of the runs
        made with a version of the file that differs from the one there now; and
        name → ids of the runs whose file is gone (it cannot be checked).

    """
    current: dict[str, str | None] = {}
    changed: dict[tuple[str, str], list[str]] = {}
    missing: dict[str, list[str]] = {}
    for run_id, record in finished.items():
        prov = record.get("provenance")
        weights = prov.get("weights") if isinstance(prov, dict) else None
        if not isinstance(weights, dict):  # records from before provenance: nothing to check
            continue
        for name, digest in weights.items():
            if name not in current:
                try:
                    current[name] = sha256_file(local_path(name))
                except OSError:  # gone, or unreadable: the runs cannot be checked
                    current[name] = None
            now = current[name]
            if now is None:
                missing.setdefault(name, []).append(run_id)
            elif now != digest:
                changed.setdefault((name, str(digest)), []).append(run_id)
    return {k: v for k, v in current.items() if v is not None}, changed, missing


def _check_inputs(
    folder: Path, finished: dict[str, dict[str, Any]], rerun_changed: bool
) -> set[str]:
    """Refuse finished runs made with input files that have changed since, or pick them.

    A recorded file that is gone only warns: it cannot be checked, and runs that
    need it fail on their own (``--retry-failed`` once it is back), while the
    command may run where the files live elsewhere (a cluster's workers) or under
    another name (a rebuilt virtual environment).

    Args:
        folder: The campaign folder, for the message.
        finished: Records of the finished runs resume would skip, by run id.
        rerun_changed: Return the runs to run again instead of refusing.

    Returns:
        Ids of the finished runs whose input files changed (only with ``rerun_changed``).

    Raises:
        CampaignError: Some finished runs were made with other input files.

    """
    current, changed, missing = _changed_inputs(finished)
    for name, ids in missing.items():
        warnings.warn(
            f"{len(ids)} finished run(s) in {folder} used {local_path(name)}, which is gone; "
            "they are kept unchecked (runs that need it will fail until it is back)",
            stacklevel=3,
        )
    stale = {run_id for ids in changed.values() for run_id in ids}
    if not stale or rerun_changed:
        return stale
    files = "; ".join(
        f"{local_path(name)} (sha256 {_sha_prefix(digest)}… in {len(ids)} run(s), "
        f"now {_sha_prefix(current[name])}…)"
        for (name, digest), ids in sorted(changed.items())
    )
    raise CampaignError(
        f"{len(stale)} finished run(s) in {folder} were made with other input files: {files}; "
        f"restore the file(s), use another --out folder, or pass {RERUN_CHANGED} to "
        "run those runs again"
    )


def _installed_version(key: str, name: str) -> tuple[str, str] | None:
    """``(distribution, version)`` that registers ``name`` as a ``key`` here now, if any."""
    from bench.registry import RegistryError

    try:
        return distribution_version(registry(REGISTERED_KINDS[key]).entry(name).source)
    except RegistryError:
        return None


def _changed_plugins(
    finished: dict[str, dict[str, Any]],
) -> dict[str, tuple[dict[str, set[str]], set[str]]]:
    """Finished runs whose problem, algorithm or generator came from another plugin version.

    Only distributions other than latent-bench count: the suite's own code is
    covered by the commit. A record without ``provenance.registered``, an entry
    registered in-process from no package, and a name no longer registered (the
    plan refuses it) are not compared.

    Args:
        finished: Records of finished runs, by run id.

    Returns:
        Recorded distribution → (recorded version → ids of the runs that used it,
        what registers their entries now, as ``"name version"``).

    """
    installed: dict[tuple[str, str], tuple[str, str] | None] = {}
    changed: dict[str, tuple[dict[str, set[str]], set[str]]] = {}
    for run_id, key, entry in registered_entries(finished):
        recorded = distribution_version(entry.get("source"))
        name = entry.get("name")
        if recorded is None or recorded[0] == "latent-bench" or not isinstance(name, str):
            continue
        if (key, name) not in installed:
            installed[(key, name)] = _installed_version(key, name)
        now = installed[(key, name)]
        if now is not None and now != recorded:
            versions, nows = changed.setdefault(recorded[0], ({}, set()))
            versions.setdefault(recorded[1], set()).add(run_id)
            nows.add(" ".join(now))
    return changed


def registered_entries(
    finished: dict[str, dict[str, Any]],
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(run id, kind key, entry)`` of each ``provenance.registered`` entry of the records.

    Records without the block, unknown kind keys and malformed entries are skipped.
    """
    for run_id, record in finished.items():
        prov = record.get("provenance")
        entries = prov.get("registered") if isinstance(prov, dict) else None
        if not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            if key in REGISTERED_KINDS and isinstance(entry, dict):
                yield run_id, key, entry


def _check_plugins(
    folder: Path, finished: dict[str, dict[str, Any]], rerun_changed: bool
) -> set[str]:
    """Warn about finished runs made with another version of a plugin, or pick them.

    A warning, not a refusal as for a changed input file: a plugin installed in
    editable mode changes its code without changing its version, so the version
    is a hint that results may differ, not proof that they do or do not.

    Args:
        folder: The campaign folder, for the message.
        finished: Records of the finished runs resume would skip, by run id.
        rerun_changed: Return those runs to run again instead of warning.

    Returns:
        Ids of the finished runs made with another plugin version (only with
        ``rerun_changed``).

    """
    changed = _changed_plugins(finished)
    runs = {dist: set().union(*versions.values()) for dist, (versions, _) in changed.items()}
    if rerun_changed:
        return set().union(*runs.values())
    for dist, (versions, nows) in sorted(changed.items()):
        if len(versions) == 1:
            used = f"{dist} {next(iter(versions))}"
        else:
            each = (f"{v} ({len(ids)} runs)" for v, ids in sorted(versions.items()))
            used = f"{dist} " + " or ".join(each)
        warnings.warn(
            f"{len(runs[dist])} finished run(s) in {folder} used {used}; "
            f"{' and '.join(sorted(nows))} "
            f"{'is' if len(nows) == 1 else 'are'} installed now: they are kept; pass "
            f"{RERUN_CHANGED} to run them again, or use another --out folder",
            stacklevel=3,
        )
    return set()


def _changed_code(finished: dict[str, dict[str, Any]]) -> dict[str, tuple[set[str], str]]:
    """Finished runs of classes from outside the suite whose code has changed since.

    Their records hold the sha256 of the class's file (``provenance.registered.*.code``,
    ``bench.provenance.code_digest``): classes registered in-process and plugins'
    (an editable install keeps its version while its code changes). The class
    registered under the name now is hashed again; the suite's own classes, named by
    the commit, are not compared.

    Returns:
        ``"algorithm my-es (my_es.py, registered in-process)"`` → (ids of the runs, the
        code's sha256 now).

    """
    from bench.provenance import code_digest, outside_the_suite
    from bench.registry import RegistryError, registry

    now: dict[tuple[str, str], tuple[str, str] | None] = {}  # → (sha256, where it is from)
    changed: dict[str, tuple[set[str], str]] = {}
    for run_id, key, entry in registered_entries(finished):
        code, name = entry.get("code"), entry.get("name")
        if not isinstance(code, dict) or not name:
            continue
        if (key, name) not in now:
            now[(key, name)] = None
            try:
                current = registry(REGISTERED_KINDS[key]).entry(name)
                digest = code_digest(current.load()) if outside_the_suite(current) else None
            except RegistryError:
                digest = None
            if digest is not None:
                where = "registered in-process" if current.in_process else f"from {current.source}"
                now[(key, name)] = (digest["sha256"], where)
        if now[(key, name)] is not None and now[(key, name)][0] != code.get("sha256"):
            digest_now, where = now[(key, name)]
            label = f"{key} {name} ({code.get('of')}, {where})"
            ids, _ = changed.setdefault(label, (set(), digest_now))
            ids.add(run_id)
    return changed


def _check_code(
    folder: Path, finished: dict[str, dict[str, Any]], rerun_changed: bool
) -> set[str]:
    """Warn about finished runs of a class whose code has changed (``_changed_code``), or pick them.

    Args:
        folder: The campaign folder, for the message.
        finished: Records of the finished runs resume would skip, by run id.
        rerun_changed: Return those runs to run again instead of warning.

    Returns:
        Ids of those runs (only with ``rerun_changed``).

    """
    changed = _changed_code(finished)
    if rerun_changed:
        return set().union(*(ids for ids, _ in changed.values()))
    for label, (ids, digest) in sorted(changed.items()):
        warnings.warn(
            f"{len(ids)} finished run(s) in {folder} used {label}, whose code has changed "
            f"since (sha256 now {digest[:12]}): they are kept; pass {RERUN_CHANGED} to run "
            "them again, or use another --out folder",
            stacklevel=3,
        )
    return set()


def _changed_presets(
    finished: dict[str, dict[str, Any]], specs: dict[str, RunSpec]
) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """Finished runs whose preset now gives their algorithm other settings.

    A run id hashes a preset's name, not its settings: ga-set's ``paper`` came
    to evaluate its elite again, and finished runs of the old settings would
    otherwise mix with new ones under the same ids.

    Returns:
        ``(algorithm, preset)`` → (ids of those runs, names of the settings that differ).

    """
    changed: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for run_id, record in finished.items():
        spec = specs.get(run_id)
        algorithm = record.get("algorithm")
        recorded = algorithm.get("params") if isinstance(algorithm, dict) else None
        if spec is None or spec.preset is None or not isinstance(recorded, dict):
            continue
        try:
            now = plain(algorithm_params(spec, registry("algorithms").load(spec.algo)))
        except (RegistryError, SpecError):  # the plan check refuses these
            continue
        if recorded != now:
            ids, keys = changed.setdefault((spec.algo, spec.preset), (set(), set()))
            ids.add(run_id)
            keys |= {k for k in set(recorded) | set(now) if recorded.get(k) != now.get(k)}
    return changed


def _check_presets(
    folder: Path, finished: dict[str, dict[str, Any]], specs: dict[str, RunSpec],
    rerun_changed: bool,
) -> set[str]:
    """Warn about finished runs made under a preset's earlier settings, or pick them.

    Returns:
        Their ids (only with ``rerun_changed``).

    """
    changed = _changed_presets(finished, specs)
    if rerun_changed:
        return set().union(*(ids for ids, _ in changed.values()))
    for (algo, preset), (ids, keys) in sorted(changed.items()):
        warnings.warn(
            f"{len(ids)} finished run(s) in {folder} ran {algo}'s preset '{preset}' with "
            f"other settings than it has now ({', '.join(sorted(keys))}): they are kept; pass "
            f"{RERUN_CHANGED} to run them again, or use another --out folder",
            stacklevel=3,
        )
    return set()


def _refuse_folder_of_single_runs(folder: Path) -> None:
    """Refuse a folder that holds ``bench run`` results and no campaign.

    Adopted as a campaign, its runs would vanish from ``bench show``, which reads
    a campaign folder as the campaign alone.
    """
    if not folder.is_dir() or (folder / CAMPAIGN_FILE).exists():
        return
    singles = sorted(
        p.name for p in folder.iterdir() if _NUMBERED_RUN.match(p.name) and (p / RECORD).is_file()
    )
    if singles:
        raise CampaignError(
            f"{folder} holds {len(singles)} run(s) of `bench run` ({singles[0]}, ...), not a "
            "campaign; give the campaign a folder of its own"
        )


_NUMBERED_RUN = re.compile(r"^\d{5,}-")  # the folders bench.results.save_run_numbered makes


def run_campaign(
    plan: Plan,
    folder: Path,
    force: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    run_fn: Callable[[RunSpec], RunResult] | None = None,
    run_many: RunMany | None = None,
    *,
    rerun_changed: bool = False,
) -> CampaignSummary:
    """Run every spec of ``plan`` not yet finished in ``folder``.

    Finished runs are skipped, once the input files they recorded
    (``provenance.weights``: weights, calibrations, target photos) are checked
    against the files now at the same paths, and the plugin versions they
    recorded (``provenance.registered``) against the installed ones: one warning
    per plugin whose version changed.

    Args:
        plan: The matrix to run.
        folder: Campaign folder (created if missing).
        force: Accept a folder whose stored plan differs.
        retry_failed: Run again the runs recorded as failed.
        progress: Show progress bars.
        run_fn: Runs one spec (default: ``execute`` in this process, with a bar of the
            run's evaluations under the campaign's where ``progress``).
        run_many: Runs all pending specs at once instead, e.g. on a cluster
            (``bench.distributed.on_cluster``); exclusive with ``run_fn``. Its
            ``check(specs)`` attribute, if any, may refuse them before the folder changes.
        rerun_changed: Run again the finished runs made with an input file that
            has changed since (each keeps its record until the new one replaces it),
            instead of refusing the folder, and those made with another version of
            a plugin, instead of warning about them.

    Returns:
        What was run and skipped.

    Raises:
        CampaignError: The folder is in use, holds another plan (without
            ``force``), or finished runs were made with input files that have
            changed since (without ``rerun_changed``).

    """
    if run_fn is not None and run_many is not None:
        raise ValueError("pass run_fn or run_many, not both")
    plan.validate()
    folder = Path(folder)
    runs = folder / RUNS
    _refuse_folder_of_single_runs(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        runs.mkdir(exist_ok=True)
    except FileExistsError as exc:  # a file where the campaign (or its runs) folder belongs
        raise CampaignError(
            f"{exc.filename} is a file, not a folder; move it away or use another --out folder"
        ) from None
    except OSError as exc:
        raise CampaignError(f"cannot make the campaign folder {runs}: {exc}") from None
    summary = CampaignSummary(total=len(plan))
    with CampaignLock(folder):
        _check_plan(folder, plan, force)
        remove_stale_temporaries(runs)
        specs = list(plan.specs())
        finished, todo = {}, []
        for spec in specs:
            target = runs / spec.run_id
            record = read_record(target) if target.exists() else {}
            status = record.get("status")
            if status == "finished":
                finished[spec.run_id] = record
            elif status == "failed" and not retry_failed:
                summary.skipped_failed += 1
            else:
                todo.append(spec.run_id)
        # before campaign.json changes: a refused folder stays as it was
        stale = _check_inputs(folder, finished, rerun_changed)
        stale |= _check_plugins(folder, finished, rerun_changed)
        stale |= _check_code(folder, finished, rerun_changed)
        by_id = {spec.run_id: spec for spec in specs}
        stale |= _check_presets(folder, finished, by_id, rerun_changed)
        todo_ids = set(todo) | stale
        pending = [spec for spec in specs if spec.run_id in todo_ids]  # in plan order
        summary.rerun_changed = len(stale)
        summary.skipped_finished = len(finished) - len(stale)
        check = getattr(run_many, "check", None)  # e.g. names a cluster cannot see
        if check is not None:
            check(pending)  # raises before the folder changes
        _write_json_atomic(
            folder / CAMPAIGN_FILE,
            {"schema_version": SCHEMA_VERSION, "plan": plan.to_dict(), "updated": utc_now()},
        )
        bar = tqdm(total=len(plan), unit="run", disable=not progress, dynamic_ncols=True)
        try:
            bar.update(len(plan) - len(pending))
            if run_many is None:
                results = _in_process(pending, run_fn, bar.set_description, progress)
            else:
                flight = getattr(run_many, "in_flight", None)  # the workers' progress
                if flight is not None and progress:
                    flight.show = bar.set_description
                results = run_many(pending)
            for spec, result in results:
                result.save(runs / spec.run_id, replace=True)
                summary.ran += 1
                summary.failed += result.record["status"] != "finished"
                bar.update()
        finally:
            bar.close()
    return summary


def _in_process(
    specs: list[RunSpec],
    run_fn: Callable[[RunSpec], RunResult] | None,
    describe: Callable[[str], object],
    progress: bool = False,
) -> Iterator[tuple[RunSpec, RunResult]]:
    """Run ``specs`` one after the other here, naming each (``describe``) as it starts.

    With ``progress``, the default ``run_fn`` shows each run's evaluations on a
    second bar: a run of the 64-px face sets takes minutes, and a bar of whole
    runs alone looked stuck.
    """
    run_fn = run_fn or (lambda spec: execute(spec, progress=progress, nested=True))
    for spec in specs:
        describe(f"{spec.problem} × {spec.algo} s{spec.seed}")
        yield spec, run_or_fail(spec, run_fn)


def run_or_fail(spec: RunSpec, run_fn: Callable[[RunSpec], RunResult]) -> RunResult:
    """``run_fn(spec)``, or a failed run's result when the run cannot start.

    A spec that cannot be built (``SpecError``) and a problem whose construction
    raises (a missing or corrupt weight file, say) are recorded as failed runs
    with their error, like a search that fails: one problem's trouble costs its
    own runs, not the rest of the campaign, and ``--retry-failed`` runs them again
    once the cause is fixed. Interrupts (Ctrl-C) still stop the campaign.
    """
    try:
        return run_fn(spec)
    except Exception as exc:
        return RunResult(failed_record(spec, exc), None, None, None)


def failed_record(spec: RunSpec, exc: BaseException, device: str | None = None) -> dict[str, Any]:
    """The record of a run of ``spec`` that ``exc`` stopped before it could start.

    Like a finished run's record it carries a ``finished`` time and the
    ``provenance`` (code, packages, machine) of where it failed; no weight files,
    since the problem was never built.

    Args:
        spec: The run.
        exc: What stopped it.
        device: The device the problem was meant for; by default the one the
            problem would be placed on here (``LATENT_BENCH_DEVICE``, see ``placed``).

    """
    now = utc_now()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "status": "failed",
        "started": now,
        "finished": now,
        # a usage error's traceback says nothing; any other keeps it to debug the cause
        "error": {**error_info(exc), **({"traceback": ""} if isinstance(exc, SpecError) else {})},
        "evaluations": 0,
        "provenance": _failed_run_provenance(spec, device),
    }


def _failed_run_provenance(spec: RunSpec, device: str | None) -> dict[str, Any]:
    """``provenance`` for a run that never started, on the device it was meant for."""
    if device is None:
        try:
            _, device = placed(spec, os.environ.get(DEVICE_ENV) or None)
        except Exception:  # an unknown problem, say: the run failed for that already
            device = "cpu"
    try:
        prov = provenance(device=device)
    except Exception:  # a device this machine lacks: the machine is still worth recording
        prov = provenance()
    generator = problem_generator(spec.problem, spec.problem_params)
    return {**prov, "registered": registered_sources(spec.problem, spec.algo, generator=generator)}


def read_plan(folder: Path) -> Plan:
    """The plan stored in a campaign folder (``CampaignError`` naming what is wrong)."""
    path = Path(folder) / CAMPAIGN_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CampaignError(f"{folder} is not a campaign folder (no {CAMPAIGN_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CampaignError(
            f"{path} is unreadable ({exc}); remove it or use another folder"
        ) from None
    stored = data.get("plan") if isinstance(data, dict) else None
    fields = {f.name for f in dataclasses.fields(Plan)}
    required = {"problems", "algorithms", "seeds", "budget"}
    if not isinstance(stored, dict) or not required <= set(stored) or set(stored) - fields:
        if isinstance(stored, dict):
            keys = f"its keys: {sorted(stored)}"
        elif stored is None:
            keys = "no plan table"
        else:
            keys = f"its plan: {type(stored).__name__}, not a table"
        raise CampaignError(
            f"{path} holds a damaged plan ({keys}; a plan has "
            f"{', '.join(sorted(fields))}); remove it or use another folder"
        )
    try:
        plan = Plan(**stored)
        plan.check_types(values=False)  # what was stored ran: damage, not values, is the risk
    except SpecError as exc:
        raise CampaignError(f"{path} holds a damaged plan: {exc}") from exc
    return plan


def load_campaign(folder: Path) -> pd.DataFrame:
    """All runs of a campaign as one DataFrame, one row per planned run.

    Runs not yet recorded appear with ``status == "pending"``; finished and
    failed runs carry their figures and errors.
    """
    folder = Path(folder)
    plan = read_plan(folder)
    runs = folder / RUNS  # absent until the first run: every run is pending
    folders = runs.iterdir() if runs.is_dir() else ()
    recorded = {}
    for path in (p for p in folders if p.is_dir() and not p.name.startswith(".")):
        record = read_record(path)  # warns about an unusable one, which stands in as failed
        recorded[record.get("run_id")] = (record, path)
    rows = []
    for spec in plan.specs():
        record, path = recorded.get(spec.run_id, (None, None))
        if record is None:
            record = {"run_id": spec.run_id, "spec": spec.to_dict(), "status": "pending"}
        elif not record.get("spec"):  # an unusable record says nothing of its run: the plan does
            record = {**record, "spec": spec.to_dict()}
        rows.append(flat_row(record, path))
    return run_table(rows)

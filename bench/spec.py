"""Run specifications: what one run is, its id, and how ``--set`` options reach it.

A ``RunSpec`` names a problem and an algorithm with their parameters, a budget
and a seed. Its id is a hash of all of that, so a campaign can tell a finished
run from a new one. ``build`` turns a spec into live objects.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import math
import numbers
import os
import pathlib
import sys
import typing
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from types import UnionType
from typing import Any, Union

import numpy as np

from bench.algorithm import Algorithm
from bench.problem import Problem
from bench.registry import registry


class SpecError(ValueError):
    """A run specification that cannot be built; the message is meant for the user."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one run.

    Attributes:
        problem: Registered problem name.
        algo: Registered algorithm name.
        budget: Number of fitness evaluations the run may spend.
        seed: Root of the run's ``SeedSequence``.
        problem_params: Keyword arguments of the problem.
        algo_params: Keyword arguments of the algorithm (after the preset).
        preset: Name of an algorithm preset, applied before ``algo_params``.

    """

    problem: str
    algo: str
    budget: int
    seed: int = 0
    problem_params: dict[str, Any] = field(default_factory=dict)
    algo_params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None

    def __post_init__(self) -> None:
        """NumPy integers as Python ints, ``None`` parameters as none: the forms a record holds."""
        for name in ("budget", "seed"):
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool | int):
                object.__setattr__(self, name, int(value))  # np.int64 is not JSON
        for name in ("problem_params", "algo_params"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, {})
            elif isinstance(value, dict):  # its own copy: the caller's dict may change later
                try:
                    value = copy.deepcopy(value)
                except Exception:  # an object that cannot be copied: the dict itself, then
                    value = dict(value)
                object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        """Specs hash by run id, so they can key dicts and fill sets (equal specs, equal ids)."""
        return hash(self.run_id)

    def check_types(self) -> None:
        """Raise ``SpecError`` unless names are strings, budget and seed ints, params dicts."""
        for name in ("problem", "algo"):
            value = getattr(self, name)
            if not isinstance(value, str):
                what = f"the class {value.__name__}" if isinstance(value, type) else (
                    f"a {type(value).__name__}"
                )
                raise SpecError(f"{name} must be a registered name (a str), got {what}")
        for name in ("budget", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpecError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
        for name in ("problem_params", "algo_params"):
            if not isinstance(getattr(self, name), dict):
                got = type(getattr(self, name)).__name__
                raise SpecError(f"{name} must be a dict of parameters, got a {got}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the spec.

        Parameter values that JSON lacks become what a command line or a plan gives
        for them (a tuple a list, a path its string), so a spec and its
        ``from_dict(to_dict())`` copy have one run id and build the same objects.
        """
        return plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Inverse of ``to_dict``."""
        return cls(**data)

    @property
    def run_id(self) -> str:
        """16 hex digits of the sha256 of the canonical JSON of the spec."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def seeds(self) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
        """Independent seed sequences for the algorithm and the problem."""
        algo_seed, problem_seed = np.random.SeedSequence(self.seed).spawn(2)
        return algo_seed, problem_seed


def plain(value: Any) -> Any:
    """``value`` as strict JSON holds it, in nested dicts and lists too.

    Tuples become lists, sets sorted lists (by ``str`` where the items do not
    compare), paths strings, NumPy arrays lists and NumPy scalars Python numbers,
    0-d and 1-d torch tensors numbers and lists (where torch is already imported;
    this never imports it); dict keys become strings. NaN and infinite floats
    become ``None``: strict JSON has no token for them. Anything else JSON cannot
    hold (other objects, tensors of more dimensions) is left as it is, for the
    record writer, which writes it as its ``str``.
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        try:
            items = sorted(value)
        except TypeError:  # items of kinds that do not compare, e.g. {1, "a"}
            items = sorted(value, key=str)
        return [plain(v) for v in items]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    torch = sys.modules.get("torch")  # a tensor can only come from a caller that imported it
    if torch is not None and isinstance(value, torch.Tensor) and value.ndim <= 1:
        try:
            return plain(value.detach().cpu().tolist())
        except (RuntimeError, NotImplementedError):  # no numbers to copy (the meta device)
            return value
    return value


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value: JSON numbers, lists and booleans, else a string.

    ``true``/``false``/``none`` are accepted in any case.
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text
    return value


def parse_sets(items: list[str]) -> dict[str, Any]:
    """Parse ``["key=value", ...]`` into a dict; malformed items raise ``SpecError``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise SpecError(f"malformed --set '{item}': expected key=value, e.g. --set cxpb=0.75")
        if key in out:
            raise SpecError(f"--set {key} given twice ({out[key]!r} and {parse_value(value)!r})")
        out[key] = parse_value(value)
    return out


def _parameters(target: Any, skip: tuple[str, ...]) -> tuple[dict[str, inspect.Parameter], bool]:
    """Named keyword parameters of ``target`` and whether it takes ``**kwargs``.

    String annotations (``from __future__ import annotations``) are evaluated; where
    one names something not importable at run time, the annotations stay strings
    and their values go unchecked.
    """
    try:
        sig = inspect.signature(target, eval_str=True)
    except NameError:  # e.g. a type imported only under TYPE_CHECKING
        sig = inspect.signature(target)
    named = {
        name: p
        for name, p in sig.parameters.items()
        if name not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    var_kw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    return named, var_kw


class _Mismatch(Exception):
    """A value is not of an annotated type (internal to ``_coerce``)."""


def _checkable(annotation: Any) -> bool:
    """Whether ``_convert`` can check a value against ``annotation``.

    Classes and generics of a class (``list[float]``, ``tuple[int, ...]``) can;
    ``Any``, ``Literal[...]``, type variables and unevaluated strings cannot.
    """
    if annotation is None or annotation is type(None):
        return True
    if typing.get_origin(annotation) in (Union, UnionType):
        return all(_checkable(member) for member in typing.get_args(annotation))
    return isinstance(annotation, type) or isinstance(typing.get_origin(annotation), type)


def _type_name(annotation: Any) -> str:
    """``float``, ``tuple[float, float]``, ``list``: an annotation as a message names it."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        names = ["..." if a is Ellipsis else _type_name(a) for a in args]
        return f"tuple[{', '.join(names)}]" if args else "tuple"
    if origin in (Union, UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        return " or ".join(_type_name(m) for m in members)
    if isinstance(origin, type):  # list[float] is checked as a list
        return origin.__name__
    return getattr(annotation, "__name__", str(annotation))


def _is_path_type(cls: type) -> bool:
    """Whether ``cls`` is a path type a string converts to (``Path``, ``os.PathLike``)."""
    return issubclass(cls, pathlib.PurePath) or (
        issubclass(pathlib.Path, cls) and issubclass(cls, os.PathLike)
    )


def _convert(value: Any, annotation: Any) -> Any:
    """``value`` as a value of ``annotation``, converted where JSON and TOML lack the type.

    Unions try every member as the value stands first, then with a conversion: an
    int for a ``float``, a list for a ``tuple[...]`` (length and items checked), a
    non-empty string for a ``Path`` or ``os.PathLike``. So ``str | Path`` keeps a
    string a string. Annotations ``_checkable`` rejects pass any value.

    Raises:
        _Mismatch: ``value`` is of none of the annotated types.

    """
    if not _checkable(annotation):
        return value
    is_union = typing.get_origin(annotation) in (Union, UnionType)
    members = typing.get_args(annotation) if is_union else (annotation,)
    if value is None and any(m is None or m is type(None) for m in members):
        return value
    for loose in (False, True):
        for member in members:
            if member is None or member is type(None):
                continue
            try:
                return _convert_member(value, member, loose)
            except _Mismatch:
                pass
    raise _Mismatch


def _convert_member(value: Any, member: Any, loose: bool) -> Any:
    """``value`` as a value of one class or generic ``member`` (see ``_convert``)."""
    origin = typing.get_origin(member)
    if origin is tuple or member is tuple:
        if not isinstance(value, tuple | list) or (isinstance(value, list) and not loose):
            raise _Mismatch
        args = typing.get_args(member)
        if not args:  # a bare tuple: any items
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_convert(item, arg) for item, arg in zip(value, args, strict=True))
    cls = origin if isinstance(origin, type) else member  # list[float] is checked as a list
    if _is_instance(value, cls):
        return value
    if not loose:
        raise _Mismatch
    if cls is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if _is_path_type(cls) and isinstance(value, str) and value:
        return cls(value) if issubclass(cls, pathlib.PurePath) else pathlib.Path(value)
    raise _Mismatch


def _is_instance(value: Any, cls: type) -> bool:
    """``isinstance``, except that a boolean is no ``int`` (nor ``float``) here."""
    if isinstance(value, bool) and cls is not bool and cls in (int, float):
        return False
    try:
        return isinstance(value, cls)
    except TypeError:  # a Protocol that is not runtime-checkable: cannot tell, so accept
        return True


def _coerce(owner: str, name: str, value: Any, param: inspect.Parameter | None) -> Any:
    """Check ``value`` against the annotation of ``param`` and convert it where needed.

    JSON and TOML have no float that is an int, no tuple and no path, so an int
    given for a ``float`` becomes a float, a list for a ``tuple[...]`` a tuple (a
    fixed-length one checks length and items; ``tuple[int, ...]`` takes any
    length) and a string for a ``Path`` or ``os.PathLike`` a ``pathlib.Path``.
    Unions are checked against their members (``float | None`` takes a float, an
    int made a float, or ``None``); annotations that cannot be checked with
    ``isinstance`` (``Any``, ``Literal[...]``, unevaluated strings) pass any value.

    Raises:
        SpecError: ``value`` is of none of the annotated types.

    """
    if param is None or param.annotation is inspect.Parameter.empty:
        return value
    try:
        return _convert(value, param.annotation)
    except _Mismatch:
        expected = _type_name(param.annotation) or "None"
        raise SpecError(f"{owner} parameter '{name}' expects {expected}, got {value!r}") from None


def route_params(
    sets: dict[str, Any], problem_cls: Any, algo_cls: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send each ``--set`` key to the problem or the algorithm.

    ``problem.KEY`` and ``algo.KEY`` choose explicitly; a bare key goes to the
    side that declares it; a key both declare must be prefixed.

    Returns:
        ``(problem_params, algo_params)``.

    """
    p_named, p_var = _parameters(problem_cls, ())
    a_named, a_var = _parameters(algo_cls, ("space", "seed"))
    listed = getattr(algo_cls, "accepted_options", None)  # what its **options take, if it says
    if a_var and callable(listed):
        # seed and space still reach the algorithm's side, whose check says they are the run's
        a_named = {**{name: None for name in (*listed(), "seed", "space")}, **a_named}
        a_var = False  # a key neither side lists is then a typo, named as one
    problem_params: dict[str, Any] = {}
    algo_params: dict[str, Any] = {}
    given_as: dict[tuple[str, str], str] = {}  # (side, parameter) -> the key that set it
    for key, value in sets.items():
        prefix, _, bare = key.rpartition(".")
        if prefix == "problem":
            side = "problem"
        elif prefix in ("algo", "algorithm"):
            side = "algo"
        elif prefix:
            raise SpecError(f"--set {key}: prefix must be 'problem.' or 'algo.'")
        elif bare in p_named and bare in a_named:
            raise SpecError(
                f"--set {bare} is a parameter of both the problem and the algorithm; "
                f"write problem.{bare}= or algo.{bare}="
            )
        elif bare in p_named or (p_var and bare not in a_named and not a_var):
            side = "problem"
        elif bare in a_named or a_var:
            side = "algo"
        else:
            valid = sorted(set(p_named) | set(a_named))
            raise SpecError(f"--set {bare}: no such parameter. Valid: {', '.join(valid)}")
        named, var = (p_named, p_var) if side == "problem" else (a_named, a_var)
        if bare not in named and not var:
            raise SpecError(
                f"--set {key}: the {side} has no parameter '{bare}'. "
                f"Valid: {', '.join(sorted(named)) or '(none)'}"
            )
        target = problem_params if side == "problem" else algo_params
        if (side, bare) in given_as:
            first = given_as[side, bare]
            raise SpecError(
                f"--set {bare} given twice ({first}={sets[first]!r} and {key}={value!r}); "
                "set it once"
            )
        given_as[side, bare] = key
        target[bare] = _coerce(side, bare, value, named.get(bare))
    return problem_params, algo_params


def algorithm_params(spec: RunSpec, algo_cls: type[Algorithm]) -> dict[str, Any]:
    """The algorithm's keyword arguments: its preset, then the spec's own."""
    params: dict[str, Any] = {}
    if spec.preset is not None:
        presets = getattr(algo_cls, "presets", {})
        if spec.preset not in presets:
            valid = ", ".join(sorted(presets)) or "(none)"
            raise SpecError(
                f"algorithm '{spec.algo}' has no preset '{spec.preset}'. Valid: {valid}"
            )
        params.update({k: v for k, v in presets[spec.preset].items() if k != "budget"})
    params.update(spec.algo_params)
    return params


@contextlib.contextmanager
def _building(what: str) -> Iterator[None]:
    """Turn a constructor's refusal of its arguments into a ``SpecError`` naming ``what``."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{what}: {exc}") from exc
    except MemoryError as exc:  # a size far beyond the machine, e.g. --set problem.dim=1e11
        raise SpecError(f"{what} does not fit in memory: {exc}") from exc


def build_problem(spec: RunSpec) -> Problem:
    """Instantiate the problem of ``spec``."""
    check_spec(spec)
    cls = registry("problems").load(spec.problem)
    named, _ = _parameters(cls, ())
    params = {k: _coerce("problem", k, v, named.get(k)) for k, v in spec.problem_params.items()}
    with _building(f"problem '{spec.problem}'"):
        return cls(**params)


def build_algorithm(spec: RunSpec, problem: Problem) -> Algorithm:
    """Instantiate the algorithm of ``spec`` for ``problem`` with the run's seed."""
    cls = registry("algorithms").load(spec.algo)
    named, _ = _parameters(cls, ("space", "seed"))
    params = {
        k: _coerce("algorithm", k, v, named.get(k)) for k, v in algorithm_params(spec, cls).items()
    }
    algo_seed, _ = spec.seeds()
    with _building(f"problem '{spec.problem}'"):  # its bounds, genome_shape, worst_fitness
        space = problem.search_space
    with _building(f"algorithm '{spec.algo}'"):
        return cls(space, algo_seed, **params)


def _has_nonfinite(value: Any) -> bool:
    """Whether ``value`` is, or holds in a list, tuple or dict, a NaN or infinite float."""
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nonfinite(v) for v in value)
    return isinstance(value, float | np.floating) and not math.isfinite(value)


def check_spec(spec: RunSpec) -> None:
    """Validate names, preset and parameters of ``spec`` without building anything heavy."""
    spec.check_types()
    if spec.budget < 1:
        raise SpecError(f"budget must be a positive number of evaluations, got {spec.budget}")
    if spec.seed < 0:  # an int: check_types says so
        raise SpecError(f"a seed is an integer from 0, got {spec.seed!r}")
    for side, params in (("problem", spec.problem_params), ("algorithm", spec.algo_params)):
        for key, value in params.items():
            if _has_nonfinite(value):
                raise SpecError(
                    f"{side} parameter '{key}' is {value!r}: give a finite number (a run id "
                    "hashes parameters as JSON, which has no NaN or infinity)"
                )
    problem_cls = registry("problems").load(spec.problem)
    algo_cls = registry("algorithms").load(spec.algo)
    p_named, p_var = _parameters(problem_cls, ())
    for key, value in spec.problem_params.items():
        if key not in p_named and not p_var:
            valid = ", ".join(sorted(p_named)) or "(none)"
            raise SpecError(f"problem '{spec.problem}' has no parameter '{key}'. Valid: {valid}")
        _coerce("problem", key, value, p_named.get(key))
    a_named, a_var = _parameters(algo_cls, ("space", "seed"))
    for key, value in algorithm_params(spec, algo_cls).items():
        if key in ("space", "seed"):
            raise SpecError(
                f"algorithm '{spec.algo}': '{key}' is the run's own (--seed, the problem's "
                "space), not an option"
            )
        if key not in a_named and not a_var:
            valid = ", ".join(sorted(a_named)) or "(none)"
            raise SpecError(f"algorithm '{spec.algo}' has no parameter '{key}'. Valid: {valid}")
        _coerce("algorithm", key, value, a_named.get(key))


def placed(spec: RunSpec, device: str | None) -> tuple[RunSpec, str]:
    """``spec`` with its problem put on ``device``, and the device the problem will use.

    The plan's own ``device`` parameter wins; problems without a ``device``
    parameter run on the CPU.

    Args:
        spec: The run.
        device: The worker's device, or ``None`` for the problem's default.

    Returns:
        ``(spec to build the problem from, device name for the provenance)``.

    """
    params = spec.problem_params
    if "device" in params:
        return spec, str(params["device"])
    takes_device = "device" in inspect.signature(registry("problems").load(spec.problem)).parameters
    if device is None or not takes_device:
        return spec, "cpu"
    return replace(spec, problem_params={**params, "device": device}), device


def preset_notes(spec: RunSpec) -> list[str]:
    """What a reader of ``spec``'s results should know about its ``paper`` preset.

    A ``paper`` preset holds one source study's settings: run at another budget,
    or on a problem of the other study, it reproduces nothing, which the runs'
    records alone do not say.

    Returns:
        One line per remark (none for other presets or none at all).

    """
    if spec.preset != "paper":
        return []
    algo_cls = registry("algorithms").load(spec.algo)
    settings = getattr(algo_cls, "presets", {}).get(spec.preset, {})
    notes = []
    source = settings.get("budget")
    if source is not None and spec.budget != source:
        notes.append(
            f"{spec.algo}'s paper preset: the study ran {source:,} evaluations with it, "
            f"the budget here is {spec.budget:,}"
        )
    theirs = getattr(algo_cls, "paper_study", None)
    ours = getattr(registry("problems").load(spec.problem), "study", None)
    if theirs and ours and theirs != ours:
        notes.append(
            f"{spec.algo}'s paper preset holds the settings of the {theirs}; "
            f"{spec.problem} is a problem of the {ours}"
        )
    return notes

"""One registry type, filled from entry points.

Built-in problems, algorithms and generators register through the same
entry-point groups as third-party plugins (``bench.problems``,
``bench.algorithms``, ``bench.generators``). A plugin package declares, in its
``pyproject.toml``::

    [project.entry-points."bench.algorithms"]
    my-algo = "my_package.module:MyAlgorithm"

and ``bench list`` and ``bench run --algo my-algo`` find it. Two entries with the
same name are an error that names both sources.

An entry whose name is unsafe (see ``check_name``) or whose object is of the
wrong kind (a problem entry must name a ``bench.problem.Problem`` subclass, an
algorithm entry a ``bench.algorithm.Algorithm`` subclass, a generator entry a
callable that returns a ``bench.generator.Generator``) stays listed but is
broken: loading it raises ``RegistryError`` saying what it should be, and the
other entries keep working.

In a notebook or a script, ``registered`` adds classes for the duration of a
``with`` block, without packaging them::

    with registered(algorithms={"my-es": MyES}):
        result = execute(RunSpec("sphere", "my-es", budget=2000))

They are checked like entry points, and records name their class and say that
no entry point declared them. Such a registration lives in this process only:
campaigns on Dask workers refuse it.

A problem or algorithm name may carry a variant label after ``@``
(``face@sphere``, ``pymoo:cmaes@pop200``): the registry resolves it to the
entry before the ``@``, while plans, run records and leaderboards keep the whole
name, so one campaign can compare settings of one problem or algorithm side by
side. Registered names never hold ``@``; generators take no label.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

GROUPS = {
    "problems": "bench.problems",
    "algorithms": "bench.algorithms",
    "generators": "bench.generators",
}
SINGULAR = {"problems": "problem", "algorithms": "algorithm", "generators": "generator"}
BASES = {"problems": "bench.problem:Problem", "algorithms": "bench.algorithm:Algorithm"}
"""The class every entry of a kind must subclass (generators are factories: any callable)."""

NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
MAX_NAME_LENGTH = 100
VARIANT = "@"
"""Separates a registered name from a variant label: ``face@sphere``."""
VARIANT_KINDS = ("problems", "algorithms")
"""The kinds whose names take a variant label (a generator is a problem's parameter)."""
LABEL_PATTERN = re.compile(r"[A-Za-z0-9_.:-]+")


class RegistryError(ValueError):
    """A registry lookup or load failed; the message is meant for the user."""


class UnknownNameError(RegistryError):
    """A name that no entry point registers."""


class DuplicateNameError(RegistryError):
    """Two entry points register the same name."""


@dataclass
class Entry:
    """One registered object, loaded on first use.

    Attributes:
        name: The registered name.
        target: ``"module:attribute"`` of the entry point.
        source: Distribution that declared it, e.g. ``"latent-bench 0.1.0"``.
        kind: ``"problems"``, ``"algorithms"`` or ``"generators"``, set by
            ``Registry``; with it, ``load`` checks the name and the kind of the
            loaded object (``None``: no checks).

    """

    name: str
    target: str
    source: str
    _entry_point: Any = field(repr=False, default=None)
    _loaded: Any = field(repr=False, default=None)
    kind: str | None = None
    in_process: bool = False

    def load(self) -> Any:
        """Import and return the registered object.

        Raises:
            RegistryError: The entry's name is unsafe, its import fails, or it names
                an object of the wrong kind for its group.

        """
        if self._loaded is None:
            where = f"({self.target}, from {self.source})"
            if self.kind is not None:
                problem = check_name(self.name)
                if problem:
                    raise RegistryError(
                        f"unusable {SINGULAR[self.kind]} name {self.name!r} {where}: {problem}"
                    )
            try:
                obj = self._entry_point.load()
            except Exception as exc:  # a broken plugin must not look like our bug
                raise RegistryError(
                    f"cannot load '{self.name}' {where}: {type(exc).__name__}: {exc}"
                ) from exc
            if self.kind is not None:
                problem = _wrong_kind(self.kind, obj)
                if problem:
                    raise RegistryError(f"cannot use '{self.name}' {where}: {problem}")
            self._loaded = obj
        return self._loaded

    @property
    def description(self) -> str:
        """First line of the registered object's docstring."""
        doc = (getattr(self.load(), "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else "(no description)"


class Registry:
    """Named entries of one kind (problems, algorithms or generators).

    Args:
        kind: ``"problems"``, ``"algorithms"`` or ``"generators"``.
        entries: The entries; duplicate names raise ``DuplicateNameError``.

    """

    def __init__(self, kind: str, entries: list[Entry]) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            entry.kind = kind
            if entry.name in self._entries:
                first = self._entries[entry.name]
                raise DuplicateNameError(
                    f"duplicate {SINGULAR[kind]} name '{entry.name}': registered by "
                    f"{first.source} ({first.target}) and by {entry.source} ({entry.target})"
                )
            self._entries[entry.name] = entry

    @classmethod
    def from_entry_points(cls, kind: str) -> Registry:
        """Build the registry of ``kind`` from the installed entry points."""
        entries = []
        for ep in metadata.entry_points(group=GROUPS[kind]):
            dist = getattr(ep, "dist", None)
            source = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
            entries.append(Entry(ep.name, ep.value, source, ep))
        return cls(kind, entries)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        try:
            self.entry(name)
        except RegistryError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry called ``name``; unknown names list the valid ones.

        ``name@label`` (problems and algorithms) is the entry ``name``; a malformed
        label, or a label on a generator, raises ``RegistryError`` saying why.
        """
        key = name
        if isinstance(name, str) and VARIANT in name:
            key, label = split_variant(name)
            problem = check_label(self.kind, label)
            if problem:
                raise RegistryError(f"{SINGULAR[self.kind]} name {name!r}: {problem}")
        if key not in self._entries:
            message = unknown_name_message(SINGULAR[self.kind], key, self.names())
            if key != name:  # say which labelled name it came from
                message = message.replace(f"'{key}'", f"'{key}' (in {name!r})", 1)
            raise UnknownNameError(message)
        return self._entries[key]

    def load(self, name: str) -> Any:
        """The object registered as ``name``."""
        return self.entry(name).load()

    def add(self, name: str, obj: Any) -> Entry:
        """Register ``obj`` as ``name`` in this process (see ``registered``).

        Raises:
            RegistryError: ``name`` is unsafe or taken, or ``obj`` is of the wrong kind.

        """
        what = SINGULAR[self.kind]
        if not isinstance(name, str):
            raise RegistryError(f"a {what} name is a str, got {type(name).__name__} {name!r}")
        problem = check_name(name) or _wrong_kind(self.kind, obj, "registration")
        if problem:
            raise RegistryError(f"cannot register {what} {name!r}: {problem}")
        if name in self._entries:
            first = self._entries[name]
            raise DuplicateNameError(
                f"{what} name '{name}' is taken by {first.source} ({first.target}); "
                "register yours under another name"
            )
        module = getattr(obj, "__module__", None) or "?"
        target = f"{module}:{getattr(obj, '__qualname__', type(obj).__name__)}"
        entry = Entry(name, target, _in_process_source(module), _loaded=obj, kind=self.kind)
        entry.in_process = True
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget the in-process registration ``name`` (entry points stay)."""
        entry = self._entries.get(name)
        if entry is not None and entry.in_process:
            del self._entries[name]


def _in_process_source(module: str) -> str:
    """``source`` of an in-process registration: the distribution of its module, if any.

    A class of an installed package names that package's version; one of a
    notebook (``__main__``) or of a loose script says it is not installed.
    """
    top = module.partition(".")[0]
    dists = metadata.packages_distributions().get(top, [])
    if dists:
        try:
            return f"{dists[0]} {metadata.version(dists[0])} (registered in-process)"
        except metadata.PackageNotFoundError:
            pass
    return "registered in-process (no entry point, not an installed package)"


@contextlib.contextmanager
def registered(
    problems: dict[str, Any] | None = None,
    algorithms: dict[str, Any] | None = None,
    generators: dict[str, Any] | None = None,
) -> Iterator[None]:
    """Register classes under names for the duration of a ``with`` block.

    Everything that takes a registered name (``execute``, ``run_campaign`` in this
    process, ``build_problem``) then finds them, checked as entry points are.

    Args:
        problems: ``{name: Problem subclass}``.
        algorithms: ``{name: Algorithm subclass}``.
        generators: ``{name: factory returning a Generator}``.

    Raises:
        RegistryError: A name is unsafe or already registered, or an object is of the
            wrong kind; nothing is registered then.

    """
    added: list[tuple[Registry, str]] = []
    try:
        for kind, given in (
            ("problems", problems), ("algorithms", algorithms), ("generators", generators)
        ):
            for name, obj in (given or {}).items():
                reg = registry(kind)
                reg.add(name, obj)
                added.append((reg, name))
        yield
    finally:
        for reg, name in added:
            reg.remove(name)


def in_process_names(kind: str, names: list[str]) -> list[str]:
    """Those of ``names`` that ``registered`` added in this process, not an entry point."""
    reg = registry(kind)
    return [n for n in names if n in reg and reg.entry(n).in_process]


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a registered name, or ``None`` if it can.

    A name becomes part of folder names and command lines, so it holds only
    ASCII letters, digits and ``_ . : -``, starts with a letter, digit or ``_``, and is at
    most ``MAX_NAME_LENGTH`` characters long (e.g. ``ga``, ``map-elites``,
    ``pymoo:de``).
    """
    if not name:
        return "a name cannot be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"a name is at most {MAX_NAME_LENGTH} characters, this one has {len(name)}"
    if not NAME_PATTERN.fullmatch(name):
        return (
            "a name holds only ASCII letters, digits and _ . : - and starts with a letter, "
            "digit or _ (no /, \\, spaces or leading dot); rename the entry point"
        )
    return None


def split_variant(name: str) -> tuple[str, str | None]:
    """``"face@sphere"`` → ``("face", "sphere")``; ``"face"`` → ``("face", None)``."""
    base, sep, label = name.partition(VARIANT)
    return base, (label if sep else None)


def base_name(name: str) -> str:
    """The registered name of a possibly labelled name: ``pymoo:de@pop100`` → ``pymoo:de``."""
    return split_variant(name)[0]


def check_label(kind: str, label: str | None) -> str | None:
    """Why ``label`` cannot label a ``kind`` name (``NAME@label``), or ``None`` if it can.

    A label holds the characters of a name (ASCII letters, digits, ``_ . : -``),
    is not empty, and only problems and algorithms take one.
    """
    if label is None:
        return None
    if kind not in VARIANT_KINDS:
        return (
            f"a {SINGULAR[kind]} name takes no @label (only problem and algorithm names do, "
            "to tell variants apart in a plan)"
        )
    if not label:
        return "nothing follows @; write NAME@LABEL, e.g. face@sphere, or the name alone"
    if len(label) > MAX_NAME_LENGTH:
        return f"a label is at most {MAX_NAME_LENGTH} characters, this one has {len(label)}"
    if not LABEL_PATTERN.fullmatch(label):
        return (
            f"a label (after @) holds only ASCII letters, digits and _ . : -, one @ per name; "
            f"got {label!r}"
        )
    return None


def _wrong_kind(kind: str, obj: Any, noun: str = "entry point") -> str | None:
    """Why ``obj`` cannot be registered as a ``kind`` entry, or ``None`` if it can.

    Args:
        kind: ``"problems"``, ``"algorithms"`` or ``"generators"``.
        obj: What the entry names.
        noun: What the message calls the entry (``"entry point"``, ``"registration"``).

    """
    what = SINGULAR[kind]
    article = "an" if what[0] in "aeiou" else "a"
    hint = " (write 'module:attribute', not a module)" if inspect.ismodule(obj) else ""
    if kind not in BASES:
        if callable(obj):
            return None
        return (
            f"{article} {what} {noun} must name a callable (a class or factory function "
            f"returning a bench.generator.Generator), got {_describe(obj)}{hint}"
        )
    should = f"{article} {what} {noun} must name a subclass of {BASES[kind].replace(':', '.')}"
    if not isinstance(obj, type) or not issubclass(obj, _base(kind)):
        for other in BASES:
            if isinstance(obj, type) and issubclass(obj, _base(other)):
                hint = f" (it is a{'n' * (other == 'algorithms')} {SINGULAR[other]}: "
                hint += f"register it under '{GROUPS[other]}')"
        return f"{should}, got {_describe(obj)}{hint}"
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        return f"{should} that implements every abstract method; {obj.__name__} lacks {missing}"
    return None


def _base(kind: str) -> type:
    """The class of ``BASES[kind]``, imported on first use (it pulls NumPy)."""
    module, _, attr = BASES[kind].partition(":")
    return getattr(importlib.import_module(module), attr)


def _describe(obj: Any) -> str:
    """``module x.y``, ``class x.Y`` or ``int 3``: what an entry point named."""
    if inspect.ismodule(obj):
        return f"module {obj.__name__}"
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    if callable(obj):
        return f"function {getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"
    return f"{type(obj).__name__} {obj!r:.60}"


def unknown_name_message(what: str, name: str, valid: list[str]) -> str:
    """One line that rejects ``name``, suggests the closest and lists the valid ones."""
    folded = {v.casefold(): v for v in valid}  # 'GA' is 'ga' mistyped, which difflib misses
    close = [folded[name.casefold()]] if name.casefold() in folded else []
    close = close or difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    listing = ", ".join(valid) if valid else "(none registered)"
    return f"unknown {what} '{name}'{hint} Valid: {listing}"


@functools.cache
def registry(kind: str) -> Registry:
    """The registry of installed entry points for ``kind`` (cached per process)."""
    if kind not in GROUPS:
        raise UnknownNameError(unknown_name_message("registry", kind, list(GROUPS)))
    return Registry.from_entry_points(kind)

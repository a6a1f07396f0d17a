"""One registry type, filled from entry points.

Built-in problems, algorithms and generators register through the same
entry-point groups as third-party plugins (``bench.problems``,
``bench.algorithms``, ``bench.generators``). A plugin package declares, in its
``pyproject.toml``::

    [project.entry-points."bench.algorithms"]
    my-algo = "my_package.module:MyAlgorithm"

and ``bench list`` and ``bench run --algo my-algo`` find it. Two entries with the
same name are an error that names both sources.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

GROUPS = {
    "problems": "bench.problems",
    "algorithms": "bench.algorithms",
    "generators": "bench.generators",
}
SINGULAR = {"problems": "problem", "algorithms": "algorithm", "generators": "generator"}


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

    """

    name: str
    target: str
    source: str
    _entry_point: Any = field(repr=False, default=None)
    _loaded: Any = field(repr=False, default=None)

    def load(self) -> Any:
        """Import and return the registered object."""
        if self._loaded is None:
            try:
                self._loaded = self._entry_point.load()
            except Exception as exc:  # a broken plugin must not look like our bug
                raise RegistryError(
                    f"cannot load '{self.name}' ({self.target}, from {self.source}): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
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
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry called ``name``; unknown names list the valid ones."""
        if name not in self._entries:
            raise UnknownNameError(unknown_name_message(SINGULAR[self.kind], name, self.names()))
        return self._entries[name]

    def load(self, name: str) -> Any:
        """The object registered as ``name``."""
        return self.entry(name).load()


def unknown_name_message(what: str, name: str, valid: list[str]) -> str:
    """One line that rejects ``name``, suggests the closest and lists the valid ones."""
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    listing = ", ".join(valid) if valid else "(none registered)"
    return f"unknown {what} '{name}'{hint} Valid: {listing}"


@functools.cache
def registry(kind: str) -> Registry:
    """The registry of installed entry points for ``kind`` (cached per process)."""
    if kind not in GROUPS:
        raise UnknownNameError(unknown_name_message("registry", kind, list(GROUPS)))
    return Registry.from_entry_points(kind)

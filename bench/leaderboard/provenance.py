"""Where a leaderboard's numbers came from, gathered from every run record.

Commits, package versions, weight hashes and machines are collected with how
many runs used each, so a campaign that mixed versions says so instead of
showing one of them.
"""

from __future__ import annotations

from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from bench.provenance import SUITE, distribution_version, git_state, portable_path, utc_now

TOOLS = ("scipy", "statsmodels", "scikit-posthocs", "matplotlib", "pandas")


def _runs(n: int) -> str:
    """``1 run``, ``2 runs``."""
    return f"{n} run{'s' * (n != 1)}"


def _uncommitted_words(state: dict[str, Any]) -> str:
    """`` (uncommitted changes: a, b)`` of a git state, or ``""`` for a clean checkout.

    Records written before ``uncommitted`` was kept say only that there were some.
    """
    if not state.get("dirty"):
        return ""
    paths = state.get("uncommitted")
    if isinstance(paths, list) and paths:
        return f" (uncommitted changes: {', '.join(map(str, paths))})"
    return " (uncommitted changes)"


def machine_line(record: dict[str, Any]) -> str:
    """The machine of a record in one line: CPU, device, threads, BLAS kernels, torch's math."""
    prov = record.get("provenance") or {}
    m = prov.get("machine") or {}
    if not m:
        return "unknown"
    text = f"{m.get('cpu', '?')} × {m.get('cpu_count', '?')} CPUs, {m.get('device', '?')}"
    if m.get("gpu"):
        text += f" ({m['gpu']})"
    text += f", {m.get('torch_threads', '?')} torch threads"
    blas = [  # records before 2026-11-30 do not name their BLAS
        f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture')} "
        f"× {lib.get('num_threads')}"
        for lib in prov.get("blas") or []
    ]
    text += f", BLAS {' and '.join(blas)}" if blas else ""
    return text + _torch_math(prov.get("torch_math"))


def _torch_math(libs: Any) -> str:
    """``", torch: MKL 2024.2, oneDNN 3.12.0, AVX512"`` (records since 1 December 2026)."""
    if not isinstance(libs, dict) or not libs:
        return ""
    parts = []
    if libs.get("blas"):
        blas = str(libs["blas"])
        if blas == "mkl":
            blas = f"MKL {libs['mkl']}" if libs.get("mkl") else "MKL"
        parts.append(blas)
    if libs.get("onednn"):
        parts.append(f"oneDNN {libs['onednn']}")
    if libs.get("cpu_capability"):
        parts.append(str(libs["cpu_capability"]))
    return f", torch: {', '.join(parts)}" if parts else ""


def _plugin_versions(prov: dict[str, Any]) -> dict[str, str]:
    """Distribution → version of the plugins a run used (``provenance.registered``).

    Its problem, algorithm and (where the problem uses a registered one) generator.
    """
    out = {}
    for entry in (prov.get("registered") or {}).values():
        found = distribution_version((entry or {}).get("source"))
        if found is not None and found[0] != "latent-bench":
            out[found[0]] = found[1]
    return out


def _outside_code(prov: dict[str, Any]) -> list[str]:
    """What a run used from outside the suite: ``"algorithm my-es: my_es:MyES, <source>"``.

    Entry points of other packages and classes registered in-process, the latter with
    the sha256 of their code (``bench.provenance.code_digest``).
    """
    out = []
    for key, entry in (prov.get("registered") or {}).items():
        if not isinstance(entry, dict) or str(entry.get("source", "")).split(" ")[0] == SUITE:
            continue
        text = f"{key} {entry.get('name')}: {entry.get('target')}, {entry.get('source')}"
        code = entry.get("code")
        if isinstance(code, dict):
            text += f", {code.get('of')} sha256 {str(code.get('sha256'))[:12]}"
        out.append(text)
    return out


def gather(runs: pd.DataFrame, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Provenance of a leaderboard.

    Args:
        runs: The long run table (one row per planned run).
        records: Records of the runs that have one, by run id.

    Returns:
        A JSON-able dict: ``commits``, ``packages`` and ``machines`` (each value →
        number of runs), ``weights`` (file → each sha256 seen → number of runs;
        more than one sha256 means the runs used different versions of the file,
        e.g. a target photo replaced between two sittings), ``budgets`` (problem →
        budget), ``seeds``, ``started``/``finished`` (first and last run),
        ``run_seconds`` (sum of run wall times), ``plugins`` (code from outside the
        suite that runs used → number of runs) and ``generated`` (this leaderboard's
        commit, time and statistics packages).

    """
    commits: Counter[str] = Counter()
    packages: dict[str, Counter[str]] = {}
    machines: Counter[str] = Counter()
    weights: dict[str, Counter[str]] = {}
    plugins: Counter[str] = Counter()
    for record in records.values():
        prov = record.get("provenance") or {}
        if not prov:
            continue
        commit = prov.get("commit") or "unknown"
        commits[commit + _uncommitted_words(prov)] += 1
        for name, version in (prov.get("packages") or {}).items():
            packages.setdefault(name, Counter())[str(version)] += 1
        for name, version in _plugin_versions(prov).items():
            packages.setdefault(name, Counter())[version] += 1
        machines[machine_line(record)] += 1
        plugins.update(_outside_code(prov))
        for path, digest in (prov.get("weights") or {}).items():
            # records written before portable_path() named files by absolute path
            name = portable_path(path) if Path(path).is_absolute() else path
            weights.setdefault(name, Counter())[str(digest)] += 1
    times = [r.get(k) for r in records.values() for k in ("started", "finished") if r.get(k)]
    budgets = runs.groupby("problem", sort=False)["budget"].max()
    here = git_state()
    tools = {}
    for name in TOOLS:
        try:
            tools[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            tools[name] = None
    return {
        "commits": dict(commits),
        "packages": {k: dict(v) for k, v in sorted(packages.items())},
        "machines": dict(machines),
        "plugins": dict(plugins),
        "weights": {k: dict(sorted(v.items())) for k, v in sorted(weights.items())},
        "budgets": {str(k): int(v) for k, v in budgets.items()},
        "seeds": sorted(int(s) for s in runs["seed"].dropna().unique()),
        "started": min(times) if times else None,
        "finished": max(times) if times else None,
        "run_seconds": float(pd.to_numeric(runs["wall_seconds"], errors="coerce").sum()),
        "generated": {
            "time": utc_now(),
            "commit": here["commit"],
            "dirty": here["dirty"],
            "uncommitted": here.get("uncommitted"),
            "tools": tools,
        },
    }


def _weight_text(name: str, hashes: dict[str, int] | list[str]) -> str:
    """One file's sha256, or each of its sha256s with its runs when the runs differ.

    Args:
        name: The file as records name it (``portable_path``).
        hashes: sha256 → number of runs (``gather``), or a list of sha256s, as
            the ``provenance.json`` of older leaderboards holds them.

    """
    if not isinstance(hashes, dict):
        return f"{name}: {', '.join(hashes)}"
    if len(hashes) == 1:
        return f"{name}: {next(iter(hashes))}"
    each = ", ".join(f"{h} ({_runs(n)})" for h, n in hashes.items())
    return f"{name}: {len(hashes)} different files, {each}"


def _versions_text(name: str, versions: dict[str, int] | list[str]) -> str:
    """A package's version, or each of its versions with its runs when the runs differ.

    Args:
        name: The package (or plugin distribution).
        versions: Version → number of runs (``gather``), or a list of versions.

    """
    if not isinstance(versions, dict) or len(versions) == 1:
        return f"{name} {'/'.join(versions)}"
    return f"{name} " + "/".join(f"{v} ({_runs(n)})" for v, n in versions.items())


def provenance_lines(prov: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs shown at the foot of every page."""

    def counted(d: dict[str, int]) -> str:
        if not d:
            return "none recorded"
        return "; ".join(f"{k} ({_runs(n)})" for k, n in d.items())

    pkgs = ", ".join(_versions_text(name, v) for name, v in prov["packages"].items())
    weights = "; ".join(_weight_text(p, h) for p, h in prov["weights"].items())
    gen = prov["generated"]
    return [
        ("commit", counted(prov["commits"])),
        ("packages", pkgs or "none recorded"),
        ("weights (sha256)", weights or "none (no problem loads weight files)"),
        *([("from outside the suite", counted(prov["plugins"]))] if prov.get("plugins") else []),
        ("budget", ", ".join(f"{p}: {b} evaluations" for p, b in prov["budgets"].items())),
        ("seeds", ", ".join(map(str, prov["seeds"]))),
        ("hardware", counted(prov["machines"])),
        (
            "time",
            f"runs from {prov['started']} to {prov['finished']}, "
            f"{prov['run_seconds']:.1f} s of run wall time in all",
        ),
        (
            "generated",
            f"{gen['time']} by latent-bench at {gen['commit'] or 'unknown commit'}"
            + _uncommitted_words(gen)
            + "; "
            + ", ".join(f"{k} {v}" for k, v in gen["tools"].items()),
        ),
    ]

"""What a campaign checks of its finished runs before it skips them on resume.

A run id hashes a run's spec, not what the run was made with, so on resume each
finished run's record is compared with what is here now: the input files it
recorded (weights, calibrations, target photos: refused where one changed), the
plugin versions and out-of-suite code that registered its problem, algorithm
and generator, and its preset's settings (warnings). With ``rerun_changed``
each check returns the runs to run again instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.campaign_folder import CampaignError
from bench.provenance import REGISTERED_KINDS, distribution_version, local_path, sha256_file
from bench.registry import RegistryError, registry
from bench.spec import RunSpec, SpecError, algorithm_params, plain

RERUN_CHANGED = "--rerun-changed (rerun_changed=True in Python)"


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


def check_inputs(
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


def check_plugins(
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


def check_code(
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


def check_presets(
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

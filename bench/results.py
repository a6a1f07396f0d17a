"""Run folders on disk: written atomically, read back as one flat table.

A run folder holds ``record.json`` (spec, status, figures, provenance),
``curve.parquet`` (the anytime curve), ``best_genome.npy``, where the problem
renders ``best.png``, and where it has measures ``archive.npz`` (snapshots of the
passive archive, ``bench.archive.PassiveArchive.snapshot_arrays``) and
``improvements.parquet`` (each evaluation that beat all before it: ``evaluation``,
``fitness``, ``valid``; runs recorded before 2 December 2026 lack it). The folder is
assembled under a hidden temporary name and renamed into place in one step, so a
killed process leaves either a complete run folder or nothing (a stale ``.tmp-*``
folder, removed by the next campaign).
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.images import ImageError, check_images, save_grid

RECORD = "record.json"
CURVE = "curve.parquet"
BEST_GENOME = "best_genome.npy"
BEST_IMAGES = "best.png"
ARCHIVE = "archive.npz"
IMPROVEMENTS = "improvements.parquet"
_NUMBERED = re.compile(r"^(\d{5,})-")
_ORPHAN = re.compile(r"(\d+)-[A-Za-z0-9_]+")  # PID-suffix of a temporary folder's name
UNREADABLE = "UnreadableRecord"  # error type of a run whose record cannot be used


def _write_contents(
    folder: Path,
    record: dict[str, Any],
    curve: pd.DataFrame | None,
    best_genome: np.ndarray | None,
    images: Any,
    archive: dict[str, np.ndarray] | None = None,
    improvements: pd.DataFrame | None = None,
) -> None:
    if archive is not None:
        np.savez_compressed(folder / ARCHIVE, **archive)
    if improvements is not None:
        improvements.to_parquet(folder / IMPROVEMENTS, index=False)
    if curve is not None:
        curve.to_parquet(folder / CURVE, index=False)
    if best_genome is not None:
        np.save(folder / BEST_GENOME, best_genome)
    render_error = _write_images(images, folder / BEST_IMAGES, _renderer(record))
    if render_error is not None:  # the run stands without its picture
        record = {**record, "render_error": render_error}
    (folder / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True, default=str))


def _renderer(record: dict[str, Any]) -> str:
    """``"Class.render()"`` of the record's problem class, for messages; ``"render()"`` if none."""
    problem = record.get("problem")
    name = problem.get("class") if isinstance(problem, dict) else None
    return f"{name.rpartition('.')[2]}.render()" if isinstance(name, str) and name else "render()"


def _write_images(images: Any, path: Path, what: str) -> dict[str, str] | None:
    """Write ``images`` as the grid ``path``; a ``render_error`` block where they cannot be.

    Nothing a problem rendered may make a finished run unsaveable: images of the
    wrong form (``bench.images.check_images``) or a grid that cannot be written
    leave no file and return the error (type, one-line message, no traceback).
    """
    if images is None or (isinstance(images, list | tuple) and not images):
        return None
    try:
        save_grid(check_images(images, None, what), path)
    except Exception as exc:
        path.unlink(missing_ok=True)
        message = str(exc) if isinstance(exc, ImageError) else f"cannot write {path.name}: {exc}"
        first = (message.splitlines() or [""])[0]
        return {"type": type(exc).__name__, "message": first, "traceback": ""}
    return None


def save_run(
    final: Path,
    record: dict[str, Any],
    curve: pd.DataFrame | None = None,
    best_genome: np.ndarray | None = None,
    images: list[np.ndarray] | None = None,
    replace: bool = False,
    archive: dict[str, np.ndarray] | None = None,
    improvements: pd.DataFrame | None = None,
) -> Path:
    """Write a run folder at ``final`` atomically.

    Args:
        final: Folder to create.
        record: The JSON record.
        curve: Anytime curve, one row per evaluated batch.
        best_genome: Flat best genome ``[D]``.
        images: Rendered images of the best solution (uint8 ``[H, W, C]`` each); images
            that cannot be written leave no ``best.png`` and add ``render_error`` to
            the record written (not to ``record`` itself).
        replace: Replace an existing folder (a re-run of a failed run).
        archive: Snapshots of the passive archive (arrays saved in ``archive.npz``).
        improvements: The evaluations that beat all before them (``improvement_table``).

    Returns:
        ``final``.

    Raises:
        FileExistsError: ``final`` exists and ``replace`` is false.

    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        _write_contents(tmp, record, curve, best_genome, images, archive, improvements)
        if final.exists():
            if not replace:
                raise FileExistsError(f"{final} already exists")
            trash = final.parent / f".trash-{final.name}-{os.getpid()}"
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            _rename_into_place(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _rename_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; ``FileExistsError`` if another process got there first.

    ``final`` can appear after the caller looked: Linux then refuses the rename
    with ``ENOTEMPTY`` (or ``EEXIST``), which is no ``FileExistsError``.
    """
    try:
        os.replace(tmp, final)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise FileExistsError(errno.EEXIST, "run folder already exists", str(final)) from exc
        raise


def save_run_numbered(out: Path, stem: str, **contents: Any) -> Path:
    """Save into the next free ``out/NNNNN-stem`` folder (numbered like stylegan3's runs)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    while True:
        numbers = [int(m.group(1)) for p in out.iterdir() if (m := _NUMBERED.match(p.name))]
        final = out / f"{max(numbers, default=0) + 1:05d}-{stem}"
        try:
            return save_run(final, **contents)
        except FileExistsError:  # another process took the number first
            continue


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (someone else's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except (OverflowError, ValueError):  # no process can have that id
        return False
    return True


def remove_orphaned_folders(parent: Path, prefix: str) -> int:
    """Delete folders ``PREFIX<pid>-<suffix>`` in ``parent`` whose process ``pid`` is gone.

    A process that writes into a temporary folder named after its own id (with a
    ``tempfile.mkdtemp`` suffix, ``prefix=f"{prefix}{os.getpid()}-"``) leaves it
    behind when killed; this removes such leftovers and keeps those of processes
    still running, which may be writing into them now.

    Args:
        parent: Folder that holds the temporary folders.
        prefix: Their name up to the process id.

    Returns:
        How many folders were removed.

    """
    count = 0
    for folder in Path(parent).glob(f"{glob.escape(prefix)}*"):
        match = _ORPHAN.fullmatch(folder.name[len(prefix) :])
        if match and folder.is_dir() and not pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            count += 1
    return count


def remove_stale_temporaries(folder: Path) -> int:
    """Delete ``.tmp-*`` and ``.trash-*`` folders left by killed processes; return how many."""
    count = 0
    for p in Path(folder).glob(".t[mr]*-*"):
        if p.is_dir() and (p.name.startswith(".tmp-") or p.name.startswith(".trash-")):
            shutil.rmtree(p, ignore_errors=True)
            count += 1
    return count


class RecordError(ValueError):
    """A run folder's record cannot be read or is not a run record; the message says which."""


def _record_defect(record: Any) -> str | None:
    """What makes ``record`` unusable as a run record, or ``None`` if it is one."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    spec = record.get("spec")
    if not isinstance(spec, dict):
        return "no 'spec' object"
    missing = [key for key in ("problem", "algo") if not isinstance(spec.get(key), str)]
    if missing:
        return f"its spec names no {' and no '.join(missing)}"
    return None


def load_record(folder: Path) -> dict[str, Any]:
    """The record of a run folder.

    Raises:
        RecordError: ``record.json`` is missing, not JSON, or not a run record (an
            object whose ``spec`` names a problem and an algorithm).

    """
    path = Path(folder) / RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"unreadable run record {path}: {exc}") from exc
    defect = _record_defect(record)
    if defect is not None:
        raise RecordError(f"malformed run record {path}: {defect}")
    return record


def read_record(folder: Path) -> dict[str, Any]:
    """The record of a run folder; a failed run's stand-in (with a warning) if unusable.

    A run folder whose ``record.json`` is unreadable or malformed holds a run that
    cannot be trusted: it counts as failed, with error type ``UnreadableRecord``
    and ``load_record``'s message (which names the file), so that campaigns skip
    it unless asked to retry failed runs, and every summary counts it alike
    (``unreadable_record``). Use ``load_record`` to refuse such a folder instead.
    """
    try:
        return load_record(folder)
    except RecordError as exc:
        warnings.warn(f"{exc}; counted as a failed run ({UNREADABLE})", stacklevel=2)
        return unreadable_record(folder, exc)


def readable_records(
    folders: list[Path], left_out: list[str]
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(folder, record)`` of each folder whose record can be read; why not into ``left_out``."""
    for folder in folders:
        try:
            yield folder, load_record(folder)
        except RecordError as exc:
            left_out.append(str(exc))


def unreadable_record(folder: Path, error: RecordError | str) -> dict[str, Any]:
    """The failed run's record that stands in for the unusable record of ``folder``.

    Its run id is the folder's name and it has no spec: ``load_campaign`` gives
    it the one its campaign's plan holds for that id, so the run keeps its place
    (problem, algorithm, seed) in tables.

    Args:
        folder: The run folder.
        error: Why its record cannot be used.

    """
    return {
        "run_id": Path(folder).name,
        "spec": {},
        "status": "failed",
        "error": {"type": UNREADABLE, "message": str(error)},
    }


def read_curve(folder: Path) -> pd.DataFrame:
    """The anytime curve of a run folder."""
    return pd.read_parquet(Path(folder) / CURVE)


def improvement_table(improvements: list[tuple[int, float, bool]]) -> pd.DataFrame:
    """``[(evaluation, fitness, valid), ...]`` as the table ``improvements.parquet`` holds.

    Args:
        improvements: 1-based evaluation numbers, increasing, with their fitness and
            whether the evaluation was valid (only the first can be invalid: its fitness
            is then the problem's stand-in worst).

    Returns:
        Columns ``evaluation`` (int64), ``fitness`` (float64) and ``valid`` (bool).

    """
    table = pd.DataFrame(improvements, columns=["evaluation", "fitness", "valid"])
    return table.astype({"evaluation": "int64", "fitness": "float64", "valid": "bool"})


def read_improvements(folder: Path) -> pd.DataFrame | None:
    """A run folder's improvements (``improvement_table``), or ``None`` if it has none."""
    path = Path(folder) / IMPROVEMENTS
    return pd.read_parquet(path) if path.is_file() else None


def read_archive(folder: Path) -> dict[str, np.ndarray] | None:
    """The archive snapshots of a run folder, or ``None`` if it saved none."""
    path = Path(folder) / ARCHIVE
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _block(record: dict[str, Any], key: str) -> dict[str, Any]:
    """``record[key]`` where it is an object, else an empty one (absent, null or damaged)."""
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def flat_row(record: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """One flat row per run, errors kept as data, scalar report figures as ``report_<key>``."""
    spec = _block(record, "spec")
    prov = _block(record, "provenance")
    error = _block(record, "error")
    archive = _block(record, "archive")
    row = {
        "run_id": record.get("run_id"),
        "problem": spec.get("problem"),
        "algo": spec.get("algo"),
        "preset": spec.get("preset"),
        "budget": spec.get("budget"),
        "seed": spec.get("seed"),
        "problem_params": json.dumps(spec.get("problem_params", {}), sort_keys=True),
        "algo_params": json.dumps(spec.get("algo_params", {}), sort_keys=True),
        "status": record.get("status"),
        "sense": _block(record, "problem").get("sense"),
        "dim": _block(record, "problem").get("dim"),
        "instance": _block(record, "problem").get("instance"),
        "best_fitness": record.get("best_fitness"),
        "evaluations": record.get("evaluations"),
        "nonfinite": record.get("nonfinite"),
        "wall_seconds": record.get("wall_seconds"),
        "eval_seconds": record.get("eval_seconds"),
        "algo_seconds": record.get("algo_seconds"),
        "evals_per_second": record.get("evals_per_second"),
        "qd_score": archive.get("qd_score"),
        "coverage": archive.get("coverage"),
        "qd_score_offset": archive.get("qd_score_offset"),
        "error": error.get("message") if error else None,
        "error_type": error.get("type") if error else None,
        "notes": _notes(record),
        "commit": prov.get("commit"),
        "dirty": prov.get("dirty"),
        "started": record.get("started"),
        "path": str(path) if path is not None else None,
    }
    for key, value in _block(record, "report").items():  # the problem's own figures
        if value is None or isinstance(value, bool | int | float | str):
            row[f"report_{key}"] = value
    return row


def _notes(record: dict[str, Any]) -> str | None:
    """The run's ``notes`` (what the runner saw fit to say, e.g. a budget of one batch), joined."""
    notes = record.get("notes")
    if not isinstance(notes, list):
        return None
    texts = [str(n) for n in notes if isinstance(n, str) and n]
    return " | ".join(texts) if texts else None


def grouped_notes(runs: pd.DataFrame) -> list[str]:
    """One line per problem × algorithm × note of the finished runs that carry notes.

    Args:
        runs: Rows of ``flat_row`` (``problem``, ``algo``, ``status``, ``notes``).

    Returns:
        ``"rastrigin × ga (3 of 3 runs): the budget (200) is no more than ..."``, in
        the rows' order.

    """
    if "notes" not in runs.columns:
        return []
    done = runs[runs["status"] == "finished"]
    finished = done.groupby(["problem", "algo"], sort=False).size()
    lines = []
    noted = done[done["notes"].notna()]
    for (problem, algo, note), group in noted.groupby(["problem", "algo", "notes"], sort=False):
        of = int(finished[(problem, algo)])
        lines.append(f"{problem} × {algo} ({len(group)} of {of} runs): {note}")
    return lines


def problem_sense(runs: pd.DataFrame, problem: str) -> str:
    """The objective sense of ``problem``: from its runs' records, else its class, else min.

    Args:
        runs: Rows of ``flat_row`` (a ``sense`` column; pending runs have none).
        problem: A problem name in ``runs``.

    """
    from bench.registry import RegistryError, registry

    known = runs.loc[runs["problem"] == problem, "sense"].dropna()
    if len(known):
        return str(known.iloc[0])
    try:
        return str(getattr(registry("problems").load(problem), "sense", None) or "min")
    except RegistryError:
        return "min"


def load_run_folders(folders: list[Path]) -> pd.DataFrame:
    """Flat table of the given run folders.

    A folder whose record is unusable is a failed run (``UnreadableRecord``, with a
    warning; see ``read_record``).
    """
    return run_table([flat_row(read_record(folder), folder) for folder in folders])


def run_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``flat_row`` rows as a DataFrame: ``flat_row``'s columns, then the ``report_*`` ones."""
    columns = list(flat_row({}).keys())
    columns += sorted({key for row in rows for key in row} - set(columns))
    return pd.DataFrame(rows, columns=columns)

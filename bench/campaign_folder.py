"""The campaign folder: its stored plan (``campaign.json``), its lock, and what it refuses.

A folder holds one campaign: a second process is locked out (``CampaignLock``),
a plan that changes the stored plan's runs is refused unless forced
(``check_plan``; one that only adds runs is not a change), and a folder of
``bench run`` results is not adopted as a campaign.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
from pathlib import Path

from bench.atomic_file import write_atomically
from bench.plan import Plan, describe_additions, plan_additions, plan_run_ids
from bench.provenance import utc_now
from bench.results import RECORD
from bench.spec import SpecError

CAMPAIGN_FILE = "campaign.json"
LOCK_FILE = ".lock"
RUNS = "runs"


class CampaignError(RuntimeError):
    """A campaign cannot start; the message says why and what to do."""


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


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` as indented JSON, whole or not at all."""
    text = json.dumps(data, indent=2, sort_keys=True)
    write_atomically(path, lambda tmp: tmp.write_text(text))


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


def check_plan(folder: Path, plan: Plan, force: bool) -> None:
    """Refuse ``plan`` where ``folder``'s stored plan has runs it lacks or changes.

    A plan that holds every stored run (by run id) and more is no change. The
    message names what the plan lacks or changes and how to go on.

    Args:
        folder: The campaign folder.
        plan: The plan about to run there.
        force: Accept any plan (the folder's other runs stay on disk, unlisted).

    Raises:
        CampaignError: The plan lacks or changes runs of the stored one.

    """
    path = folder / CAMPAIGN_FILE
    if not path.exists() or force:
        return
    stored = read_plan(folder)
    if plan_additions(stored, plan) is not None:
        return  # the same runs, perhaps more: the finished ones keep their ids
    new_ids = plan_run_ids(plan) or set()
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


def refuse_folder_of_single_runs(folder: Path) -> None:
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

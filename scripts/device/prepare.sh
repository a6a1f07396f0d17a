#!/usr/bin/env bash
# Run HERE (no GPU needed) before a session's first device call: writes what the lent GPU
# machine needs into git-ignored paths and checks that the tree that travels fits 64 MiB.
#   .whl/                      facenet-pytorch 2.5.3 (the GPU image lacks it; benchmarks only)
#   runs/packs/utkface-64.npz  UTKFace's training faces at 64 px as WebP (bench pack-dataset):
#                              quality 90 where it fits beside the repository, else the highest
#                              multiple of 5 that does (the published boards grew the tree)
# usage: bash scripts/device/prepare.sh [DATA_DIR]   (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA_DIR=${1:-${LATENT_BENCH_DATA:-../shared/data}}
BENCH=${BENCH:-.venv/bin/bench}
PYTHON=${PYTHON:-.venv/bin/python}
PACK=runs/packs/utkface-64.npz
LIMIT=$((64 * 1048576))
ROOM=${ROOM:-$((1 * 1048576))}  # kept free for commits made after the pack
if ! ls .whl/facenet_pytorch-2.5.3-*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d .whl facenet-pytorch==2.5.3
fi
mib() { echo "$1 / 1048576" | bc -l; }
tree=$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s | awk '{s+=$1} END {print s}')
wheels=$(du -cb .whl | tail -1 | cut -f1)
left=$((LIMIT - tree - wheels - ROOM))
if [ "$left" -lt $((4 * 1048576)) ]; then
  printf 'the tree (%.1f MiB) and wheels leave %.1f MiB for the pack: too little to train on\n' \
    "$(mib "$tree")" "$(mib "$left")" >&2
  exit 1
fi
if [ -f "$PACK" ] && [ "$(stat -c %s "$PACK")" -gt "$left" ]; then
  printf 'repacking: %s takes %.1f MiB, %.1f MiB are left for it\n' "$PACK" \
    "$(mib "$(stat -c %s "$PACK")")" "$(mib "$left")"
  rm "$PACK"
fi
[ -f "$PACK" ] || "$BENCH" pack-dataset utkface --data-dir "$DATA_DIR" --resolution 64 \
  --max-mib "$(mib "$left")" --out "$PACK"
carry=$(du -cb "$PACK" .whl | tail -1 | cut -f1)
total=$((tree + carry))
printf 'travels: tree %.1f MiB + carried %.1f MiB = %.1f MiB (limit 64 MiB)\n' \
  "$(mib "$tree")" "$(mib "$carry")" "$(mib "$total")"
if [ "$total" -ge "$LIMIT" ]; then
  echo "too large for the device tool: remove $PACK and run this again" >&2
  exit 1
fi

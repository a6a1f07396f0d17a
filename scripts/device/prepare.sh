#!/usr/bin/env bash
# Run HERE (no GPU needed) before a session's first device call: writes what the lent GPU
# machine needs into git-ignored paths and checks that the tree that travels fits 64 MiB.
#   runs/packs/utkface-64.npz  UTKFace 64 px as WebP (bench pack-dataset), about 30 MiB
#   .whl/                      facenet-pytorch 2.5.3 (the GPU image lacks it; benchmarks only)
# usage: bash scripts/device/prepare.sh [DATA_DIR]   (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA_DIR=${1:-${LATENT_BENCH_DATA:-../shared/data}}
BENCH=${BENCH:-.venv/bin/bench}
PYTHON=${PYTHON:-.venv/bin/python}
PACK=runs/packs/utkface-64.npz
[ -f "$PACK" ] || "$BENCH" pack-dataset utkface --data-dir "$DATA_DIR" --resolution 64 --out "$PACK"
if ! ls .whl/facenet_pytorch-2.5.3-*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d .whl facenet-pytorch==2.5.3
fi
tree=$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s | awk '{s+=$1} END {print s}')
carry=$(du -cb "$PACK" .whl | tail -1 | cut -f1)
total=$((tree + carry))
printf 'travels: tree %.1f MiB + carried %.1f MiB = %.1f MiB (limit 64 MiB)\n' \
  "$(echo "$tree / 1048576" | bc -l)" "$(echo "$carry / 1048576" | bc -l)" \
  "$(echo "$total / 1048576" | bc -l)"
if [ "$total" -ge $((64 * 1048576)) ]; then
  echo "too large for the device tool: carry less (e.g. pack at a lower --quality)" >&2
  exit 1
fi

#!/usr/bin/env bash
# One chunk of StyleGAN2 training on a lent GPU; sends the EMA generator back in $OUT.
# Run through the device tool from the repository root, carrying the pack:
#   bash scripts/device/train_stylegan2.sh MINUTES      carry: runs/packs/utkface-64.npz
# Each call resumes from the last checkpoint on the machine (kept while it stays warm)
# and ends by writing to $OUT: ema.pt.part-NN (the EMA generator and its training record
# in 15 MiB parts), log.json and the newest sample grid. Join the parts here with
# `cat ema.pt.part-* > runs/train/stylegan2-utkface64/checkpoint.pt` (see README.md).
set -euo pipefail
source scripts/device/setup.sh
MINUTES=${1:-8}
PACK=${PACK:-runs/packs/utkface-64.npz}
RUN=${RUN:-runs/train/stylegan2-utkface64}
BATCH=${BATCH:-64}
DEVICE=${DEVICE:-cuda}  # cpu only to rehearse the script here
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv || true
python3 -m bench train-generator stylegan2 --pack "$PACK" --resolution 64 --batch "$BATCH" \
  --device "$DEVICE" --max-minutes "$MINUTES" --tick-kimg "${TICK_KIMG:-100}" --out "$RUN"
python3 -m bench export-generator stylegan2 --train-dir "$RUN" --ema-only /tmp/ema.pt
rm -f "$OUT"/ema.pt.part-*
split -b 15M -d /tmp/ema.pt "$OUT/ema.pt.part-"
cp "$RUN/log.json" "$OUT/log.json"
cp "$(ls "$RUN"/samples/*.png | tail -n 1)" "$OUT/samples-latest.png"
ls -l "$OUT"

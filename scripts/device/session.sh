#!/usr/bin/env bash
# One lent-GPU session in two calls, sized for 15 minutes of device time (README.md here):
#
#   bash scripts/device/session.sh check            carry: runs/packs/utkface-64.npz .whl
#   bash scripts/device/session.sh train SECONDS    the same carry; SECONDS = the call's timeout_s
#
# check (at most 5 minutes): versions and the GPU; a 10-step CLI training smoke with export
#   (catches what the CPU rehearsal cannot); the GPU benchmarks of issues 6 and 8 without
#   torch.compile; training images/s at batch 64 and 128 (the pick stays in /tmp for
#   `train`); set-diversity evaluations/s on the GPU if time is left. Back in $OUT:
#   check.log, gpu-face.json, probe.json, gpu-stylegan2.json, gpu-diversity.json.
# train: StyleGAN2 at 64 px on the pack for what SECONDS leaves after setup and export,
#   at the batch `check` picked (64 if the machine is a fresh one), then the EMA
#   generator in 15 MiB parts, then the compiled face benchmark if 150 s are still left.
#   Back in $OUT: ema.pt.part-NN, log.json, samples-latest.png, train.log,
#   gpu-face-compiled.json.
#
# Each stage runs under its own time limit and a failing stage does not stop the next,
# so one call returns whatever finished. DEVICE=cpu rehearses the script on a CPU
# (SMOKE_BATCH=2 PROBE_ARGS="--batches 2,4 --steps 2" keep its smoke and probe short there).
set -uo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-}
case "$MODE ${2:-}" in
  "check "|train\ [0-9]*) ;;
  *) echo "usage: session.sh check | train SECONDS" >&2; exit 2 ;;
esac
OUT=${OUT:?OUT must name a folder (the device tool sets it)}
DEVICE=${DEVICE:-cuda}
PACK=${PACK:-runs/packs/utkface-64.npz}
RUN=${RUN:-runs/train/stylegan2-utkface64}
PROBE=/tmp/latent-bench-probe.json
SMOKE_BATCH=${SMOKE_BATCH:-64}
T0=$SECONDS
LOG="$OUT/$MODE.log"
exec > >(tee -a "$LOG") 2>&1

source scripts/device/setup.sh || { echo "setup failed"; exit 1; }

# stage NAME CAP_SECONDS RESERVE_SECONDS CMD...: run CMD for at most CAP seconds and never
# into the last RESERVE seconds of the call; report its exit status and time.
stage() {
  local name=$1 cap=$2 reserve=$3 left t start rc
  shift 3
  left=$((LIMIT - (SECONDS - T0) - reserve))
  t=$((cap < left ? cap : left))
  if [ "$t" -lt 15 ]; then
    echo "== $name: skipped, ${left}s left"
    return 0
  fi
  echo "== $name (at most ${t}s, $((SECONDS - T0))s into the call)"
  start=$SECONDS
  timeout --kill-after=10 "$t" "$@"
  rc=$?
  echo "== $name: exit $rc after $((SECONDS - start))s"
  return 0
}

# one pytest-benchmark invocation per file of figures: a stage cut short loses only its own
PYTEST=(python3 -m pytest -q -s -p no:cacheprovider --benchmark-columns=median,min,rounds)

case $MODE in
check)
  LIMIT=${LIMIT:-300}
  nvidia-smi || true
  python3 -c "import sys, numpy, torch, facenet_pytorch; print(sys.version.split()[0], \
'numpy', numpy.__version__, 'torch', torch.__version__, 'facenet-pytorch ok')"
  git log -1 --format='commit %H %s' 2>/dev/null || true
  stage "training smoke (10 steps, CLI, export)" 75 0 bash -c "
    python3 -m bench train-generator stylegan2 --pack '$PACK' --resolution 64 \
      --batch $SMOKE_BATCH --kimg $((SMOKE_BATCH * 10))e-3 --tick-kimg $((SMOKE_BATCH * 5))e-3 \
      --device '$DEVICE' --out /tmp/smoke &&
    python3 -m bench export-generator stylegan2 --train-dir /tmp/smoke --ema-only /tmp/smoke-ema.pt"
  stage "face evaluations/s" 120 0 "${PYTEST[@]}" --benchmark-json "$OUT/gpu-face.json" \
    benchmarks/test_face_throughput.py -k "not compiled"
  stage "batch probe" 60 0 python3 scripts/device/probe_batches.py "$PACK" "$PROBE" \
    --device "$DEVICE" ${PROBE_ARGS:-}
  [ -f "$PROBE" ] && cp "$PROBE" "$OUT/probe.json"
  stage "stylegan2 images/s" 60 0 "${PYTEST[@]}" --benchmark-json "$OUT/gpu-stylegan2.json" \
    benchmarks/test_stylegan2_speed.py -k images_per_second
  stage "set-diversity evaluations/s" 45 0 "${PYTEST[@]}" \
    --benchmark-json "$OUT/gpu-diversity.json" benchmarks/test_diversity_throughput.py \
    -k evaluations_per_second
  ;;
train)
  LIMIT=$(($2 - 15))
  BATCH=${BATCH:-$(python3 -c "import json; print(json.load(open('$PROBE'))['chosen_batch'])" \
    2>/dev/null || echo 64)}
  # Training stops itself after MINUTES and checkpoints; 90 s stay for its start and the export.
  MINUTES=$(python3 -c "print(round(max(0.5, ($LIMIT - ($SECONDS - $T0) - 90) / 60), 2))")
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
  echo "batch $BATCH, $MINUTES minutes of training"
  stage "training" "$LIMIT" 40 python3 -m bench train-generator stylegan2 --pack "$PACK" \
    --resolution 64 --batch "$BATCH" --device "$DEVICE" --max-minutes "$MINUTES" \
    --tick-kimg "${TICK_KIMG:-100}" --out "$RUN"
  stage "EMA generator out" 40 0 \
    python3 -m bench export-generator stylegan2 --train-dir "$RUN" --ema-only /tmp/ema.pt
  if [ -f /tmp/ema.pt ]; then
    rm -f "$OUT"/ema.pt.part-*
    split -b 15M -d /tmp/ema.pt "$OUT/ema.pt.part-"
    sha256sum /tmp/ema.pt
  fi
  [ -f "$RUN/log.json" ] && cp "$RUN/log.json" "$OUT/log.json"
  latest=$(ls "$RUN"/samples/*.png 2>/dev/null | tail -n 1)
  [ -n "$latest" ] && cp "$latest" "$OUT/samples-latest.png"
  if [ $((LIMIT - (SECONDS - T0))) -ge 150 ]; then
    stage "face evaluations/s, compiled" 150 0 "${PYTEST[@]}" \
      --benchmark-json "$OUT/gpu-face-compiled.json" \
      benchmarks/test_face_throughput.py -k "compiled and stylegan2"
  fi
  ;;
esac
echo "== done in $((SECONDS - T0))s"
ls -l "$OUT"

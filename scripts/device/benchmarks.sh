#!/usr/bin/env bash
# The GPU benchmarks of issues 6 and 8 on a lent GPU: StyleGAN2 images/s and the whole face
# evaluation (StyleGAN2 1024 -> 160 -> FaceNet) in fp32, bf16 and compiled bf16, each against
# the GPU's own matmul peak. Results: $OUT/gpu-benchmarks.json and .log.
#   bash scripts/device/benchmarks.sh       carry: .whl
set -euo pipefail
source scripts/device/setup.sh
set -o pipefail
python3 -m pytest benchmarks/test_face_throughput.py benchmarks/test_stylegan2_speed.py \
  -q -s -p no:cacheprovider --benchmark-json "$OUT/gpu-benchmarks.json" \
  --benchmark-columns=median,min,rounds "$@" 2>&1 | tee "$OUT/gpu-benchmarks.log"

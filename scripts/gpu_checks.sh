#!/usr/bin/env bash
# The checks only a CUDA machine can run, in one go: the GPU tests (CUDA-graph capture, onnxruntime's
# CUDA provider, TensorRT where importable) and the GPU rows of README's backend table.
# Usage: scripts/gpu_checks.sh [OUT_DIR]   (results: OUT_DIR/{pytest.log, bench_*.json})
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/gpu_checks}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
nvidia-smi -L
python -m pytest -q -p no:cacheprovider --import-mode=importlib -rs \
  test/wav_core/planning/test_backends.py test/wav_core/export/test_onnx_export.py 2>&1 | tee "$OUT/pytest.log"
rc=${PIPESTATUS[0]}
for backend in torch-cudagraph onnxruntime tensorrt; do
  wav bench --preset sim --device cuda --backend "$backend" --K 3 --M 16 --N 4 --repeats 20 --warmup 3 --no-naive \
    --json "$OUT/bench_$backend.json" || rc=1
done
wav bench --preset sim --device cuda --backend torch-cudagraph --M 16 --N 4 --sweep-K 1,2,3,5 --no-naive \
  --json "$OUT/bench_sweep.json" || rc=1
exit "$rc"

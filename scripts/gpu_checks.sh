#!/usr/bin/env bash
# The checks only a CUDA machine can run, in one go: the GPU tests (CUDA-graph capture, onnxruntime's
# CUDA provider, TensorRT where importable), plans at the paper's scale beside their arithmetic floor,
# and the GPU rows of README's backend table.
# Usage: scripts/gpu_checks.sh [OUT_DIR]   (results: OUT_DIR/{pytest.log, bench_*.json, bench_paper_*.log})
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/gpu_checks}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
nvidia-smi -L
python -m pytest -q -p no:cacheprovider --import-mode=importlib -rs \
  test/wav_core/planning/test_backends.py test/wav_core/export/test_onnx_export.py test/wav_core/bench/test_scale.py 2>&1 \
  | tee "$OUT/pytest.log"
rc=${PIPESTATUS[0]}
# The paper preset (2.3 B parameters, bf16, random weights), one row per process so a slow row loses
# only itself. FLOPs per plan (counted on the meta device): 323 TFLOP at K=1, 948 TFLOP at K=3
# (M=30 N=5 S=10); at 40 % of an H100's 989 TFLOPS that is 0.8 s and 2.4 s a plan, 6 plans a row,
# plus about half a minute of FLOP counting on the CPU and the model build.
for row in "1x30x5:${PAPER_K1_TIMEOUT:-120}" "3x30x5:${PAPER_K3_TIMEOUT:-180}"; do
  r=${row%%:*}
  timeout --kill-after=15 "${row##*:}" wav bench --preset paper --device cuda --rows "$r" --repeats 5 --warmup 1 \
    --json "$OUT/bench_paper_$r.json" 2>&1 | tee "$OUT/bench_paper_$r.log"
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "paper row $r: exit $status$( [ "$status" -eq 124 ] && echo ' (timed out after' "${row##*:}" 's)')"
    rc=1
  fi
done
for backend in torch-cudagraph onnxruntime tensorrt; do
  wav bench --preset sim --device cuda --backend "$backend" --K 3 --M 16 --N 4 --repeats 20 --warmup 3 --no-naive \
    --json "$OUT/bench_$backend.json" || rc=1
done
wav bench --preset sim --device cuda --backend torch-cudagraph --M 16 --N 4 --sweep-K 1,2,3,5 --no-naive \
  --json "$OUT/bench_sweep.json" || rc=1
exit "$rc"

#!/usr/bin/env bash
# The checks only a CUDA machine can run, in one command, most important first, each under its own
# time guard (scripts/lib/phase.sh) inside one deadline, so a slow check loses only itself:
#   1. plan latency of the sim preset, each backend beside eager in one `wav bench` run:
#      torch-compile bf16 and torch-cudagraph at K=3 M=16 N=4, torch-compile bf16 at the paper's
#      robot setting K=1 M=30 N=5, torch-compile bf16 at K=3 M=16 N=4 with 5-step value solves
#      (`--value-steps 5`: half the value-expert calls), and torch-compile bf16-world (the world in
#      bf16, the experts in fp32) at K=3 M=16 N=4;
#   2. the GPU tests (CUDA-graph and compiled captures, onnxruntime's CUDA provider, TensorRT where
#      importable, the bench at scale; compiled training runs as its own check after 4);
#   3. training step times per stage, eager beside bf16 and cached latents (`wav bench --train`);
#   4. plans at the paper's scale (2.3 B parameters, bf16, random weights) beside their arithmetic
#      floor, one row per process;
#   5. the compiled-training test, torch-compile fp32, compiled training steps, plan cost against K,
#      onnxruntime and TensorRT.
# Usage: scripts/gpu_checks.sh [RESULTS]  (default $OUT when set, else out/gpu_checks). Results: one
# JSON and one log per check in RESULTS (logs/), and phases.tsv / summary.txt: check, seconds, status.
# DEVICE=cuda and PRESET=sim (DEVICE=cpu PRESET=tiny tries the script on a CPU; the GPU tests then skip).
# Seconds from the environment: CHECK_SECONDS=300 (the deadline), T_BENCH=75 per plan bench,
# T_COMPILE=150 for the first torch-compile bench (it compiles the networks: on an H200 the first one
# was still compiling after 60 s; later processes reuse inductor's on-disk caches), T_TESTS=90,
# T_TRAIN_BENCH=60, T_PAPER=120 per paper row. TESTS_K='gpu or cuda or tensorrt' (pytest -k: the tests
# that need a GPU; '' runs the named files whole).
# FLOPs per paper plan (counted on the meta device): 323 TFLOP at K=1, 948 TFLOP at K=3 (M=30 N=5
# S=10); at 40 % of an H100's 989 TFLOPS that is 0.8 s and 2.4 s a plan, 6 plans a row, plus about
# half a minute of FLOP counting on the CPU and the model build.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${1:-${OUT:-out/gpu_checks}}
CHECK_SECONDS=${CHECK_SECONDS:-300} T_BENCH=${T_BENCH:-75} T_COMPILE=${T_COMPILE:-150} T_TESTS=${T_TESTS:-90}
T_TRAIN_BENCH=${T_TRAIN_BENCH:-60} T_PAPER=${T_PAPER:-120} TESTS_K=${TESTS_K-gpu or cuda or tensorrt}
DEVICE=${DEVICE:-cuda} PRESET=${PRESET:-sim}
mkdir -p "$RESULTS"
: > "$RESULTS/phases.tsv"
: > "$RESULTS/commands.txt"
source scripts/lib/phase.sh
trap phase_interrupt INT TERM
DEADLINE=$(($(date +%s) + CHECK_SECONDS))
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
[ "$DEVICE" = cpu ] || nvidia-smi -L | tee "$RESULTS/gpu.txt"

sim() {  # NAME BACKEND K M N [wav bench options...]; the phase's seconds: SECS=... before the call, else T_BENCH
  local name=$1 backend=$2 k=$3 m=$4 n=$5 secs=${SECS:-$T_BENCH}; shift 5
  phase "$name" "$secs" "$RESULTS/$name.json" \
    wav bench --preset "$PRESET" --device "$DEVICE" --backend "$backend" --K "$k" --M "$m" --N "$n" --repeats 20 --warmup 3 \
    --no-naive --json "$RESULTS/$name.json" "$@"
}
SECS=$T_COMPILE sim bench_compile_bf16 torch-compile 3 16 4 --precision bf16 --ops
sim bench_cudagraph torch-cudagraph 3 16 4
sim bench_compile_bf16_K1M30N5 torch-compile 1 30 5 --precision bf16
sim bench_compile_bf16_vs5 torch-compile 3 16 4 --precision bf16 --value-steps 5 --ops
sim bench_compile_bf16_world torch-compile 3 16 4 --precision bf16-world
phase tests "$T_TESTS" "$RESULTS/pytest.xml" \
  python3 -m pytest -q -p no:cacheprovider --import-mode=importlib -rs --junitxml="$RESULTS/pytest.xml" ${TESTS_K:+-k "$TESTS_K"} \
  test/wav_core/planning/test_backends.py test/wav_core/export/test_onnx_export.py test/wav_core/bench/test_scale.py
phase train_bench "$T_TRAIN_BENCH" "$RESULTS/train_bench.json" \
  wav bench --train --preset "$PRESET" --device "$DEVICE" --batch 64 --repeats 10 --warmup 3 \
  --variants encode,cache,bf16 --json "$RESULTS/train_bench.json"
PAPER_ROWS=(1x30x5 3x30x5); [ "$DEVICE" = cuda ] || PAPER_ROWS=()  # a 2.3 B-parameter plan is for a GPU
for r in "${PAPER_ROWS[@]}"; do
  phase "bench_paper_$r" "$T_PAPER" "$RESULTS/bench_paper_$r.json" \
    wav bench --preset paper --device cuda --rows "$r" --repeats 5 --warmup 1 --json "$RESULTS/bench_paper_$r.json"
done
# Compiled training in reduce-overhead mode was still compiling after 110 s on an H200: last of the tests.
phase tests_compiled_training "$T_TESTS" "$RESULTS/pytest_compiled_training.xml" \
  python3 -m pytest -q -p no:cacheprovider --import-mode=importlib -rs --junitxml="$RESULTS/pytest_compiled_training.xml" \
  test/wav_core/training/test_train.py::test_compiled_training_follows_the_eager_run_on_the_gpu
sim bench_compile_fp32 torch-compile 3 16 4 --precision fp32
# Compiling each stage's step takes longer than timing it: the compiled variant runs on its own.
phase train_bench_compile "$T_TRAIN_BENCH" "$RESULTS/train_bench_compile.json" \
  wav bench --train --preset "$PRESET" --device "$DEVICE" --batch 64 --repeats 10 --warmup 3 \
  --variants cache,bf16,bf16-compile,bf16-graphs --json "$RESULTS/train_bench_compile.json"
phase bench_compile_sweep "$T_BENCH" "$RESULTS/bench_compile_sweep.json" \
  wav bench --preset "$PRESET" --device "$DEVICE" --backend torch-compile --precision bf16 --M 16 --N 4 --sweep-K 1,2,3,5 \
  --no-naive --json "$RESULTS/bench_compile_sweep.json"
sim bench_onnxruntime onnxruntime 3 16 4
sim bench_tensorrt tensorrt 3 16 4

echo
phase_table | tee "$RESULTS/summary.txt"
! cut -f3 "$RESULTS/phases.tsv" | grep -qv '^ok\|^skipped'

#!/usr/bin/env bash
# models/sim_drawer from nothing: record expert demonstrations in the simulator, import, train the
# `sim` preset, export, evaluate the planning ablation on held-out seeds, check the value module,
# and write the model card.
#
# Every step is skipped when its output exists, so the script continues where an interrupted run
# stopped (training resumes exactly from its last checkpoint). Sizes from the environment:
#   EPISODES=200 HELDOUT=20 EVAL_EPISODES=50 SWEEP=K=0,1,3,5 WORKERS=<cpus> GPUS=<nvidia-smi count>
#   DEVICE=cuda|cpu OUT=out/sim_drawer MODEL=models/sim_drawer TRAIN_CONFIG=config/train_sim.yaml
#   IMAGE_SIZE=64x64
set -euo pipefail
cd "$(dirname "$0")/.."

EPISODES=${EPISODES:-200}
HELDOUT=${HELDOUT:-20}
EVAL_EPISODES=${EVAL_EPISODES:-50}
SWEEP=${SWEEP:-K=0,1,3,5}
WORKERS=${WORKERS:-$(nproc)}
GPUS=${GPUS:-$( (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true)}
DEVICE=${DEVICE:-$([ "${GPUS:-0}" -gt 0 ] && echo cuda || echo cpu)}
OUT=${OUT:-out/sim_drawer}
MODEL=${MODEL:-models/sim_drawer}
TRAIN_CONFIG=${TRAIN_CONFIG:-config/train_sim.yaml}
IMAGE_SIZE=${IMAGE_SIZE:-64x64}  # the model's image size (sim preset)
RIG=config/sim_drawer.yaml
# Training seeds 0.., held-out demonstrations 5000.., closed-loop evaluation 1000..: disjoint.
TRAIN_SEED=0 HELDOUT_SEED=5000 EVAL_SEED=1000

if [ "${GPUS:-0}" -gt 1 ]; then TRAIN=(torchrun --standalone --nproc_per_node="$GPUS" "$(command -v wav)" train)
else TRAIN=(wav train); fi

mkdir -p "$OUT"
: > "$OUT/commands.txt"

source scripts/lib/step.sh

step "$OUT/bags/summary.json" wav sim record --task drawer --episodes "$EPISODES" --seed "$TRAIN_SEED" \
  --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$OUT/bags"
step "$OUT/dataset/meta.json" wav data import --bags "$OUT/bags" --config "$RIG" --out "$OUT/dataset" --workers "$WORKERS" --no-progress
step "$OUT/dataset/cache/frames_$IMAGE_SIZE.npy" wav data cache "$OUT/dataset" --size "$IMAGE_SIZE" \
  --workers "$WORKERS" --no-progress
step "$OUT/heldout_bags/summary.json" wav sim record --task drawer --episodes "$HELDOUT" --seed "$HELDOUT_SEED" \
  --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$OUT/heldout_bags"
step "$OUT/heldout/meta.json" wav data import --bags "$OUT/heldout_bags" --config "$RIG" --out "$OUT/heldout" --workers "$WORKERS" --no-progress

# Training is the one step that is re-entered rather than skipped: --resume continues a stopped run.
RESUME=(); [ -f "$OUT/run/run.yaml" ] && RESUME=(--resume)
echo "${TRAIN[*]} --config $TRAIN_CONFIG --data $OUT/dataset --out $OUT/run [--resume]" >> "$OUT/commands.txt"
echo ">>> ${TRAIN[*]} --config $TRAIN_CONFIG --data $OUT/dataset --out $OUT/run ${RESUME[*]}"
"${TRAIN[@]}" --config "$TRAIN_CONFIG" --data "$OUT/dataset" --out "$OUT/run" --no-progress "${RESUME[@]}"

step "$MODEL/weights.safetensors" wav export --run "$OUT/run" --out "$MODEL"
step "$OUT/eval.json" wav eval --model "$MODEL" --task drawer --episodes "$EVAL_EPISODES" --seed "$EVAL_SEED" \
  --sweep "$SWEEP" --M 8 --N 4 --workers "$WORKERS" --device "$DEVICE" --json "$OUT/eval.json"
step "$OUT/bench.json" wav bench --model "$MODEL" --device "$DEVICE" --K 3 --M 8 --N 4 --no-naive \
  --backend "$([ "$DEVICE" = cuda ] && echo torch-cudagraph || echo onnxruntime)" --json "$OUT/bench.json"
step "$OUT/calibration/calibration.json" wav calibrate --model "$MODEL" --data "$OUT/heldout" \
  --eval "$OUT/eval.json" --K 0 --device "$DEVICE" --out "$OUT/calibration"
cp "$OUT/eval.json" "$OUT/eval.png" "$OUT/bench.json" "$OUT/calibration/calibration.json" "$OUT/calibration/calibration.png" "$MODEL/"
wav card --model "$MODEL" --commands "$OUT/commands.txt" \
  --record "training demonstrations=$OUT/bags/summary.json" \
  --record "held-out demonstrations (value calibration)=$OUT/heldout_bags/summary.json" \
  --eval "$MODEL/eval.json" --calibration "$MODEL/calibration.json" --bench "$MODEL/bench.json" --title "sim_drawer"
du -sh "$MODEL"

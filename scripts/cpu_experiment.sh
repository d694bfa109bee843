#!/usr/bin/env bash
# The planning ablation on two CPU cores: does planning in the world module's latent futures make the
# policy act better, and does it need the `future` conditioning to do so?
#
# Records mixed-quality demonstrations (successes and failures, so the value has something to rank),
# imports them, trains the `cpu` preset once up to the world stage, then the value and action stages
# twice from that same world: `future` conditioning and the paper's, same data, steps and seeds.
# Both models are evaluated closed-loop on the same held-out seeds at each K (the paper's protocol:
# plan, then execute the chunk), diagnosed (does the action follow the plan? does the value rank
# held-out futures?), their value calibrated on held-out episodes (`wav calibrate`) and the results
# tabulated with `wav ablation`.
#
# Every step is skipped when its output exists and training resumes from its last checkpoint, so an
# interrupted run continues where it stopped. Sizes from the environment:
#   TASK=bowl EPISODES=48 HELDOUT=8 EVAL_EPISODES=20 KS=0,1,3 M=8 N=4 S=10 WORKERS=2 MAX_SECONDS=20
#   OUT=out/cpu_experiment TRAIN_CONFIG=config/train_cpu.yaml MAX_STEPS= (per stage, for smoke runs)
#   EVAL_SEED=1000 (first closed-loop seed; a new run whose settings were chosen after seeing an
#   earlier run's results takes fresh seeds, e.g. 3000)
#   FROM= (an earlier run's OUT: reuse its data and its tokenizer, world and value stages, whose
#   losses do not depend on the action stage's settings, and train only the action stages anew)
# MAX_SECONDS limits recorded and evaluated episodes in sim time (the bowl expert needs about 8 s).
set -euo pipefail
cd "$(dirname "$0")/.."

TASK=${TASK:-bowl}
EPISODES=${EPISODES:-48}
HELDOUT=${HELDOUT:-8}
EVAL_EPISODES=${EVAL_EPISODES:-20}
KS=${KS:-0,1,3}
M=${M:-8}
N=${N:-4}
S=${S:-10}
WORKERS=${WORKERS:-2}
MAX_SECONDS=${MAX_SECONDS:-20}
OUT=${OUT:-out/cpu_experiment}
TRAIN_CONFIG=${TRAIN_CONFIG:-config/train_cpu.yaml}
MAX_STEPS=${MAX_STEPS:-}
FROM=${FROM:-}
RIG=config/sim_drawer.yaml
# Training demonstrations 0.., held-out demonstrations 5000.., closed-loop evaluation 1000..:
# disjoint from each other and from anything used while choosing settings (2000..).
TRAIN_SEED=0 HELDOUT_SEED=5000 EVAL_SEED=${EVAL_SEED:-1000}
IMAGE_SIZE=$(python -c "from wav_core.training.run_config import load_run_config as l; h, w = l('$TRAIN_CONFIG').model_config().image_size; print(f'{h}x{w}')")
LIMIT=(); [ -n "$MAX_STEPS" ] && LIMIT=(--max-steps "$MAX_STEPS")

mkdir -p "$OUT"
: > "$OUT/commands.txt"
source scripts/lib/step.sh
# train RUN CONFIG STAGE: one stage of a run, resumed where it stopped.
train() {
  local run=$1 config=$2 stage=$3 resume=()
  [ -f "$run/run.yaml" ] && resume=(--resume)
  echo "wav train --config $config --data $OUT/dataset --out $run --stage $stage ${LIMIT[*]} [--resume]" >> "$OUT/commands.txt"
  echo ">>> wav train --config $config --data $OUT/dataset --out $run --stage $stage ${LIMIT[*]} ${resume[*]}"
  wav train --config "$config" --data "$OUT/dataset" --out "$run" --stage "$stage" --no-progress "${LIMIT[@]}" "${resume[@]}"
}

if [ -n "$FROM" ]; then
  for d in bags dataset heldout_bags heldout; do
    [ -e "$OUT/$d" ] || ln -s "$(realpath "$FROM/$d")" "$OUT/$d"
  done
  for c in future paper; do
    for s in tokenizer world value; do
      [ -d "$OUT/run_$c/checkpoints/$s" ] || { mkdir -p "$OUT/run_$c/checkpoints"; cp -r "$FROM/run_$c/checkpoints/$s" "$OUT/run_$c/checkpoints/$s"; }
    done
  done
fi
step "$OUT/bags/summary.json" wav sim record --task "$TASK" --quality mixed --episodes "$EPISODES" \
  --max-duration "$MAX_SECONDS" --seed "$TRAIN_SEED" --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$OUT/bags"
step "$OUT/dataset/meta.json" wav data import --bags "$OUT/bags" --config "$RIG" --out "$OUT/dataset" \
  --workers "$WORKERS" --no-progress
step "$OUT/dataset/cache/frames_$IMAGE_SIZE.npy" wav data cache "$OUT/dataset" --size "$IMAGE_SIZE" \
  --workers "$WORKERS" --no-progress
step "$OUT/heldout_bags/summary.json" wav sim record --task "$TASK" --quality mixed --episodes "$HELDOUT" \
  --max-duration "$MAX_SECONDS" --seed "$HELDOUT_SEED" --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$OUT/heldout_bags"
step "$OUT/heldout/meta.json" wav data import --bags "$OUT/heldout_bags" --config "$RIG" --out "$OUT/heldout" \
  --workers "$WORKERS" --no-progress

# The two conditionings share the tokenizer and world stages (their losses do not depend on it).
# Both read one copy of the training config taken at the first run, so an edit of $TRAIN_CONFIG
# during a run cannot give them different schedules.
FUTURE_CONFIG="$OUT/train_future.yaml" PAPER_CONFIG="$OUT/train_paper.yaml"
[ -f "$FUTURE_CONFIG" ] || cp "$TRAIN_CONFIG" "$FUTURE_CONFIG"
sed 's/^model: {/model: {conditioning: paper, /; s/^\(model: {.*\), }$/\1}/' "$FUTURE_CONFIG" > "$PAPER_CONFIG"
grep -q '^model: {conditioning: paper[,}]' "$PAPER_CONFIG" || { echo "$TRAIN_CONFIG: expected a one-line 'model: {...}' mapping"; exit 2; }
train "$OUT/run_future" "$FUTURE_CONFIG" tokenizer
train "$OUT/run_future" "$FUTURE_CONFIG" world
for s in tokenizer world; do
  [ -d "$OUT/run_paper/checkpoints/$s" ] || { mkdir -p "$OUT/run_paper/checkpoints"; cp -r "$OUT/run_future/checkpoints/$s" "$OUT/run_paper/checkpoints/$s"; }
done
for c in future paper; do
  config=$FUTURE_CONFIG; [ $c = paper ] && config=$PAPER_CONFIG
  train "$OUT/run_$c" "$config" value
  train "$OUT/run_$c" "$config" action
  step "$OUT/model_$c/weights.safetensors" wav export --run "$OUT/run_$c" --out "$OUT/model_$c"
done

for c in future paper; do
  step "$OUT/eval_$c.json" wav eval --model "$OUT/model_$c" --task "$TASK" --episodes "$EVAL_EPISODES" \
    --seed "$EVAL_SEED" --max-seconds "$MAX_SECONDS" --sweep "K=$KS" --M "$M" --N "$N" --S "$S" --mode sync --workers "$WORKERS" --json "$OUT/eval_$c.json"
  step "$OUT/diagnose_$c.json" wav diagnose --model "$OUT/model_$c" --data "$OUT/heldout" --episodes "$HELDOUT" \
    --S "$S" --json "$OUT/diagnose_$c.json"
done
# Does the value rank held-out futures? Predicted vs true reward-to-go on the held-out episodes
# (K = 0: the value of one imagined future per tick), beside the chosen plans' scores by outcome.
for c in future paper; do
  step "$OUT/calibration_$c/calibration.json" wav calibrate --model "$OUT/model_$c" --data "$OUT/heldout" \
    --eval "$OUT/eval_$c.json" --ticks-per-episode 10 --K 0 --M "$M" --N "$N" --out "$OUT/calibration_$c"
done
wav ablation --eval "paper=$OUT/eval_paper.json" --eval "future=$OUT/eval_future.json" \
  --diagnose "paper=$OUT/diagnose_paper.json" --diagnose "future=$OUT/diagnose_future.json" --out "$OUT"

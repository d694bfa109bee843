#!/usr/bin/env bash
# A drawer model and its model card in one command of at most 9 minutes on one GPU (H100/H200,
# 16 cores): record mixed-quality and expert demonstrations in the MuJoCo twin, import them, cache
# the frames, train every stage (config/train_gpu_recipe.yaml), export, run the closed-loop K sweep
# on held-out seeds (sync mode, one phase per K, each episode journalled), measure plan latency
# (`wav bench`), check the value ranking on held-out episodes (`wav calibrate`), diagnose
# (`wav diagnose`, last: it only uses what time is left) and write MODEL_CARD.md.
#
# Every phase runs under its own time guard (scripts/lib/phase.sh), so a slow phase never loses the
# others' results: training stopped by its guard leaves its last checkpoint, which is exported and
# evaluated. A second call skips every phase whose output exists and is newer than its inputs, and
# training resumes from its last checkpoint. The phases, their seconds and status are printed as a
# table at the end (and written to RESULTS/phases.tsv).
#
# Sizes and budgets from the environment (defaults for the GPU machine):
#   EPISODES=48 (mixed quality) EXPERT_EPISODES=16 DISTURB_EPISODES=0 (the expert with its servos
#   pushed off its commands: recovery for the action stage; README, "Demonstrations with failures") HELDOUT=16 EVAL_EPISODES=50 (per K) KS=0,3
#   M=8 N=4 S=10 WORKERS=<cpus> MAX_SECONDS=20 (sim seconds per recorded episode; the drawer expert
#   needs about 17) EVAL_MAX_SECONDS=$MAX_SECONDS (per evaluated episode)
#   DIAGNOSE_EPISODES=8 TRAIN_CONFIG=config/train_gpu_recipe.yaml RIG=config/sim_drawer_progress.yaml
#   (the rig and its value targets: progress, which the drawer value ranks; config/sim_drawer.yaml
#   for the outcome-weighted reward-to-go) PRESET= (e.g. tiny: replaces the
#   config's preset) MAX_STEPS= (per stage) CHECKPOINT_EVERY= LOADER_WORKERS= (the config's
#   num_workers) DEVICE=cuda|cpu (default: cuda when nvidia-smi or torch sees a GPU)
#   EVAL_BACKEND / BENCH_BACKEND (torch-cudagraph on cuda, torch on cpu) EVAL_BATCH=1
#   Seconds: TOTAL_SECONDS=510 (a deadline from the start: later phases get what is left)
#   T_RECORD=75 T_RECORD_EXPERT=45 T_RECORD_DISTURB=60 T_RECORD_HELDOUT=45 T_IMPORT=60 T_IMPORT_HELDOUT=30 T_CACHE=45
#   T_TRAIN=250 T_EXPORT=30 T_BENCH=45 T_DIAGNOSE=45 T_EVAL=240 (per K, shared out of what is
#   left before T_CALIBRATE) T_CALIBRATE=45 T_CARD=30
#   TITLE='sim_drawer (GPU recipe)' (the model card's title) WORK=/tmp/wav_recipe (bags, datasets, the training run) RESULTS=$WORK/results (model directory,
#   JSONs, PNGs, logs, commands.txt, phases.tsv) PACK_DIR=$OUT (if set: RESULTS as a tar split in
#   15 MB parts, plus summary.txt and MODEL_CARD.md, rewritten after every phase)
# Training seeds 0.., held-out demonstrations 5000.., closed-loop evaluation 1000..: disjoint.
set -uo pipefail
cd "$(dirname "$0")/.."
PACK_DIR=${PACK_DIR-${OUT:-}}

EPISODES=${EPISODES:-48}
EXPERT_EPISODES=${EXPERT_EPISODES:-16}
DISTURB_EPISODES=${DISTURB_EPISODES:-0}
HELDOUT=${HELDOUT:-16}
EVAL_EPISODES=${EVAL_EPISODES:-50}
KS=${KS:-0,3}
M=${M:-8} N=${N:-4} S=${S:-10}
WORKERS=${WORKERS:-$(nproc)}
MAX_SECONDS=${MAX_SECONDS:-20}
EVAL_MAX_SECONDS=${EVAL_MAX_SECONDS:-$MAX_SECONDS}
DIAGNOSE_EPISODES=${DIAGNOSE_EPISODES:-8}
TRAIN_CONFIG=${TRAIN_CONFIG:-config/train_gpu_recipe.yaml}
PRESET=${PRESET:-}
MAX_STEPS=${MAX_STEPS:-}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-}
LOADER_WORKERS=${LOADER_WORKERS:-}
EVAL_BATCH=${EVAL_BATCH:-1}
TOTAL_SECONDS=${TOTAL_SECONDS:-510}
T_RECORD=${T_RECORD:-75} T_RECORD_EXPERT=${T_RECORD_EXPERT:-45} T_RECORD_DISTURB=${T_RECORD_DISTURB:-60}
T_RECORD_HELDOUT=${T_RECORD_HELDOUT:-45}
T_IMPORT=${T_IMPORT:-60} T_IMPORT_HELDOUT=${T_IMPORT_HELDOUT:-30} T_CACHE=${T_CACHE:-45}
T_TRAIN=${T_TRAIN:-250} T_EXPORT=${T_EXPORT:-30} T_BENCH=${T_BENCH:-45} T_DIAGNOSE=${T_DIAGNOSE:-45}
T_EVAL=${T_EVAL:-240} T_CALIBRATE=${T_CALIBRATE:-45} T_CARD=${T_CARD:-30}
WORK=${WORK:-/tmp/wav_recipe}
TITLE=${TITLE:-sim_drawer (GPU recipe)}
RESULTS=${RESULTS:-$WORK/results}
RIG=${RIG:-config/sim_drawer_progress.yaml}
TRAIN_SEED=0 HELDOUT_SEED=5000 EVAL_SEED=1000

fail() { echo "gpu_recipe.sh: $*" >&2; exit 2; }
positive() {  # NAME...: each variable holds an integer >= 1
  local v
  for v in "$@"; do [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || fail "$v: got '${!v}', expected an integer >= 1"; done
}
positive EPISODES HELDOUT EVAL_EPISODES M N S WORKERS DIAGNOSE_EPISODES EVAL_BATCH TOTAL_SECONDS \
  T_RECORD T_RECORD_EXPERT T_RECORD_DISTURB T_RECORD_HELDOUT T_IMPORT T_IMPORT_HELDOUT T_CACHE T_TRAIN T_EXPORT T_BENCH \
  T_DIAGNOSE T_EVAL T_CALIBRATE T_CARD
for v in EXPERT_EPISODES DISTURB_EPISODES; do
  [[ ${!v} =~ ^[0-9]+$ ]] || fail "$v: got '${!v}', expected an integer >= 0"
done
TRAINING=$((EPISODES + EXPERT_EPISODES + DISTURB_EPISODES))
[ "$TRAINING" -le "$EVAL_SEED" ] \
  || fail "EPISODES + EXPERT_EPISODES + DISTURB_EPISODES: got $TRAINING, expected at most $EVAL_SEED (training seeds stay below the evaluation seeds)"
[[ $KS =~ ^[0-9]+(,[0-9]+)*$ ]] || fail "KS: got '$KS', expected comma-separated planning iterations such as 0,1,3"
seconds() {  # NAME...: each variable holds sim seconds >= 1
  local v
  for v in "$@"; do [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] && [ "${!v%%.*}" -ge 1 ] || fail "$v: got '${!v}', expected sim seconds >= 1"; done
}
seconds MAX_SECONDS EVAL_MAX_SECONDS
[ -z "$MAX_STEPS" ] || positive MAX_STEPS
[ -z "$CHECKPOINT_EVERY" ] || positive CHECKPOINT_EVERY
[ -z "$LOADER_WORKERS" ] || [[ $LOADER_WORKERS =~ ^[0-9]+$ ]] || fail "LOADER_WORKERS: got '$LOADER_WORKERS', expected an integer >= 0"
[ -z "$PRESET" ] || [[ $PRESET =~ ^(tiny|cpu|sim|paper)$ ]] || fail "PRESET: got '$PRESET', expected tiny, cpu, sim or paper"
[ -f "$TRAIN_CONFIG" ] || fail "TRAIN_CONFIG: $TRAIN_CONFIG does not exist"
[ -f "$RIG" ] || fail "RIG: $RIG does not exist"
if [ -z "${DEVICE:-}" ]; then
  DEVICE=cpu
  if (nvidia-smi -L 2>/dev/null || true) | grep -q '^GPU' \
     || python3 -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then DEVICE=cuda; fi
fi
[[ $DEVICE =~ ^(cuda|cpu)$ ]] || fail "DEVICE: got '$DEVICE', expected cuda or cpu"
FAST=torch; [ "$DEVICE" = cuda ] && FAST=torch-cudagraph
EVAL_BACKEND=${EVAL_BACKEND:-$FAST} BENCH_BACKEND=${BENCH_BACKEND:-$FAST}
[ -z "$PACK_DIR" ] || [ -d "$PACK_DIR" ] || fail "PACK_DIR: $PACK_DIR is not a directory"
export MUJOCO_GL=${MUJOCO_GL:-egl} PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-egl}
[ "${RECIPE_CHECK_ONLY:-}" = 1 ] && { echo "gpu_recipe.sh: settings valid (device $DEVICE)"; exit 0; }

DEADLINE=$(($(date +%s) + TOTAL_SECONDS))
mkdir -p "$WORK" "$RESULTS"
: > "$RESULTS/commands.txt"
: > "$RESULTS/phases.tsv"
source scripts/lib/phase.sh
trap phase_interrupt INT TERM
MODEL=$RESULTS/model

# The run reads one copy of the training config taken at the first call, with the PRESET,
# CHECKPOINT_EVERY and LOADER_WORKERS overrides applied, so a resumed run keeps its schedule.
CONFIG=$RESULTS/train.yaml
if [ ! -f "$CONFIG" ]; then
  cp "$TRAIN_CONFIG" "$CONFIG.tmp"
  override() {  # KEY VALUE: replace the config's top-level `KEY: ...` line
    [ -n "$2" ] || return 0
    sed -i "s/^$1: .*/$1: $2/" "$CONFIG.tmp"
    grep -q "^$1: $2\$" "$CONFIG.tmp" || fail "$TRAIN_CONFIG: overriding $1 needs a top-level '$1: ...' line"
  }
  override preset "$PRESET"
  override checkpoint_every "$CHECKPOINT_EVERY"
  override num_workers "$LOADER_WORKERS"
  mv "$CONFIG.tmp" "$CONFIG"
fi
IMAGE_SIZE=$(python3 -c "from wav_core.training.run_config import load_run_config as l; h, w = l('$CONFIG').model_config().image_size; print(f'{h}x{w}')") \
  || fail "$CONFIG: not a valid training config"

# pack: RESULTS into PACK_DIR in parts the device machine sends back (at most 8 files of 16 MiB).
pack() {
  [ -n "$PACK_DIR" ] || return 0
  phase_table > "$RESULTS/summary.txt"
  rm -f "$PACK_DIR"/wav_recipe.tar.part*
  tar -C "$(dirname "$RESULTS")" -cf - "$(basename "$RESULTS")" | split -b 15m -d -a 1 - "$PACK_DIR/wav_recipe.tar.part"
  cp "$RESULTS/summary.txt" "$PACK_DIR/"
  [ -f "$MODEL/MODEL_CARD.md" ] && cp "$MODEL/MODEL_CARD.md" "$PACK_DIR/"
  return 0
}
run_phase() { phase "$@"; pack; }

# --- data -----------------------------------------------------------------------------------------
run_phase --clean "$WORK/bags_mixed" record_mixed "$T_RECORD" "$WORK/bags_mixed/summary.json" \
  wav sim record --task drawer --quality mixed --episodes "$EPISODES" --max-duration "$MAX_SECONDS" \
  --seed "$TRAIN_SEED" --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$WORK/bags_mixed"
if [ "$EXPERT_EPISODES" -gt 0 ]; then
  run_phase --clean "$WORK/bags_expert" record_expert "$T_RECORD_EXPERT" "$WORK/bags_expert/summary.json" \
    wav sim record --task drawer --episodes "$EXPERT_EPISODES" --max-duration "$MAX_SECONDS" \
    --seed "$((TRAIN_SEED + EPISODES))" --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$WORK/bags_expert"
fi
if [ "$DISTURB_EPISODES" -gt 0 ]; then
  run_phase --clean "$WORK/bags_disturb" record_disturb "$T_RECORD_DISTURB" "$WORK/bags_disturb/summary.json" \
    wav sim record --task drawer --quality mixed --mix disturb=1 --episodes "$DISTURB_EPISODES" \
    --max-duration "$MAX_SECONDS" --seed "$((TRAIN_SEED + EPISODES + EXPERT_EPISODES))" --workers "$WORKERS" \
    --jpeg 90 --config "$RIG" --out "$WORK/bags_disturb"
fi
run_phase --clean "$WORK/bags_heldout" record_heldout "$T_RECORD_HELDOUT" "$WORK/bags_heldout/summary.json" \
  wav sim record --task drawer --quality mixed --episodes "$HELDOUT" --max-duration "$MAX_SECONDS" \
  --seed "$HELDOUT_SEED" --workers "$WORKERS" --jpeg 90 --config "$RIG" --out "$WORK/bags_heldout"
# Only finished recordings are imported; one that finishes on a later call triggers a re-import.
BAGS=(); RECORDS=()
for b in mixed expert disturb; do
  [ -f "$WORK/bags_$b/summary.json" ] && BAGS+=("$WORK/bags_$b") && RECORDS+=(--record "training demonstrations ($b)=$WORK/bags_$b/summary.json")
done
[ -f "$WORK/bags_heldout/summary.json" ] \
  && RECORDS+=(--record "held-out demonstrations (value calibration, diagnosis)=$WORK/bags_heldout/summary.json")
run_phase --after "$WORK/bags_mixed/summary.json" --after "$WORK/bags_expert/summary.json" \
  --after "$WORK/bags_disturb/summary.json" import "$T_IMPORT" "$WORK/dataset/meta.json" \
  wav data import --bags "${BAGS[@]}" --config "$RIG" --out "$WORK/dataset" --overwrite --workers "$WORKERS" --no-progress
run_phase --after "$WORK/dataset/meta.json" cache "$T_CACHE" "$WORK/dataset/cache/frames_$IMAGE_SIZE.npy" \
  wav data cache "$WORK/dataset" --size "$IMAGE_SIZE" --workers "$WORKERS" --no-progress
run_phase --after "$WORK/bags_heldout/summary.json" import_heldout "$T_IMPORT_HELDOUT" "$WORK/heldout/meta.json" \
  wav data import --bags "$WORK/bags_heldout" --config "$RIG" --out "$WORK/heldout" --overwrite --workers "$WORKERS" --no-progress

# --- training -------------------------------------------------------------------------------------
# Re-entered until complete (run/trained), resuming from the last checkpoint; a run made from an
# older dataset than the current one starts again.
RUN=$WORK/run
if [ -f "$RUN/run.yaml" ] && ! phase_fresh "$RUN/run.yaml" "$WORK/dataset/meta.json"; then
  echo "=== $RUN predates $WORK/dataset: training starts again"; rm -rf "$RUN"
fi
RESUME=(); [ -f "$RUN/run.yaml" ] && RESUME=(--resume)
LIMIT=(); [ -n "$MAX_STEPS" ] && LIMIT=(--max-steps "$MAX_STEPS")
run_phase --mark --after "$WORK/dataset/meta.json" --after "$CONFIG" train "$T_TRAIN" "$RUN/trained" \
  wav train --config "$CONFIG" --data "$WORK/dataset" --out "$RUN" --no-progress "${LIMIT[@]}" "${RESUME[@]}"
run_phase --after "$RUN/checkpoints" export "$T_EXPORT" "$MODEL/weights.safetensors" \
  wav export --run "$RUN" --out "$MODEL"

# --- evaluation -----------------------------------------------------------------------------------
WEIGHTS=$MODEL/weights.safetensors
run_phase --after "$WEIGHTS" bench "$T_BENCH" "$RESULTS/bench.json" \
  wav bench --model "$MODEL" --device "$DEVICE" --backend "$BENCH_BACKEND" --K 3 --M "$M" --N "$N" --S "$S" \
  --no-naive --json "$RESULTS/bench.json"
# One phase per K, cheapest first, each given an equal share of the time left before calibration and
# diagnosis. Each finished episode goes to a journal, so a K cut by its guard resumes on the next call
# with the episodes it has (same weights and settings only).
IFS=, read -r -a KLIST <<< "$KS"
CELLS=()
for k in "${KLIST[@]}"; do CELLS+=("$RESULTS/eval_K$k.json"); done
for i in "${!KLIST[@]}"; do
  k=${KLIST[$i]} left=0
  for c in "${CELLS[@]:$i}"; do phase_fresh "$c" "$WEIGHTS" || left=$((left + 1)); done
  share=$(( (DEADLINE - $(date +%s) - T_CALIBRATE - T_DIAGNOSE) / (left > 0 ? left : 1) ))
  [ "$share" -gt "$T_EVAL" ] && share=$T_EVAL
  [ "$share" -lt 0 ] && share=0
  run_phase --after "$WEIGHTS" "eval_K$k" "$share" "$RESULTS/eval_K$k.json" \
    wav eval --model "$MODEL" --task drawer --episodes "$EVAL_EPISODES" --seed "$EVAL_SEED" \
    --max-seconds "$EVAL_MAX_SECONDS" --K "$k" --M "$M" --N "$N" --S "$S" --mode sync --workers "$WORKERS" \
    --batch "$EVAL_BATCH" --backend "$EVAL_BACKEND" --device "$DEVICE" --journal "$RESULTS/eval_K$k.episodes.jsonl" \
    --json "$RESULTS/eval_K$k.json"
done
EVALS=(); for c in "${CELLS[@]}"; do [ -f "$c" ] && EVALS+=(--after "$c"); done
run_phase --always "${EVALS[@]}" sweep "$T_CARD" "$RESULTS/eval.json" \
  python3 scripts/lib/eval_sweep.py --out "$RESULTS/eval.json" "${CELLS[@]}"
WITH_EVAL=(); [ -f "$RESULTS/eval.json" ] && WITH_EVAL=(--eval "$RESULTS/eval.json")
run_phase --after "$WEIGHTS" --after "$RESULTS/eval.json" calibrate "$T_CALIBRATE" "$RESULTS/calibration/calibration.json" \
  wav calibrate --model "$MODEL" --data "$WORK/heldout" "${WITH_EVAL[@]}" --ticks-per-episode 10 --K 0 \
  --M "$M" --N "$N" --device "$DEVICE" --out "$RESULTS/calibration"
run_phase --after "$WEIGHTS" diagnose "$T_DIAGNOSE" "$RESULTS/diagnose.json" \
  wav diagnose --model "$MODEL" --data "$WORK/heldout" --episodes "$((DIAGNOSE_EPISODES < HELDOUT ? DIAGNOSE_EPISODES : HELDOUT))" \
  --S "$S" --json "$RESULTS/diagnose.json"

# --- model card -----------------------------------------------------------------------------------
CARD=()
if [ -d "$MODEL" ]; then
  for f in "$RESULTS/eval.json" "$RESULTS/eval.png" "$RESULTS/bench.json" "$RESULTS/diagnose.json" \
           "$RESULTS/calibration/calibration.json" "$RESULTS/calibration/calibration.png"; do
    [ -f "$f" ] && cp -p "$f" "$MODEL/"
  done
  [ -f "$MODEL/eval.json" ] && CARD+=(--eval "$MODEL/eval.json")
  [ -f "$MODEL/calibration.json" ] && CARD+=(--calibration "$MODEL/calibration.json")
  [ -f "$MODEL/bench.json" ] && CARD+=(--bench "$MODEL/bench.json")
fi
run_phase --always --after "$WEIGHTS" --after "$RESULTS/eval.json" --after "$RESULTS/bench.json" \
  --after "$RESULTS/calibration/calibration.json" card "$T_CARD" "$MODEL/MODEL_CARD.md" \
  wav card --model "$MODEL" --commands "$RESULTS/commands.txt" "${RECORDS[@]}" "${CARD[@]}" --title "$TITLE"
if [ -d "$MODEL" ]; then
  mb=$(du -sm "$MODEL" | cut -f1)
  if [ "$mb" -le 30 ]; then phase_record model_size 0 "ok ($mb MB)"; else phase_record model_size 0 "over 30 MB ($mb MB)"; fi
fi
pack

echo
phase_table | tee "$RESULTS/summary.txt"
echo "results: $RESULTS${PACK_DIR:+ (packed into $PACK_DIR)}"
! cut -f3 "$RESULTS/phases.tsv" | grep -qv '^ok\|^skipped'

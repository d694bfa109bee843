#!/bin/bash
# Run 7's action stage (run 5's settings: 6000 steps) on the future-reading value, then K = 0 and K = 3
# on 10 fresh seeds (1600-1609), run 5's planner settings (M 8, N 2, S 5, sync, 20 s).
set -e
cd "$(dirname "$0")/../.."
source .venv/bin/activate
V=out/vf
[ -f $V/run/checkpoints/action/model.safetensors ] && [ -f $V/run/trained_action ] || { OMP_NUM_THREADS=2 wav train --config $V/train.yaml --data out/vp/dataset --out $V/run --stage action --resume --no-progress && touch $V/run/trained_action; }
[ -f $V/model/weights.safetensors ] || wav export --run $V/run --out $V/model
OMP_NUM_THREADS=1 wav eval --model $V/model --task drawer --episodes 10 --seed 1600 --max-seconds 20 --sweep K=0,3 --M 8 --N 2 --S 5 --mode sync --workers 2 --journal $V/sweep_1600.jsonl --json $V/sweep_K0_K3_seeds1600-1609.json
echo done

#!/bin/bash
# Run 5's tokenizer and world, the value stage anew with value_reads: future; then the shifted check on
# the 12 held-out demonstrations (seeds 5004-5015), as run 5's and run 6's values were measured.
# Set up before: out/vf/run/checkpoints/{tokenizer,world} copied from run 5 (out/vp/run), out/vf/run/
# run.yaml = run 5's with card.config.value_reads set to future, out/vf/train.yaml = out/vp/train.yaml.
set -e
cd "$(dirname "$0")/../.."
source .venv/bin/activate
V=out/vf
[ -f $V/run/checkpoints/value/model.safetensors ] || wav train --config $V/train.yaml --data out/vp/dataset --out $V/run --stage value --resume --no-progress
[ -f $V/model_value/weights.safetensors ] || wav export --run $V/run --out $V/model_value
[ -f $V/diagnose_heldout.json ] || wav diagnose --model $V/model_value --data out/vp/heldout --episodes 12 --S 5 --threads 1 --json $V/diagnose_heldout.json
echo done

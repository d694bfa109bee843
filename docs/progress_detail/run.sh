#!/bin/bash
# Runs 9 and 10: the shipped drawer model's data, tokenizer and world (detail-weighted tokenizer), with
# the value and action stages trained anew on progress targets (config/sim_drawer_progress.yaml) and
# config/train_cpu.yaml's model section updated with MODEL (JSON); then K = 0 and K = 3 for it and for
# the shipped model on 20 fresh seeds (1700-1719; M 8, N 2, S 5, sync, 20 s), and `wav diagnose` on
# the 4 held-out demonstrations. Every step is skipped when its output exists; training resumes.
#   run 9:  V=out/r9  MODEL='{"value_reads": "future"}' docs/progress_detail/run.sh
#   run 10: V=out/r10 MODEL='{"value_reads": "future", "feature_time": 0.2, "feature_time_range": [0.05, 0.35]}' docs/progress_detail/run.sh
set -e
cd "$(dirname "$0")/../.."
source .venv/bin/activate
S=out/cpu_detail          # the shipped model's recipe run (models/sim_drawer/MODEL_CARD.md)
V=${V:?}
T=${THREADS:-2}
D=out/r9   # the progress-target dataset both runs read
mkdir -p $V
[ -f $D/dataset/meta.json ] || wav data import --bags $S/bags_mixed $S/bags_expert --config config/sim_drawer_progress.yaml --out $D/dataset --overwrite --workers 2 --no-progress
[ -d $D/dataset/cache ] || wav data cache $D/dataset --size 48x48 --workers 2 --no-progress
[ -f $D/heldout/meta.json ] || wav data import --bags $S/bags_heldout --config config/sim_drawer_progress.yaml --out $D/heldout --overwrite --workers 2 --no-progress
if [ ! -f $V/run/run.yaml ]; then
  mkdir -p $V/run/checkpoints
  cp -r $S/run/checkpoints/tokenizer $S/run/checkpoints/world $V/run/checkpoints/
  python -c "import json, sys, yaml; c = yaml.safe_load(open('config/train_cpu.yaml')); c['model'].update(json.loads(sys.argv[1])); open('$V/train.yaml', 'w').write(yaml.safe_dump(c, sort_keys=False))" "${MODEL:?}"
  OMP_NUM_THREADS=$T wav train --config $V/train.yaml --data $D/dataset --out $V/run --stage value --no-progress
fi
OMP_NUM_THREADS=$T wav train --config $V/train.yaml --data $D/dataset --out $V/run --stage value --resume --no-progress
OMP_NUM_THREADS=$T wav train --config $V/train.yaml --data $D/dataset --out $V/run --stage action --resume --no-progress
[ -f $V/model/weights.safetensors ] || wav export --run $V/run --out $V/model
[ -f $V/sweep_run.json ] || OMP_NUM_THREADS=1 wav eval --model $V/model --task drawer --episodes 20 --seed 1700 --max-seconds 20 --sweep K=0,3 --M 8 --N 2 --S 5 --mode sync --workers 2 --journal $V/sweep_run.jsonl --json $V/sweep_run.json
[ -f $V/diagnose_run.json ] || wav diagnose --model $V/model --data $D/heldout --episodes 4 --S 5 --threads 2 --json $V/diagnose_run.json
# The shipped model on the same seeds and held-out demonstrations (once, into the dataset's folder).
[ -f $D/sweep_shipped.json ] || OMP_NUM_THREADS=1 wav eval --model models/sim_drawer --task drawer --episodes 20 --seed 1700 --max-seconds 20 --sweep K=0,3 --M 8 --N 2 --S 5 --mode sync --workers 2 --journal $D/sweep_shipped.jsonl --json $D/sweep_shipped.json
[ -f $D/diagnose_shipped.json ] || wav diagnose --model models/sim_drawer --data $S/heldout --episodes 4 --S 5 --threads 2 --json $D/diagnose_shipped.json
echo done

#!/bin/bash
# The ceiling of planning over the imagined futures (`wav headroom`): the shipped drawer model (outcome
# value targets) and run 9's model (progress targets, value reads the future; docs/progress_detail),
# each on 20 fresh seeds (1800-1819) with the pick rules first / value / oracle over 8 candidate
# futures per decision (K 0, S 5, sync, 20 s); then the shipped model's oracle with the action noise
# varied too, and first / oracle on 20 more seeds (1820-1839). Every step resumes from its journal.
set -e
cd "$(dirname "$0")/../.."
source .venv/bin/activate
O=${OUT:-out/headroom}
mkdir -p $O
run() {  # name model picks vary first-seed
  [ -f $O/headroom_$1.json ] || OMP_NUM_THREADS=1 wav headroom --model $2 --task drawer --episodes 20 --seed ${5:-1800} \
    --max-seconds 20 --picks $3 --candidates 8 --vary $4 --K 0 --S 5 --workers 2 --journal $O/headroom_$1.jsonl \
    --json $O/headroom_$1.json
}
run shipped models/sim_drawer first,value,oracle plan
run run9 out/r9/model first,value,oracle plan
run shipped_all models/sim_drawer oracle all
run shipped_1820 models/sim_drawer first,oracle plan 1820
echo done

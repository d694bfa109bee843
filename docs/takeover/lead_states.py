"""Run 34: where the leading policy has left the arms when the expert takes over.

Replays the lead of each recorded takeover episode (same seed, same lead time, same sync protocol,
so the same states) and prints the task's progress distances at the takeover, from summary.json.

  OMP_NUM_THREADS=1 python docs/takeover/lead_states.py BAGS_DIR [EPISODES]

(one torch thread, as the recording's policy ran, so the leads replay to the same states)
"""
import json
import sys
from pathlib import Path

import numpy as np

from wav_core.config.loader import from_dict, load
from wav_core.config.robot import RobotConfig
from wav_core.sim import SimEnv
from wav_core.sim.lead import PolicyLead, lead_episode

bags = Path(sys.argv[1])
summary = json.loads((bags / "summary.json").read_text())
lead = from_dict(PolicyLead, summary["lead"])
episodes = summary["per_episode"][:int(sys.argv[2]) if len(sys.argv) > 2 else None]
policy = lead.load()
rows = []
with SimEnv(summary["task"], robot=load(RobotConfig, "config/sim_drawer.yaml", section="robot")) as env:
    for e in episodes:
        lead_episode(env, policy, e["seed"], e["lead_s"])
        rows.append({k: float(v) for k, v in env.task.progress(env.model, env.data).items()})
        print(e["seed"], e["lead_s"], {k: round(v, 3) for k, v in rows[-1].items()}, flush=True)
for k in rows[0]:
    v = np.array([r[k] for r in rows])
    print(f"{k}: median {np.median(v) * 100:.1f} cm, quartiles {np.percentile(v, 25) * 100:.1f}-{np.percentile(v, 75) * 100:.1f} cm")

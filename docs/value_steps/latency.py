"""Eager plan latency against value_steps, the settings timed interleaved in one run (2 threads, sim preset, random weights)."""
import torch, numpy as np
from dataclasses import replace
from wav_core.planning import PlannerConfig, random_policy
from wav_core.bench.planner import _time_interleaved, _planner, plan_inputs
torch.set_num_threads(2)
cfg = PlannerConfig(K=3, M=8, N=4, S=10)
p = random_policy("sim", cfg)
images, state = plan_inputs(p, 0)
planners = {vs: _planner(p, replace(cfg, value_steps=vs), "torch", None) for vs in (0, 5, 3)}
runs = _time_interleaved(p, planners, images, state, 8, 1)
base = np.median(runs[0]["times"])
for vs, r in runs.items():
    m = np.median(r["times"])
    print(f"value_steps {vs or 10}: median {m:.0f} ms, value {r['breakdown']['value']:.0f} ms, ratio {base / m:.2f}x")

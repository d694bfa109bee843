"""Eager plan latency against `value_steps`: the settings timed interleaved in one run, so load from
other processes hits them alike (2 threads, `sim` preset, random weights, K=3 M=8 N=4 S=10).

    python docs/value_steps/latency.py
"""

from dataclasses import replace

import numpy as np
import torch

from wav_core.bench.planner import plan_inputs, planner_on, time_interleaved
from wav_core.planning import PlannerConfig, random_policy


def main() -> None:
    torch.set_num_threads(2)
    cfg = PlannerConfig(K=3, M=8, N=4, S=10)
    policy = random_policy("sim", cfg)
    images, state = plan_inputs(policy, 0)
    planners = {steps: planner_on(policy, replace(cfg, value_steps=steps), "torch", None) for steps in (0, 5, 3)}
    runs = time_interleaved(policy, planners, images, state, repeats=8, warmup=1)
    base = np.median(runs[0]["times"])
    for steps, r in runs.items():
        median = np.median(r["times"])
        print(f"value steps {steps or cfg.S}: median {median:.0f} ms, value stage {r['breakdown']['value']:.0f} ms, "
              f"{base / median:.2f}x the {cfg.S}-step plan")


if __name__ == "__main__":
    main()

"""Would a goal-reading action expert reach the block if its goal were exact?

Runs a model with `keyframe_goal` through the evaluation's own episode loop (`run_episode`, sync, no
action noise) with the right arm's keyframe replaced, until the block leaves the table, by the joint
angles the scripted expert would grasp it with (its grasp choice and IK on the block's true pose); the
other joints keep the head's prediction. `--head` runs the same loop with the head's goal unchanged
(the control, which must reproduce `wav eval` on the same seeds).
oracle_goal.py MODEL_DIR SEED EPISODES OUT.json [--head]
"""
import json
import sys

import numpy as np
import torch

from wav_core.config.robot import RobotConfig
from wav_core.eval.closed_loop import EvalConfig, run_episode, summarize
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.sim.env import SimEnv
from wav_core.sim.experts.drawer import CARRY_Z_M, _block
from wav_core.sim.experts.grasp import BoxGraspChooser, grasp_pose
from wav_core.sim.ik import ArmIK
from wav_core.sim.tasks.base import body_yaw

torch.set_num_threads(1)
model_dir, seed, episodes, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
exact = "--head" not in sys.argv
planner = PlannerConfig(K=0, M=8, N=2, S=5, action_temperature=0.0)
policy = WAVPolicy.load(model_dir, planner)
norm = policy.card.normalization
lo, hi = (torch.tensor(x, dtype=torch.float32) for x in (norm.state_min, norm.state_max))
cfg = EvalConfig(task="drawer", episodes=episodes, seed=seed, max_seconds=25.0, mode="sync")
env = SimEnv("drawer", RobotConfig())
chooser, ik = BoxGraspChooser(env.model, "right", lift_z=CARRY_Z_M), ArmIK(env.model, "right")
head = policy.model.action.predict_keyframe
table_z = {}


def goal(states):
    pred = head(states)
    block = _block(env)
    if exact and block[2] < table_z["z"] + 0.015:  # the block still lies where it was put
        yaw, tilt = chooser(env.data.qpos, block, body_yaw(env.data, "block"))
        q = ik.solve(env.data.qpos, *grasp_pose("right", block, yaw, tilt)).q
        pred = pred.clone()
        pred[:, 7:13] = ((torch.tensor(q, dtype=torch.float32) - lo[7:13]) / (hi[7:13] - lo[7:13]) * 2 - 1)
    return pred


policy.model.action.predict_keyframe = goal
results = []
for s in range(seed, seed + episodes):
    res = run_episode(policy, env, s, cfg, on_start=lambda run: table_z.update(z=_block(env)[2]))
    results.append(res)
    print(f"seed {s}: success {res.success} subgoals {res.subgoals} right tool {res.closest.get('right tool to block')}",
          flush=True)
summary = summarize(results, cfg, planner)
summary["goal"] = "exact right-arm grasp joints" if exact else "head"
env.close()
with open(out, "w") as f:
    json.dump(summary, f, indent=2, default=float)
print(out, summary["success_rate"], summary["subgoal_rates"], summary["closest_median_m"])

"""How much a goal-reading action expert's chunk moves with its goal.

Records the observations of the first seconds of one evaluation episode (`run_episode`, sync), then
plans each again with the right arm's goal shifted by 0.1 and 1.0 (normalised units; 1.0 is half
the joints' range), same noise, and prints the largest change of the decoded actions beside how far
the chunk itself moves the right arm's joints.
goal_effect.py MODEL_DIR [SEED]
"""
import sys

import numpy as np

from wav_core.config.robot import RobotConfig
from wav_core.eval.closed_loop import EvalConfig, run_episode
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.sim.env import SimEnv

seed = int(sys.argv[2]) if len(sys.argv) > 2 else 3500
policy = WAVPolicy.load(sys.argv[1], PlannerConfig(K=0, M=8, N=2, S=5, action_temperature=0.0))
env = SimEnv("drawer", RobotConfig())
seen = []
plan = policy.plan


def recording(images, state, *args, **kwargs):
    seen.append((images.copy(), np.array(state), args, kwargs))
    return plan(images, state, *args, **kwargs)


policy.plan = recording
run_episode(policy, env, seed, EvalConfig(task="drawer", episodes=1, seed=seed, max_seconds=6.0, mode="sync"))
env.close()
policy.plan = plan
head = policy.model.action.predict_keyframe
shift = [0.0]


def shifted(states):
    out = head(states).clone()
    out[:, 7:13] += shift[0]
    return out


policy.model.action.predict_keyframe = shifted
for i, (images, state, args, kwargs) in enumerate(seen):
    kwargs = {**kwargs, "seed": 0}
    shift[0] = 0.0
    base = policy.plan(images, state, *args, **kwargs).actions
    moved = []
    for d in (0.1, 1.0):
        shift[0] = d
        moved.append(float(np.abs(policy.plan(images, state, *args, **kwargs).actions - base).max()))
    travel = float(np.abs(base[-1, 7:13] - base[0, 7:13]).max())
    print(f"decision {i}: actions move by at most {moved[0]:.4f} / {moved[1]:.4f} rad for a goal shift of 0.1 / 1.0; "
          f"the chunk moves the right joints by up to {travel:.3f} rad")

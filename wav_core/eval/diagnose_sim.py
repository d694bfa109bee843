"""Observations for `wav diagnose` from the simulator: the policy's own decision ticks."""

from __future__ import annotations

from ..planning.policy import WAVPolicy
from .diagnose import Observation


def sim_observations(policy: WAVPolicy, task: str, seed: int, episodes: int, decisions: int) -> list[Observation]:
    """`decisions` observations per episode, each taken where the policy itself (planning with its
    own settings, executing whole chunks) has brought the simulated robot."""
    from ..runtime.policy_runtime import PolicyRuntime
    from ..sim.env import SimEnv

    out = []
    with SimEnv(task) as env:
        for e in range(episodes):
            policy.reset()
            runtime = PolicyRuntime(policy, env.instruction)
            obs = env.reset(seed + e)
            runtime.observe(obs["images"], obs["state"])
            for d in range(decisions):
                images, state, _ = runtime.snapshot()
                out.append(Observation(images, state, runtime.instruction))
                if d == decisions - 1:
                    break
                chunk = runtime.plan(seed=(seed + e) * 1000 + d)
                for action in chunk.actions:
                    obs, _ = env.step(action)
                    runtime.observe(obs["images"], obs["state"])
    return out

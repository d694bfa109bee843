"""Observations for `wav diagnose` from the simulator: the policy's own decisions in closed loop."""

from __future__ import annotations

from ..planning.policy import WAVPolicy
from .diagnose import Observation


def sim_observations(policy: WAVPolicy, task: str, seed: int, episodes: int, decisions: int) -> list[Observation]:
    """The observations of the first `decisions` decisions of each episode, run by the same control
    loop as `wav eval` (the paper's plan-then-execute protocol, so the states do not depend on how
    fast this machine plans)."""
    from ..sim.env import SimEnv
    from .closed_loop import EvalConfig, run_episode

    chunk_s = policy.cfg.action_horizon
    out: list[Observation] = []
    with SimEnv(task) as env:
        cfg = EvalConfig(task=task, mode="sync", max_seconds=decisions * chunk_s / env.robot.tick_hz)
        for e in range(episodes):
            kept: list[Observation] = []

            def keep(request, kept=kept):
                if len(kept) < decisions:
                    images, state, _ = request.snapshot
                    kept.append(Observation(images, state, env.instruction))

            run_episode(policy, env, seed + e, cfg, on_request=keep)
            out += kept
    return out

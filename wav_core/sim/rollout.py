"""Closed-loop expert rollouts without recording: success rates and quick checks."""

from __future__ import annotations

from dataclasses import dataclass

from .env import SimEnv
from .experts import make_expert


@dataclass
class Rollout:
    seed: int
    success: bool
    subgoals: dict[str, bool]
    duration_s: float
    timeouts: list[str]
    reached_at: dict[str, float]
    """Sim time at which each sub-goal first latched."""


def run_expert(env: SimEnv, seed: int, noise: float = 0.0, max_duration_s: float = 45.0,
               settle_s: float = 0.5) -> Rollout:
    """One episode of the scripted expert in `env` (cameras are rendered only if the env renders)."""
    obs = env.reset(seed)
    expert = make_expert(env.task.name, env, seed=seed, noise=noise)
    info = env.info()
    end = None
    reached_at: dict[str, float] = {}
    while env.time < max_duration_s - 1e-9:
        obs, info = env.step(expert.act(obs))
        for k in env.task.subgoals:
            if info[k] and k not in reached_at:
                reached_at[k] = round(env.time, 4)
        if expert.done:
            end = env.time + settle_s if end is None else end
            if env.time >= end - 1e-9:
                break
    return Rollout(seed, bool(info["success"]), {k: bool(info[k]) for k in env.task.subgoals},
                   round(env.time, 4), list(expert.timeouts), reached_at)

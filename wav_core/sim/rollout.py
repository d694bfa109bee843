"""Closed-loop expert rollouts without recording: success rates and quick checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .env import SimEnv
from .experts import make_expert
from .experts.degraded import servo_targets
from .quality import EpisodeQuality


@dataclass
class Rollout:
    seed: int
    success: bool
    subgoals: dict[str, bool]
    duration_s: float
    timeouts: list[str]
    reached_at: dict[str, float]
    """Sim time at which each sub-goal first latched."""
    quality: dict[str, Any] = field(default_factory=lambda: {"mode": "expert"})
    """The episode's quality mode, its parameters and when its mistake happened (`events`)."""
    commands: np.ndarray | None = None
    """[ticks, 14] the expert's command of every tick, as a recording writes them."""


def quality_record(quality: EpisodeQuality | None, expert) -> dict[str, Any]:
    """What summary files say about an episode's quality: mode, parameters and events."""
    out = (quality or EpisodeQuality()).to_dict()
    events = getattr(expert, "events", None)
    if events:
        out["events"] = dict(events)
    return out


def run_expert(env: SimEnv, seed: int, noise: float = 0.0, max_duration_s: float = 45.0,
               settle_s: float = 0.5, quality: EpisodeQuality | None = None) -> Rollout:
    """One episode of the scripted expert in `env` (cameras are rendered only if the env renders);
    `quality` makes the expert err as that mode says (see `wav_core.sim.quality`)."""
    obs = env.reset(seed)
    expert = make_expert(env.task.name, env, seed=seed, noise=noise, quality=quality)
    info = env.info()
    end = None
    reached_at: dict[str, float] = {}
    commands = []
    while env.time < max_duration_s - 1e-9:
        commands.append(expert.act(obs))
        obs, info = env.step(servo_targets(expert, commands[-1]))
        for k in env.task.subgoals:
            if info[k] and k not in reached_at:
                reached_at[k] = round(env.time, 4)
        if expert.done:
            end = env.time + settle_s if end is None else end
            if env.time >= end - 1e-9:
                break
    return Rollout(seed, bool(info["success"]), {k: bool(info[k]) for k in env.task.subgoals},
                   round(env.time, 4), list(expert.timeouts), reached_at, quality_record(quality, expert),
                   np.array(commands).reshape(-1, 14))

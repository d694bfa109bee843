"""Scripted experts: IK + waypoint state machines that solve each task from its randomised start."""

from __future__ import annotations

from ..env import SimEnv
from .bowl import bowl_phases
from .drawer import drawer_phases
from .motion import Phase, ScriptedExpert


def make_expert(task: str, env: SimEnv, seed: int = 0, noise: float = 0.0) -> ScriptedExpert:
    """An expert for the episode `env` was just reset to; `noise` is the action-noise std (rad).

    Build it after `env.reset`: the bowl expert picks the arm on the cup's side.
    """
    if noise < 0:
        raise ValueError(f"noise: got {noise}, expected >= 0")
    if task == "drawer":
        phases = drawer_phases(env)
    elif task == "bowl":
        arm = "left" if env.data.body("cup").xpos[1] > 0 else "right"
        phases = bowl_phases(arm)
    else:
        raise ValueError(f"task: got {task!r}, expected 'drawer' or 'bowl'")
    return ScriptedExpert(env, phases, noise=noise, seed=seed)


__all__ = ["Phase", "ScriptedExpert", "make_expert"]

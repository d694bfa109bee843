"""Scripted experts: IK + waypoint state machines that solve each task from its randomised start."""

from __future__ import annotations

from ..env import SimEnv
from ..quality import TASK_MODES, EpisodeQuality
from .bowl import bowl_phases
from .degraded import DegradedExpert, offset_phases
from .drawer import drawer_phases
from .motion import Phase, ScriptedExpert


def make_expert(task: str, env: SimEnv, seed: int = 0, noise: float = 0.0,
                quality: EpisodeQuality | None = None) -> ScriptedExpert | DegradedExpert:
    """An expert for the episode `env` was just reset to; `noise` is the action-noise std (rad).

    `quality` (see `wav_core.sim.quality`) makes it err as that mode says; None or mode 'expert'
    gives the plain `ScriptedExpert`, action for action. Build it after `env.reset`: the bowl expert
    picks the arm on the cup's side.
    """
    if noise < 0:
        raise ValueError(f"noise: got {noise}, expected >= 0")
    mode = "expert" if quality is None else quality.mode
    if task in TASK_MODES and mode not in TASK_MODES[task]:
        raise ValueError(f"quality mode: got {mode!r} for task {task!r}, expected one of {list(TASK_MODES[task])}")
    if task == "drawer":
        arm = "right"
        phases = drawer_phases(env, leave_open_m=quality.params["opening_m"] if mode == "half_open" else 0.0)
    elif task == "bowl":
        arm = "left" if env.data.body("cup").xpos[1] > 0 else "right"
        phases = bowl_phases(arm)
    else:
        raise ValueError(f"task: got {task!r}, expected 'drawer' or 'bowl'")
    if mode == "offset":
        phases = offset_phases(phases, arm, quality.params["offset_m"], quality.params["direction_deg"])
    expert = ScriptedExpert(env, phases, noise=noise, seed=seed)
    if quality is None or mode in ("expert", "half_open", "offset"):
        return expert
    return DegradedExpert(expert, quality, task, arm, seed)


__all__ = ["DegradedExpert", "Phase", "ScriptedExpert", "make_expert"]

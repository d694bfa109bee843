"""The scripted expert made worse on purpose, as one `EpisodeQuality` says.

Mistakes in where the expert goes (approach offset, drawer left half open) change its phases
before it starts; mistakes in what it commands (noise, late grasp, drop, stall) filter its actions
tick by tick. A disturbance leaves the commands clean and pushes the servos instead
(`servo_targets`): the arm leaves the path, the expert steers it back, and the bag holds the
steering. The expert itself carries on with its script, so an episode shows the mistake and what
follows from it; whether the task still succeeds is for the simulator to say.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wav_core.robot import piper
from wav_core.runtime.safety import SafetyFilter

from ..env import SimEnv
from ..quality import EpisodeQuality
from .motion import ARMS, GRIPPER_OPEN_M, Phase, Pose, ScriptedExpert, expert_limits

STAGES = {
    "drawer": {"grasp": "grasp", "lift": "pull_and_lift", "carry": "clear_and_carry"},
    "bowl": {"grasp": "grasp", "lift": "lift", "carry": "carry"},
}
"""Which phase of each task's script closes the gripper on the object, lifts it and carries it."""
APPROACH_PHASES = ("reach", "descend")
_NOISE_SALT = 0x401
_NOISE_SCALE = np.r_[np.ones(6), 0.1, np.ones(6), 0.1]
"""Noise per target: joints in rad; on the grippers (m), a tenth of the joint noise."""
FILTERED_MODES = ("noise", "late_grasp", "drop")
"""Modes whose mistakes change the commands: these pass once more through the expert's limits, so a
failed demonstration moves no faster than a clean one (and than the loop lets a policy move)."""


def offset_phases(phases: list[Phase], arm: str, offset_m: float, direction_deg: float) -> list[Phase]:
    """The approach and grasp point of `arm` shifted horizontally (the grasp closes beside the object)."""
    a = np.deg2rad(direction_deg)
    shift = offset_m * np.array([np.cos(a), np.sin(a), 0.0])

    def shifted(fn):
        def goal(env: SimEnv) -> Pose:
            pos, rot = fn(env)
            return pos + shift, rot
        return goal

    out = []
    for ph in phases:
        if ph.name in APPROACH_PHASES and arm in ph.goals:
            ph = dataclasses.replace(ph, goals={**ph.goals, arm: shifted(ph.goals[arm])})
        out.append(ph)
    return out


class DegradedExpert:
    """Wraps a `ScriptedExpert` with the action-level part of an episode's quality mode.

    `events` records when the mistake happened (sim seconds); `done` stays False once stalled, so
    the episode runs to its time limit.
    """

    def __init__(self, expert: ScriptedExpert, quality: EpisodeQuality, task: str, object_arm: str, seed: int):
        self.expert = expert
        self.quality = quality
        self.stages = STAGES[task]
        self.grip_index = 7 * ARMS.index(object_arm) + 6
        self.events: dict[str, float | str] = {}
        self._dropped = False
        self._frozen: np.ndarray | None = None
        self._noise = np.zeros(14)
        self._rng = np.random.default_rng([int(seed), _NOISE_SALT])
        names = [ph.name for ph in expert.phases]
        self._stall_index = (min(len(names) - 1, int(quality.params["at"] * len(names)))
                             if quality.mode == "stall" else None)
        if self._stall_index is not None:
            self.events["stall_phase"] = names[self._stall_index]
        self._filter = None
        if quality.mode in FILTERED_MODES:
            self._filter = SafetyFilter(expert_limits())
            self._filter.reset(expert.filter.last.copy())

    @property
    def done(self) -> bool:
        return self._frozen is None and self.expert.done

    @property
    def disturbance(self) -> np.ndarray:
        """What pushes the servos off this tick's command (zero unless the mode is `disturb`)."""
        return self._noise * _NOISE_SCALE if self.quality.mode == "disturb" else np.zeros(14)

    @property
    def timeouts(self) -> list[str]:
        return self.expert.timeouts

    @property
    def phase_name(self) -> str:
        return "stalled" if self._frozen is not None else self.expert.phase_name

    def act(self, obs: dict | None = None) -> np.ndarray:
        if self._frozen is not None:
            return self._frozen.copy()
        ex, mode, p = self.expert, self.quality.mode, self.quality.params
        if mode == "stall" and ex.index >= self._stall_index:
            self.events["stalled_at_s"] = round(ex.env.time, 4)
            self._frozen = np.concatenate([ex.q_cmd["left"], [ex.grip["left"]], ex.q_cmd["right"], [ex.grip["right"]]])
            return self._frozen.copy()
        phase, phase_time = ex.phase_name, ex.phase_time  # the phase this tick's action belongs to
        action = ex.act(obs)
        if mode in ("noise", "disturb"):
            a = float(np.exp(-ex.env.decision_dt / p["tau_s"]))
            self._noise = a * self._noise + np.sqrt(1 - a * a) * p["std_rad"] * self._rng.normal(size=14)
        if mode == "noise":
            action = piper.clip_dual(action + self._noise * _NOISE_SCALE)
        elif mode == "late_grasp":
            if phase == self.stages["grasp"] or (phase == self.stages["lift"] and phase_time < p["delay_s"]):
                action[self.grip_index] = GRIPPER_OPEN_M
            elif "closed_at_s" not in self.events and self._index(phase) > self._index(self.stages["grasp"]):
                self.events["closed_at_s"] = round(ex.env.time, 4)
        elif mode == "drop":
            carry = self._index(self.stages["carry"])
            if not self._dropped and (phase == self.stages["carry"] and phase_time >= p["after_s"]
                                      or self._index(phase) > carry):
                self._dropped = True
                self.events["dropped_at_s"] = round(ex.env.time, 4)
            if self._dropped:
                action[self.grip_index] = GRIPPER_OPEN_M
        if self._filter is not None:
            action = piper.clip_dual(self._filter.filter(action, ex.env.decision_dt).command)
        return action

    def _index(self, name: str) -> int:
        names = [ph.name for ph in self.expert.phases]
        return len(names) if name == "done" else names.index(name)


def servo_targets(expert, command: np.ndarray) -> np.ndarray:
    """The targets the servos get for `command`: the command, pushed by the expert's disturbance if
    it has one (a `DegradedExpert`; the plain `ScriptedExpert` has none)."""
    push = getattr(expert, "disturbance", None)
    return command if push is None else piper.clip_dual(command + push)

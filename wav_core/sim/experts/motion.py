"""Waypoint machinery shared by the scripted experts.

Each tick an arm's commanded tool pose moves a bounded step towards its goal, and the joints come
from IK seeded with the measured state. Goals are recomputed from the live object poses and phases
end on the measured tool pose, so injected action noise is corrected rather than accumulated.

Every command passes through the control loop's own SafetyFilter, with limits a margin inside the
runtime's: a demonstration the loop would slow down (the filter bounds joint and gripper speed and
acceleration) teaches a policy motions the loop cannot execute, and its grasps arrive late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import mujoco
import numpy as np

from wav_core.robot import piper
from wav_core.runtime.config import SafetyConfig
from wav_core.runtime.safety import GRIPPERS, SafetyFilter

from ..env import SimEnv
from ..ik import ArmIK

ARMS = ("left", "right")
GRIPPER_OPEN_M = piper.GRIPPER_MAX_M
GRIPPER_CLOSED_M = 0.0

Pose = tuple[np.ndarray, np.ndarray]
"""(position m, 3x3 rotation) of the tool point in the world."""

LIMIT_MARGIN = 0.8
"""The expert's speed and acceleration limits as a share of the runtime's, so that the executor's
interpolation and cross-fade never push a replayed demonstration into the filter's limits."""


def expert_limits() -> SafetyConfig:
    """The limits the expert moves within: the runtime defaults' times LIMIT_MARGIN."""
    cfg = SafetyConfig()
    return SafetyConfig(lower=list(cfg.lower), upper=list(cfg.upper),
                        max_joint_velocity=cfg.max_joint_velocity * LIMIT_MARGIN,
                        max_joint_acceleration=cfg.max_joint_acceleration * LIMIT_MARGIN,
                        max_gripper_velocity=cfg.max_gripper_velocity * LIMIT_MARGIN)


def _rotation_step(cur: np.ndarray, goal: np.ndarray, max_angle: float) -> tuple[np.ndarray, float]:
    """Rotate `cur` towards `goal` by at most `max_angle`; returns the new rotation and the remaining angle."""
    qc, qg = np.zeros(4), np.zeros(4)
    mujoco.mju_mat2Quat(qc, cur.flatten())
    mujoco.mju_mat2Quat(qg, goal.flatten())
    vel = np.zeros(3)
    mujoco.mju_subQuat(vel, qg, qc)
    angle = float(np.linalg.norm(vel))
    if angle <= max_angle:
        return goal.copy(), angle
    mujoco.mju_quatIntegrate(qc, vel, max_angle / angle)
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, qc)
    return out.reshape(3, 3), angle


@dataclass
class Phase:
    """One step of a script: pose goals (callables of the env, evaluated every tick) and gripper commands."""

    name: str
    goals: dict[str, Callable[[SimEnv], Pose]] = field(default_factory=dict)
    grippers: dict[str, float] = field(default_factory=dict)
    speed: float = 0.25
    """Tool speed, m/s."""
    tol: float = 0.01
    wait_s: float = 0.0
    """Extra time after the goals are reached (grippers closing, objects settling)."""
    timeout_s: float = 6.0
    joints: dict[str, np.ndarray] = field(default_factory=dict)
    """Joint-space goals (6 angles) for arms that should go to a fixed posture, e.g. HOME."""
    latch: bool = False
    """Evaluate the goals once when the phase starts (lifting a held object: the goal must not follow it)."""


class ScriptedExpert:
    """Runs a list of phases; `act(obs)` returns the next 14-D target.

    It reads the true simulator state (object poses, tool pose) rather than `obs`: it is the
    privileged teacher that produces demonstrations.
    """

    def __init__(self, env: SimEnv, phases: list[Phase], noise: float = 0.0, seed: int = 0,
                 turn_rate: float = 1.5):
        self.env = env
        self.phases = phases
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)
        self.turn_rate = turn_rate
        self.ik = {a: ArmIK(env.model, a) for a in ARMS}
        self.index = 0
        self.timeouts: list[str] = []
        """Phases that ended on their timeout rather than on reaching their goal (diagnostics)."""
        self.phase_time = 0.0
        self.settled_time = 0.0
        self.cmd_pose: dict[str, Pose] = {}
        self.q_cmd = {a: env.joint_state()[7 * k:7 * k + 6].copy() for k, a in enumerate(ARMS)}
        self.grip = {a: float(env.joint_state()[7 * k + 6]) for k, a in enumerate(ARMS)}
        self.filter = SafetyFilter(expert_limits())
        self.filter.reset(np.clip(env.joint_state(), self.filter.lower, self.filter.upper))
        self._start_phase()

    @property
    def done(self) -> bool:
        return self.index >= len(self.phases)

    @property
    def phase_name(self) -> str:
        return "done" if self.done else self.phases[self.index].name

    def tool_pose(self, arm: str) -> Pose:
        site = self.env.data.site(f"{arm}_tcp")
        return site.xpos.copy(), site.xmat.reshape(3, 3).copy()

    def _start_phase(self) -> None:
        self.phase_time = 0.0
        self.settled_time = 0.0
        self.cmd_pose = {a: self.tool_pose(a) for a in ARMS}
        self.latched: dict[str, Pose] = {}
        if not self.done and self.phases[self.index].latch:
            self.latched = {arm: fn(self.env) for arm, fn in self.phases[self.index].goals.items()}

    def act(self, obs: dict | None = None) -> np.ndarray:
        dt = self.env.decision_dt
        reached = True
        if not self.done:
            ph = self.phases[self.index]
            for arm, grip in ph.grippers.items():
                self.grip[arm] = grip
            for arm, goal_fn in ph.goals.items():
                goal = self.latched[arm] if ph.latch else goal_fn(self.env)
                reached &= self._track(arm, goal, ph, dt)
            sent = self.filter.last[GRIPPERS]
            reached &= all(abs(sent[ARMS.index(arm)] - self.grip[arm]) < 1e-4 for arm in ph.grippers)
            for arm, q_goal in ph.joints.items():
                step = np.clip(q_goal - self.q_cmd[arm], -1.0 * dt, 1.0 * dt)
                self.q_cmd[arm] = self.q_cmd[arm] + step
                measured = self.env.joint_state()[7 * ARMS.index(arm):7 * ARMS.index(arm) + 6]
                reached &= bool(np.max(np.abs(measured - q_goal)) < 0.05)
            self.phase_time += dt
            if reached:
                self.settled_time += dt
            if (reached and self.settled_time >= ph.wait_s) or self.phase_time > ph.timeout_s:
                if not reached:
                    self.timeouts.append(ph.name)
                self.index += 1
                self._start_phase()
        action = np.concatenate([self.q_cmd["left"], [self.grip["left"]], self.q_cmd["right"], [self.grip["right"]]])
        if self.noise > 0:
            action = action + self.rng.normal(0.0, self.noise, 14) * np.r_[np.ones(6), 0.1, np.ones(6), 0.1]
        return piper.clip_dual(self.filter.filter(piper.clip_dual(action), dt).command)

    def _track(self, arm: str, goal: Pose, ph: Phase, dt: float) -> bool:
        pos, rot = self.cmd_pose[arm]
        delta = goal[0] - pos
        dist = float(np.linalg.norm(delta))
        step = ph.speed * dt
        pos = goal[0].copy() if dist <= step else pos + delta * (step / dist)
        rot, _ = _rotation_step(rot, goal[1], self.turn_rate * dt)
        self.cmd_pose[arm] = (pos, rot)
        res = self.ik[arm].solve(self.env.data.qpos, pos, rot, seed=self.q_cmd[arm])
        # The firmware's speed ceiling: an IK branch change never becomes a jump in the commands.
        limit = piper.MAX_JOINT_SPEED * dt
        self.q_cmd[arm] = self.q_cmd[arm] + np.clip(res.q - self.q_cmd[arm], -limit, limit)
        measured = self.tool_pose(arm)[0]
        return bool(dist <= step and np.linalg.norm(measured - goal[0]) < ph.tol)

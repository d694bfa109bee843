"""Can the control loop execute these demonstrations as recorded?

The runtime's SafetyFilter bounds joint speed, joint acceleration and gripper speed. A demonstration
that moves faster is slowed when a policy imitates it: the arm lags the recording, and a grasp timed
on the recording's clock closes beside the object (README, run 17: replayed through the loop, such
recordings failed in half the episodes). The import measures every episode's commands against the
limits of the config it is given and says which episodes exceed them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime.config import SafetyConfig
from ..runtime.safety import GRIPPERS, JOINTS
_TOL = 1e-6


@dataclass
class LimitExcess:
    """One episode's commands against the limits: how many tick-to-tick steps exceed each, and the
    largest value reached (rad/s, rad/s^2, m/s)."""

    steps: int
    over_speed: int
    over_acceleration: int
    over_gripper: int
    max_speed: float
    max_acceleration: float
    max_gripper: float

    @property
    def exceeds(self) -> bool:
        return bool(self.over_speed or self.over_acceleration or self.over_gripper)


def limit_excess(actions: np.ndarray, tick_hz: float, safety: SafetyConfig) -> LimitExcess:
    """`actions` [T, 14] absolute commands at `tick_hz`."""
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 14:
        raise ValueError(f"actions: got shape {a.shape}, expected [ticks, 14]")
    v = np.diff(a, axis=0) * tick_hz
    speed = np.abs(v[:, JOINTS]).max(axis=1) if len(v) else np.zeros(0)
    grip = np.abs(v[:, GRIPPERS]).max(axis=1) if len(v) else np.zeros(0)
    acc = np.abs(np.diff(v[:, JOINTS], axis=0)).max(axis=1) * tick_hz if len(v) > 1 else np.zeros(0)
    return LimitExcess(
        steps=len(v),
        over_speed=int(np.sum(speed > safety.max_joint_velocity * (1 + _TOL))),
        over_acceleration=int(np.sum(acc > safety.max_joint_acceleration * (1 + _TOL))),
        over_gripper=int(np.sum(grip > safety.max_gripper_velocity * (1 + _TOL))),
        max_speed=float(speed.max(initial=0.0)), max_acceleration=float(acc.max(initial=0.0)),
        max_gripper=float(grip.max(initial=0.0)))


def describe_excess(episodes: list[LimitExcess], safety: SafetyConfig) -> list[str]:
    """Summary lines for the episodes that exceed the limits (none when all are within them)."""
    over = [e for e in episodes if e.exceeds]
    if not over:
        return []
    steps = sum(e.steps for e in over) or 1

    def line(key: str, count: str, peak: str, unit: str) -> str:
        n = sum(getattr(e, count) for e in over)
        worst = max(getattr(e, peak) for e in over)
        return (f"    policy.safety.{key} {getattr(safety, key):g} {unit}: exceeded at {100 * n / steps:.1f} % of their "
                f"steps, up to {worst:.3g} {unit}")

    return [f"  {len(over)} of {len(episodes)} episodes command faster than the control loop's safety limits allow; "
            "the loop slows these motions, so a policy imitating them lags the recording (record slower, or set "
            "the limits the robot may use in policy.safety):",
            line("max_joint_velocity", "over_speed", "max_speed", "rad/s"),
            line("max_joint_acceleration", "over_acceleration", "max_acceleration", "rad/s^2"),
            line("max_gripper_velocity", "over_gripper", "max_gripper", "m/s")]

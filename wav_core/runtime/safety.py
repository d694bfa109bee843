"""The one place commands are checked against limits before they reach an arm.

Every command passes through `SafetyFilter.filter`: non-finite targets are rejected (hold), positions
are clipped into the joint and gripper ranges, and the step from the previous command is bounded by
the velocity and acceleration limits. The watchdog turns stale inputs or a missing plan into a hold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .config import SafetyConfig

GRIPPERS = np.array([6, 13])


@dataclass
class Filtered:
    command: np.ndarray
    events: list[str]


class SafetyFilter:
    def __init__(self, cfg: SafetyConfig):
        cfg.validate()
        self.cfg = cfg
        self.lower = np.asarray(cfg.lower, dtype=np.float64)
        self.upper = np.asarray(cfg.upper, dtype=np.float64)
        self.vmax = np.full(14, cfg.max_joint_velocity)
        self.vmax[GRIPPERS] = cfg.max_gripper_velocity
        self.amax = np.full(14, cfg.max_joint_acceleration)
        self.amax[GRIPPERS] = cfg.max_gripper_velocity * 20
        self.last: np.ndarray | None = None
        self.velocity = np.zeros(14)
        self.events: Counter[str] = Counter()

    def reset(self, position: np.ndarray) -> None:
        """Start from a measured position at rest (on enable)."""
        position = np.asarray(position, dtype=np.float64)
        if position.shape != (14,) or not np.all(np.isfinite(position)):
            raise ValueError(f"position: got {position}, expected 14 finite values")
        self.last = np.clip(position, self.lower, self.upper)
        self.velocity = np.zeros(14)

    def hold(self, reason: str) -> Filtered:
        """Stay at the last safe command."""
        self.events[reason] += 1
        self.velocity = np.zeros(14)
        return Filtered(self.last.copy(), [reason])

    def filter(self, target: np.ndarray, dt: float) -> Filtered:
        if self.last is None:
            raise RuntimeError("safety filter has no reference position; call reset() with the measured state")
        target = np.asarray(target, dtype=np.float64)
        if target.shape != (14,) or not np.all(np.isfinite(target)):
            return self.hold("nonfinite_target")
        events = []
        q = np.clip(target, self.lower, self.upper)
        if np.any(q != target):
            events.append("clipped_position")
        v = (q - self.last) / dt
        v_lim = np.clip(v, self.velocity - self.amax * dt, self.velocity + self.amax * dt)
        v_lim = np.clip(v_lim, -self.vmax, self.vmax)
        if np.any(np.abs(v_lim - v) > 1e-12):
            events.append("limited_rate")
        self.velocity = v_lim
        self.last = np.clip(self.last + v_lim * dt, self.lower, self.upper)
        for e in events:
            self.events[e] += 1
        return Filtered(self.last.copy(), events)


class Watchdog:
    """Input freshness: a stale camera or joint feed, or no plan to execute, means hold."""

    def __init__(self, cfg: SafetyConfig):
        self.cfg = cfg

    def check(self, now: float, camera_stamps: dict[str, float | None], joint_stamp: float | None) -> str | None:
        if joint_stamp is None or now - joint_stamp > self.cfg.joint_timeout_s:
            return "joint_feedback_stale"
        for name, stamp in camera_stamps.items():
            if stamp is None or now - stamp > self.cfg.camera_timeout_s:
                return f"camera_stale:{name}"
        return None

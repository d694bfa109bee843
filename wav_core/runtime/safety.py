"""The one place commands are checked against limits before they reach an arm.

Every command passes through `SafetyFilter.filter`: non-finite targets are rejected (hold), positions
are clipped into the joint and gripper ranges, and the step from the previous command is bounded by
the velocity and acceleration limits. When the output falls behind a target (a chunk's set-points
turn faster than the acceleration limit allows), it closes the gap at a speed from which that limit
can still brake, on top of the target's own velocity: a plain rate limit would head for the target
at full step, overshoot it and ring around the path by tenths of a radian. A hold brakes at the acceleration limit to a standstill rather
than jumping to zero velocity. The filter is anchored on a measured pose (`reset`), which must lie
inside the limits: a pose outside is refused, never silently clipped. The watchdog turns stale
inputs or a missing plan into a hold; the tracking monitor latches when the arm does not follow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .config import SafetyConfig

GRIPPERS = np.array([6, 13])
JOINTS = np.array([i for i in range(14) if i not in GRIPPERS])
"""The twelve revolute joints in the 14-D order."""


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
        self.target: np.ndarray | None = None
        """The previous (clipped) target, for the target's own velocity; None after a reset or hold."""
        self.events: Counter[str] = Counter()

    def outside_limits(self, position: np.ndarray, names: list[str] | None = None) -> str | None:
        """Why `position` cannot be an anchor (non-finite, or beyond the limits + tolerance), else None."""
        position = np.asarray(position, dtype=np.float64)
        if position.shape != (14,) or not np.all(np.isfinite(position)):
            return f"measured pose {position.tolist()} is not 14 finite values"
        tol = self.cfg.measured_limit_tolerance
        bad = np.flatnonzero((position < self.lower - tol) | (position > self.upper + tol))
        if not bad.size:
            return None
        label = (lambda i: names[i]) if names else (lambda i: f"[{i}]")
        return "measured pose outside the limits: " + ", ".join(
            f"{label(i)} {position[i]:.4f} not in [{self.lower[i]:.4f}, {self.upper[i]:.4f}]" for i in bad)

    def reset(self, position: np.ndarray) -> None:
        """Anchor on a measured pose, at rest (enable, or feedback resuming after a gap).

        Raises ValueError when the pose is not a valid anchor (see `outside_limits`)."""
        why = self.outside_limits(position)
        if why:
            raise ValueError(why)
        position = np.asarray(position, dtype=np.float64)
        self.last = np.clip(position, self.lower, self.upper)
        if np.any(self.last != position):
            self.events["anchor_clipped"] += 1
        self.velocity = np.zeros(14)
        self.target = None

    def _stoppable(self, distance: np.ndarray, dt: float) -> np.ndarray:
        """The fastest velocity this step from which braking by `amax * dt` per step still stops
        within `distance` of a limit, so joints slow down before a limit instead of stopping dead.

        With v = (n + f) * amax * dt the step and the braking steps after it cover
        dt * ((n + 1) v - amax dt n (n + 1) / 2); solved for v in the bucket of n."""
        a = self.amax * dt
        d = np.maximum(distance, 0.0)
        n0 = np.floor((np.sqrt(2 * self.amax * d) / a))
        best = np.zeros_like(d)
        for n in (n0 - 1, n0, n0 + 1):
            n = np.maximum(n, 0.0)
            v = np.minimum(d / ((n + 1) * dt) + a * n / 2, (n + 1) * a)
            best = np.where(v >= n * a - 1e-12, np.maximum(best, v), best)
        return best

    def hold(self, reason: str, dt: float) -> Filtered:
        """Stop where the motion allows: decelerate at the acceleration limit to zero velocity."""
        self.events[reason] += 1
        if self.last is None:
            raise RuntimeError("safety filter has no reference position; call reset() with the measured state")
        self.target = None
        step = self.amax * dt
        self.velocity = np.sign(self.velocity) * np.maximum(np.abs(self.velocity) - step, 0.0)
        moved = self.last + self.velocity * dt
        self.last = np.clip(moved, self.lower, self.upper)
        self.velocity[self.last != moved] = 0.0
        return Filtered(self.last.copy(), [reason])

    def filter(self, target: np.ndarray, dt: float) -> Filtered:
        if self.last is None:
            raise RuntimeError("safety filter has no reference position; call reset() with the measured state")
        target = np.asarray(target, dtype=np.float64)
        if target.shape != (14,) or not np.all(np.isfinite(target)):
            return self.hold("nonfinite_target", dt)
        events = []
        q = np.clip(target, self.lower, self.upper)
        if np.any(q != target):
            events.append("clipped_position")
        moving = np.zeros(14) if self.target is None else np.clip((q - self.target) / dt, -self.vmax, self.vmax)
        self.target = q
        behind = q - moving * dt - self.last
        v = moving + np.sign(behind) * np.minimum(np.abs(behind) / dt, np.sqrt(2 * self.amax * np.abs(behind)))
        exact = (q - self.last) / dt
        v = np.where(np.abs(v - exact) <= 1e-9, exact, v)
        v_lim = np.clip(v, self.velocity - self.amax * dt, self.velocity + self.amax * dt)
        v_lim = np.clip(v_lim, -self.vmax, self.vmax)
        v_lim = np.clip(v_lim, -self._stoppable(self.last - self.lower, dt), self._stoppable(self.upper - self.last, dt))
        if np.any(np.abs(v_lim - v) > 1e-12):
            events.append("limited_rate")
        moved = self.last + v_lim * dt
        self.last = np.clip(moved, self.lower, self.upper)
        v_lim[self.last != moved] = 0.0
        self.velocity = v_lim
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


class TrackingMonitor:
    """Path tolerance: a revolute joint measured farther than `tracking_tolerance` from its command
    for longer than `tracking_time_s` means the arm is blocked or not following; report it."""

    def __init__(self, cfg: SafetyConfig, names: list[str] | None = None):
        self.cfg = cfg
        self.names = names
        self.joints = JOINTS
        self.since: float | None = None

    def reset(self) -> None:
        self.since = None

    def check(self, now: float, commanded: np.ndarray, measured: np.ndarray) -> str | None:
        err = np.abs(np.asarray(measured, dtype=np.float64) - commanded)[self.joints]
        if not np.any(err > self.cfg.tracking_tolerance):
            self.since = None
            return None
        if self.since is None:
            self.since = now
        if now - self.since <= self.cfg.tracking_time_s:
            return None
        i = self.joints[int(np.argmax(err))]
        name = self.names[i] if self.names else f"[{i}]"
        return (f"tracking_error: {name} is {float(err.max()):.3f} rad from its command for more than "
                f"{self.cfg.tracking_time_s} s (tolerance {self.cfg.tracking_tolerance} rad)")

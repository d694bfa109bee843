"""Chunk execution: turns action chunks at the decision rate into a smooth stream of set-points.

A chunk is anchored at the time of the observation it was planned from (step h belongs to
anchor + h / tick_hz); it is interpolated linearly between steps, and its last step is held for its
tick, so a chunk of H steps lasts H ticks. A chunk that arrives late simply starts at the step that is due. A new chunk is cross-faded in over `blend_s`, so the fade never jumps.
Once the old chunk has reached its last step (always so in sync mode, where the world waits for the
plan) it is carried on with the new chunk's motion rather than held still: the fade then removes
only the offset between the two, instead of dragging the arm back towards where the old chunk
stopped, which made every chunk start late and then race (twice its speed at the end of the fade)
into the safety filter's limits.

When the next plan is requested is the replan rule (`plan_due`), shared by the node, evaluation and
replay. "async" (the robot): the next plan is requested while the current chunk still has more than
p90 plan latency + `replan_margin_s` left to run, so it arrives before the old one runs out and the
arm never stops at a chunk boundary. "sync" (the paper): plan once the chunk (or `replan_after`
steps of it) has been executed; the caller pauses the world while planning.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .config import ExecutorConfig

_EPS = 1e-6
"""Seconds: clock values that differ by less are the same instant (sums of 1/rate steps drift)."""


@dataclass
class _Active:
    actions: np.ndarray
    anchor: float

    def end(self, dt: float) -> float:
        return self.anchor + len(self.actions) * dt

    def last_step(self, dt: float) -> float:
        """When the chunk reaches its last step (held from then on)."""
        return self.anchor + (len(self.actions) - 1) * dt

    def at(self, now: float, dt: float, hold_last: bool = False) -> np.ndarray | None:
        u = (now - self.anchor) / dt
        last = len(self.actions) - 1
        if u >= len(self.actions) - _EPS / dt and not hold_last:
            return None
        u = min(max(u, 0.0), float(last))
        i = int(np.floor(u))
        if i >= last:
            return self.actions[last].copy()
        w = u - i
        return (1 - w) * self.actions[i] + w * self.actions[i + 1]


class ChunkExecutor:
    def __init__(self, cfg: ExecutorConfig, tick_hz: float, horizon: int):
        cfg.validate()
        self.cfg = cfg
        self.dt = 1.0 / tick_hz
        self.horizon = horizon
        self.replan_after = cfg.replan_after if 0 < cfg.replan_after <= horizon else horizon
        self.current: _Active | None = None
        self.previous: _Active | None = None
        self.blend_start = -np.inf
        self.latencies: deque[float] = deque(maxlen=cfg.latency_window)
        self.chunks = 0

    def reset(self) -> None:
        """Forget the chunks (not the latency statistics: the planner is the same)."""
        self.current = self.previous = None
        self.blend_start = -np.inf

    @property
    def latency_p90_s(self) -> float:
        return float(np.percentile(self.latencies, 90)) if self.latencies else 0.0

    @property
    def threshold_s(self) -> float:
        """Remaining chunk time below which the next plan is requested (async mode)."""
        return self.latency_p90_s + self.cfg.replan_margin_s

    def set_chunk(self, actions: np.ndarray, anchor: float, now: float, latency_s: float) -> None:
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[1] != 14 or len(actions) < 1:
            raise ValueError(f"actions: got shape {actions.shape}, expected [H, 14]")
        self.latencies.append(float(latency_s))
        if self.current is not None:
            self.previous = self.current
            self.blend_start = now
        self.current = _Active(actions, anchor)
        self.chunks += 1

    def remaining_s(self, now: float) -> float:
        """Chunk time left after `now` (negative: the chunk ran out that long ago)."""
        return -np.inf if self.current is None else self.current.end(self.dt) - now

    def target(self, now: float) -> np.ndarray | None:
        """The set-point due at `now`, or None when there is nothing left to execute.

        In sync mode the last step of a finished chunk stays the target (the world waits for the plan).
        """
        if self.current is None:
            return None
        new = self.current.at(now, self.dt, hold_last=self.cfg.mode == "sync")
        if self.previous is not None and self.cfg.blend_s > 0:
            w = (now - self.blend_start) / self.cfg.blend_s
            if w < 1.0 and new is not None:
                old = self.previous.at(now, self.dt, hold_last=True)
                stopped = max(self.previous.last_step(self.dt), self.blend_start)
                if now > stopped:
                    old = old + new - self.current.at(stopped, self.dt, hold_last=True)
                return (1 - w) * old + w * new
            self.previous = None
        return new

    def plan_due(self, now: float) -> bool:
        """The replan rule (see the module docstring)."""
        if self.current is None:
            return True
        if self.cfg.mode == "sync":
            return now >= self.current.anchor + self.replan_after * self.dt - _EPS
        early = self.current.anchor + self.replan_after * self.dt - self.latency_p90_s
        return now >= early - _EPS or self.remaining_s(now) < self.threshold_s

"""Chunk execution: turns action chunks at the decision rate into a smooth stream of set-points.

A chunk is anchored at the time of the observation it was planned from (step h belongs to
anchor + h / tick_hz); it is interpolated linearly between steps, so a chunk that arrives late simply
starts at the step that is due. A new chunk is cross-faded in over `blend_s`, which removes the jumps
at chunk boundaries that streaming set-points otherwise produce. The next plan is requested early
enough (by the measured plan latency) to arrive when `replan_after` steps have executed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ExecutorConfig


@dataclass
class _Active:
    actions: np.ndarray
    anchor: float

    def at(self, now: float, dt: float) -> np.ndarray | None:
        u = (now - self.anchor) / dt
        last = len(self.actions) - 1
        if u > last:
            return None
        u = max(u, 0.0)
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
        self.latency_s = 0.0
        self.chunks = 0

    def reset(self) -> None:
        self.current = self.previous = None
        self.blend_start = -np.inf

    def set_chunk(self, actions: np.ndarray, anchor: float, now: float, latency_s: float) -> None:
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[1] != 14:
            raise ValueError(f"actions: got shape {actions.shape}, expected [H, 14]")
        self.latency_s = latency_s if self.chunks == 0 else 0.7 * self.latency_s + 0.3 * latency_s
        if self.current is not None:
            self.previous = self.current
            self.blend_start = now
        self.current = _Active(actions, anchor)
        self.chunks += 1

    def target(self, now: float) -> np.ndarray | None:
        """The set-point due at `now`, or None when there is nothing left to execute."""
        if self.current is None:
            return None
        new = self.current.at(now, self.dt)
        if self.previous is not None and self.cfg.blend_s > 0:
            w = (now - self.blend_start) / self.cfg.blend_s
            if w < 1.0:
                old = self.previous.at(now, self.dt)
                if old is not None and new is not None:
                    return (1 - w) * old + w * new
            else:
                self.previous = None
        return new

    def plan_due(self, now: float) -> bool:
        """True when a plan started now would arrive as `replan_after` steps have executed."""
        if self.current is None:
            return True
        due = self.current.anchor + self.replan_after * self.dt - self.latency_s
        return now >= due

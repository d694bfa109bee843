"""Observation -> preprocessing -> planner: the one path from robot data to an action chunk.

Closed-loop evaluation, offline replay and the live node all feed ticks into a PolicyRuntime and ask
it for plans; none of them touches the model directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..planning.policy import PlanResult, WAVPolicy
from .history import FrameHistory


@dataclass
class Chunk:
    """A planned action chunk, anchored at the tick whose observation produced it."""

    actions: np.ndarray  # [H, 14] robot units
    tick: int
    plan: PlanResult
    latency_ms: float


class PolicyRuntime:
    def __init__(self, policy: WAVPolicy, instruction: str | None = None):
        self.policy = policy
        self.instruction = policy.card.instruction if instruction is None else instruction
        self.history = FrameHistory(policy.cfg)
        self.state: np.ndarray | None = None
        self.tick = -1

    def reset(self) -> None:
        self.history.reset()
        self.state, self.tick = None, -1

    def observe(self, images: dict[str, np.ndarray], state: np.ndarray) -> None:
        """Record one tick (called at the tick rate the model was trained at)."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.policy.cfg.state_dim,) or not np.all(np.isfinite(state)):
            raise ValueError(f"state: got {state.shape} {state if state.size <= 14 else ''}, "
                             f"expected {self.policy.cfg.state_dim} finite joint values")
        self.history.push(images)
        self.state = state
        self.tick += 1

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Copies of what a plan needs, so a planning thread can release the observation lock."""
        if self.state is None:
            raise ValueError("plan: no observation yet; call observe() first")
        return self.history.stack(), self.state.copy(), self.tick

    def plan_snapshot(self, snap: tuple[np.ndarray, np.ndarray, int], seed: int | None = None,
                      warm: bool = False) -> Chunk:
        images, state, tick = snap
        t = time.perf_counter()
        res = self.policy.plan(images, state, self.instruction, seed=seed, warm=warm)
        return Chunk(res.actions, tick, res, (time.perf_counter() - t) * 1000)

    def plan(self, seed: int | None = None, warm: bool = False) -> Chunk:
        return self.plan_snapshot(self.snapshot(), seed, warm)

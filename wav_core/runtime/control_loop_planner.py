"""The two ways a ControlLoop's plans get made, under the same request / plan / deliver rules.

`PlanThread`: next to a live executor (the node); the plan arrives whenever the planner finishes.
`InlinePlanner`: in a world the caller steps (simulator, bag). In "async" mode a plan that took L
seconds of wall time (or a fixed `latency_s`) arrives L seconds later on the caller's clock, so the
executor keeps running the old chunk meanwhile, as on the robot; in "sync" mode it arrives at once
(the world waits for the planner, the paper's plan-then-execute).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .control_loop import ControlLoop, PlanRequest
from .policy_runtime import Chunk


class PlanThread(threading.Thread):
    def __init__(self, loop: ControlLoop, clock: Callable[[], float], on_plan: Callable[[dict, Chunk], None],
                 on_error: Callable[[str], None] | None = None, idle_s: float = 0.002, retry_s: float = 0.1):
        """`clock`: the loop's time now; `on_plan(info, chunk)` after each delivered plan (publish it);
        `on_error(text)` after a failed one (the executor holds meanwhile)."""
        super().__init__(name="wav_planner", daemon=True)
        self.loop, self.clock, self.on_plan, self.on_error = loop, clock, on_plan, on_error
        self.idle_s, self.retry_s = idle_s, retry_s
        self.stop_event = threading.Event()
        self.paused = threading.Event()
        """Set to keep the planner idle (benchmarks compare executor timing with and without it)."""

    def run(self) -> None:
        while not self.stop_event.is_set():
            if self.paused.is_set():
                self.stop_event.wait(0.01)
                continue
            req = self.loop.request_plan(self.clock())
            if req is None:
                self.stop_event.wait(self.idle_s)
                continue
            try:
                chunk = self.loop.plan(req)
            except Exception as exc:  # a failed plan (or a planner process restarting) holds, never crashes
                self.loop.plan_failed(req, exc)
                if self.on_error is not None:
                    self.on_error(self.loop.last_error)
                self.stop_event.wait(self.retry_s)
                continue
            info = self.loop.deliver(req, chunk, self.clock())
            if info is not None:
                self.on_plan(info, chunk)

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)


class InlinePlanner:
    def __init__(self, loop: ControlLoop, latency_s: float | None = None,
                 on_request: Callable[[PlanRequest], None] | None = None):
        """The mode is the loop's (`executor.mode`). latency_s: the plan's arrival delay on the
        caller's clock in async mode (None: the measured wall time of the plan; a number makes runs
        reproducible). on_request: sees every plan request (its observation snapshot) before it is
        planned."""
        if latency_s is not None and latency_s < 0:
            raise ValueError(f"latency_s: got {latency_s}, expected >= 0 or None (measured)")
        self.loop, self.mode, self.latency_s = loop, loop.cfg.executor.mode, latency_s
        self.on_request = on_request
        self.pending: tuple[PlanRequest, Chunk, float] | None = None
        self.plans: list[tuple[dict, Chunk]] = []

    def reset(self) -> None:
        self.pending = None
        self.plans = []

    def step(self, now: float) -> list[tuple[dict, Chunk]]:
        """Deliver the plan whose time has come, then start the next one if due; returns the plans
        delivered at `now` (info, chunk)."""
        done = []
        if self.pending is not None and now >= self.pending[2] - 1e-9:
            req, chunk, _ = self.pending
            self.pending = None
            done += self._deliver(req, chunk, now)
        if self.pending is None:
            req = self.loop.request_plan(now)
            if req is not None:
                if self.on_request is not None:
                    self.on_request(req)
                t = time.perf_counter()
                chunk = self.loop.plan(req)  # errors propagate: an offline run has nobody to hold for
                wall = time.perf_counter() - t
                if self.mode == "sync":
                    done += self._deliver(req, chunk, now)
                else:
                    self.pending = (req, chunk, now + (wall if self.latency_s is None else self.latency_s))
                    if self.pending[2] <= now:
                        self.pending = None
                        done += self._deliver(req, chunk, now)
        return done

    def _deliver(self, req: PlanRequest, chunk: Chunk, now: float) -> list[tuple[dict, Chunk]]:
        info = self.loop.deliver(req, chunk, now)
        if info is None:
            return []
        self.plans.append((info, chunk))
        return [(info, chunk)]

"""The deadline rule: one more planning iteration only if it and the final decode still fit.

Costs are moving averages over plans of the measured iteration and decode times, so the first plan
runs one iteration to learn them. The eager planner and the captured plans (one graph per iteration
and one for the decode) use the same rule.
"""

from __future__ import annotations

import time


class IterationBudget:
    def __init__(self, deadline_ms: float):
        self.deadline_ms = deadline_ms
        self.iter_ms: float | None = None
        self.final_ms: float | None = None

    @property
    def active(self) -> bool:
        return self.deadline_ms > 0

    def allows(self, started: float) -> bool:
        """Whether another iteration fits, `started` being the decision's time.perf_counter()."""
        if not self.active or self.iter_ms is None:
            return True
        elapsed = (time.perf_counter() - started) * 1000
        # Until the final decode has been measured once, budget it like one more iteration.
        final_ms = self.iter_ms if self.final_ms is None else self.final_ms
        return elapsed + self.iter_ms + final_ms <= self.deadline_ms

    def iteration(self, ms: float) -> None:
        self.iter_ms = ms if self.iter_ms is None else 0.8 * self.iter_ms + 0.2 * ms

    def final(self, ms: float) -> None:
        self.final_ms = ms if self.final_ms is None else 0.8 * self.final_ms + 0.2 * ms

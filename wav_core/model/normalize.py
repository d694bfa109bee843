"""Normalisation between robot units and model space, from a dataset's statistics.

State and action: min-max to [-1, 1] (the paper's choice). Value: symlog((v - mean) / std).
Action chunks of a `delta` model (ModelConfig.action_space) are offsets from the state at the tick,
mapped to [-1, 1] by the 1 %/99 % quantiles of those offsets in the training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..robot.piper import DUAL_LOWER, DUAL_UPPER
from .flow import symexp, symlog


@dataclass
class Normalizer:
    state_min: list[float] = field(default_factory=lambda: DUAL_LOWER.tolist())
    state_max: list[float] = field(default_factory=lambda: DUAL_UPPER.tolist())
    action_min: list[float] = field(default_factory=lambda: DUAL_LOWER.tolist())
    action_max: list[float] = field(default_factory=lambda: DUAL_UPPER.tolist())
    value_mean: list[float] = field(default_factory=lambda: [0.0] * 17)
    value_std: list[float] = field(default_factory=lambda: [1.0] * 17)
    delta_min: list[float] | None = None
    delta_max: list[float] | None = None
    """Range of action-minus-state offsets over a chunk (`delta` models only)."""

    @classmethod
    def from_stats(cls, stats: dict, margin: float = 0.05, min_span: float = 0.02) -> "Normalizer":
        """From a dataset's stats.json: {state|action: {min, max}, value: {mean, std}}.

        Ranges are widened by `margin` of their span (and to at least `min_span`) so that a joint
        that barely moved in the demonstrations does not blow up small deviations at run time."""
        def widen(lo, hi):
            lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
            pad = np.maximum((hi - lo) * margin, (min_span - (hi - lo)).clip(min=0) / 2)
            return (lo - pad).tolist(), (hi + pad).tolist()

        try:
            s_lo, s_hi = widen(stats["state"]["min"], stats["state"]["max"])
            a_lo, a_hi = widen(stats["action"]["min"], stats["action"]["max"])
            return cls(state_min=s_lo, state_max=s_hi, action_min=a_lo, action_max=a_hi,
                       value_mean=list(map(float, stats["value"]["mean"])), value_std=list(map(float, stats["value"]["std"])))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"normalisation statistics: missing or malformed entry {exc}") from None

    def _t(self, values: list[float], like: torch.Tensor) -> torch.Tensor:
        """The statistics as a tensor on `like`'s device, built once per device and dtype: the planner
        normalises on every decision, and a copy from the host each time would stall a GPU."""
        cache = self.__dict__.setdefault("_tensors", {})
        key = (id(values), tuple(values), like.device, like.dtype)
        t = cache.get(key)
        if t is None:
            t = cache[key] = torch.as_tensor(np.asarray(values, dtype=np.float32), device=like.device, dtype=like.dtype)
        return t

    def _span(self, lo, hi, like):
        lo, hi = self._t(lo, like), self._t(hi, like)
        return lo, torch.clamp(hi - lo, min=1e-4)

    def state(self, x: torch.Tensor) -> torch.Tensor:
        lo, span = self._span(self.state_min, self.state_max, x)
        return 2 * (x - lo) / span - 1

    def action(self, x: torch.Tensor) -> torch.Tensor:
        lo, span = self._span(self.action_min, self.action_max, x)
        return 2 * (x - lo) / span - 1

    def action_inverse(self, x: torch.Tensor) -> torch.Tensor:
        lo, span = self._span(self.action_min, self.action_max, x)
        return (x + 1) / 2 * span + lo

    def encode_actions(self, actions: torch.Tensor, state: torch.Tensor, space: str) -> torch.Tensor:
        """Action chunks [..., H, A] in robot units -> model space, given the state [..., A] in robot
        units at the chunk's tick (read only by `delta`)."""
        if space == "absolute":
            return self.action(actions)
        lo, span = self._span(self._delta_range("min"), self._delta_range("max"), actions)
        return 2 * (actions - state[..., None, :] - lo) / span - 1

    def decode_actions(self, x: torch.Tensor, state: torch.Tensor, space: str) -> torch.Tensor:
        """The inverse of `encode_actions`. Delta chunks are kept inside the training actions' range
        (widened by the margin): offsets add up from chunk to chunk in closed loop, and a small bias
        would otherwise walk the arm out of the workspace the policy has seen, to its joint limits."""
        if space == "absolute":
            return self.action_inverse(x)
        lo, span = self._span(self._delta_range("min"), self._delta_range("max"), x)
        actions = (x + 1) / 2 * span + lo + state[..., None, :]
        return torch.maximum(torch.minimum(actions, self._t(self.action_max, x)), self._t(self.action_min, x))

    def _delta_range(self, which: str) -> list[float]:
        values = getattr(self, f"delta_{which}")
        if values is None:
            raise ValueError(f"normalization.delta_{which}: missing; a delta-action model needs the offset range "
                             "its training data had")
        return values

    def value(self, v: torch.Tensor) -> torch.Tensor:
        mean, std = self._t(self.value_mean, v), torch.clamp(self._t(self.value_std, v), min=1e-6)
        return symlog((v - mean) / std)

    def value_inverse(self, v: torch.Tensor) -> torch.Tensor:
        mean, std = self._t(self.value_mean, v), torch.clamp(self._t(self.value_std, v), min=1e-6)
        return symexp(v) * std + mean

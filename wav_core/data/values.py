"""Value targets: per-channel reward-to-go, discounted and scaled per episode.

Defaults follow the authors' related code: undiscounted (discount 1.0) sum from t to the episode
end, divided by the episode length so values are per-step averages comparable across episodes of
different length (scaling 'episode_length'); 'none' keeps raw sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..config.loader import ConfigError


@dataclass
class ValueTargetConfig:
    discount: float = 1.0
    """gamma in V_t = sum_{k>=t} gamma^(k-t) r_k."""
    scaling: Literal["episode_length", "none"] = "episode_length"
    """'episode_length': divide each channel's reward-to-go by T; 'none': raw reward-to-go."""

    def validate(self) -> None:
        if not 0.0 < self.discount <= 1.0:
            raise ConfigError(f"discount: got {self.discount}, expected 0 < discount <= 1")


def value_targets(rewards: np.ndarray, cfg: ValueTargetConfig | None = None) -> np.ndarray:
    """[T, C] rewards -> [T, C] value targets (same channels, including the total)."""
    cfg = cfg or ValueTargetConfig()
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2 or len(r) == 0:
        raise ValueError(f"value_targets: expected [T, C] rewards with T > 0, got shape {r.shape}")
    out = np.empty_like(r)
    acc = np.zeros(r.shape[1])
    for t in range(len(r) - 1, -1, -1):
        acc = r[t] + cfg.discount * acc
        out[t] = acc
    if cfg.scaling == "episode_length":
        out /= len(r)
    return out

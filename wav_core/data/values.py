"""Value targets: per-channel reward-to-go, discounted and scaled per episode.

Defaults follow the authors' related code: undiscounted (discount 1.0) sum from t to the episode
end, divided by the episode length so values are per-step averages comparable across episodes of
different length (scaling 'episode_length'); 'none' keeps raw sums.

With `horizon` H > 0 the value is the mean discounted reward over the next H ticks instead (the last
reward held past the episode end): the progress a planned future of about that length shows, which
a value reading that future can learn, where the reward-to-go to the end also carries everything
after it.

The dense rewards measure progress toward the episode's OWN final frame and pose, so a failed
episode's rewards also rise toward its failed ending, and a stalled arm looks "done". To let the
value rank a failure below a success, the total channel also carries the episode's outcome:
`outcome_weight` * discount^(T-1-t) is added at every tick t of a successful episode (nothing for a
failure). Demonstrations without a recorded outcome count as successes.
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
    outcome_weight: float = 1.0
    """Value of success on the total channel (a reward of this size at the last tick, unscaled)."""
    horizon: int = 0
    """0: reward-to-go to the episode end, scaled by `scaling`; H > 0: the mean discounted reward over
    ticks t..t+H-1 (`scaling` unused)."""

    def validate(self) -> None:
        if self.horizon < 0:
            raise ConfigError(f"horizon: got {self.horizon}, expected 0 (to the episode end) or a number of ticks > 0")
        if not 0.0 < self.discount <= 1.0:
            raise ConfigError(f"discount: got {self.discount}, expected 0 < discount <= 1")
        if self.outcome_weight < 0:
            raise ConfigError(f"outcome_weight: got {self.outcome_weight}, expected >= 0")


def value_targets(rewards: np.ndarray, cfg: ValueTargetConfig | None = None, success: bool = True) -> np.ndarray:
    """[T, C] rewards -> [T, C] value targets (same channels; the last, the total, with the outcome)."""
    cfg = cfg or ValueTargetConfig()
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2 or len(r) == 0:
        raise ValueError(f"value_targets: expected [T, C] rewards with T > 0, got shape {r.shape}")
    if cfg.horizon > 0:
        held = np.concatenate([r, np.repeat(r[-1:], cfg.horizon - 1, axis=0)])
        weights = cfg.discount ** np.arange(cfg.horizon)
        out = np.stack([weights @ held[t : t + cfg.horizon] for t in range(len(r))]) / cfg.horizon
    else:
        out = np.empty_like(r)
        acc = np.zeros(r.shape[1])
        for t in range(len(r) - 1, -1, -1):
            acc = r[t] + cfg.discount * acc
            out[t] = acc
        if cfg.scaling == "episode_length":
            out /= len(r)
    if success:
        out[:, -1] += cfg.outcome_weight * cfg.discount ** np.arange(len(r) - 1, -1, -1)
    return out

"""Normalisation statistics for state, action and value channels (stored as stats.json)."""

from __future__ import annotations

import numpy as np

STAT_KEYS: tuple[str, ...] = ("mean", "std", "min", "max", "q01", "q99")


def channel_stats(x: np.ndarray) -> dict[str, list[float]]:
    """Per-column mean/std/min/max/1%/99% quantiles of an [N, C] array."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"channel_stats: expected a non-empty [N, C] array, got shape {x.shape}")
    q01, q99 = np.quantile(x, [0.01, 0.99], axis=0)
    values = {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0), "q01": q01, "q99": q99}
    return {k: [float(v) for v in values[k]] for k in STAT_KEYS}

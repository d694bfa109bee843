"""The range of action-minus-state offsets over a chunk, which a `delta` model's normaliser needs.

It depends on the model's action horizon, so it is computed when a run is prepared rather than
stored in the dataset's stats.json. Chunks are cut as training samples cut them: past an episode's
last tick the last action repeats.
"""

from __future__ import annotations

import h5py
import numpy as np

from .dataset import Dataset


def chunk_offsets(data: Dataset, horizon: int) -> np.ndarray:
    """[ticks x horizon, A] offsets action[min(t + h, T - 1)] - state[t] over every episode."""
    if horizon < 1:
        raise ValueError(f"horizon: got {horizon}, expected >= 1")
    parts = []
    for ep in data.episodes:
        with h5py.File(ep.path, "r") as f:
            state = np.asarray(f["state"], dtype=np.float64)
            action = np.asarray(f["action"], dtype=np.float64)
        n = len(state)
        idx = np.minimum(np.arange(n)[:, None] + np.arange(horizon)[None, :], n - 1)
        parts.append((action[idx] - state[:, None, :]).reshape(-1, action.shape[1]))
    return np.concatenate(parts)


def offset_range(data: Dataset, horizon: int, margin: float = 0.05, min_span: float = 0.02
                 ) -> tuple[list[float], list[float]]:
    """Per-joint 1 %/99 % quantiles of the chunk offsets, widened like the other ranges: outliers of
    perturbed recordings (a dropped cup, a stall) would otherwise squeeze the common motions."""
    lo, hi = np.quantile(chunk_offsets(data, horizon), [0.01, 0.99], axis=0)
    pad = np.maximum((hi - lo) * margin, (min_span - (hi - lo)).clip(min=0) / 2)
    return (lo - pad).tolist(), (hi + pad).tolist()

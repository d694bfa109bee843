"""Which ticks of held-out episodes the offline checks (calibration, diagnosis, value readout) look
at: the same evenly spaced ticks for all of them, so their figures describe the same observations."""

from __future__ import annotations

import numpy as np


def episode_ticks(ds, ticks_per_episode: int, max_episodes: int | None = None) -> list[tuple[int, np.ndarray, int]]:
    """(episode index, its evenly spaced ticks from first to last, the dataset index of its tick 0)
    for each episode of a WavDataset (the first `max_episodes` if given)."""
    starts = np.cumsum([0] + [e.ticks for e in ds.data.episodes])
    return [(ep, np.unique(np.linspace(0, info.ticks - 1, min(ticks_per_episode, info.ticks)).round().astype(int)),
             int(starts[ep]))
            for ep, info in enumerate(ds.data.episodes[:max_episodes])]

"""Candidate scoring: the signal-to-noise ratio of a predicted value chunk."""

from __future__ import annotations

import torch


def snr(values: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """SNR of each candidate's total value: mean over the chunk's time steps divided by (std over the
    time steps + eps), on the LAST channel (the weighted total of the reward components).

    values [B, H, C] -> [B]. The std is torch's default sample std (correction 1); a chunk with a
    single step has std 0 by convention. High mean and a stable trajectory both raise the score.
    """
    if values.dim() != 3:
        raise ValueError(f"values: got shape {tuple(values.shape)}, expected [B, H, C]")
    total = values[..., -1]
    std = total.std(dim=1) if total.shape[1] > 1 else torch.zeros_like(total[:, 0])
    return total.mean(dim=1) / (std + eps)

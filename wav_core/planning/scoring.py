"""Candidate scoring on the total-value channel of a predicted value chunk.

The planner scores in the model's normalised value space (symlog of the standardised reward-to-go),
as the value expert predicts it: `mean` ranks futures by how much value they expect, `snr` (the
paper's score) by mean over spread. For a reward-to-go the spread over a chunk is the reward rate, so
SNR also rewards slow progress; `mean` is the default (see PlannerConfig.score)."""

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


SCORES = ("snr", "mean")


def score_values(values: torch.Tensor, kind: str = "mean", eps: float = 1e-6) -> torch.Tensor:
    """values [B, H, C] (normalised) -> [B] scores, higher is better."""
    if kind == "snr":
        return snr(values, eps)
    if kind == "mean":
        if values.dim() != 3:
            raise ValueError(f"values: got shape {tuple(values.shape)}, expected [B, H, C]")
        return values[..., -1].mean(dim=1)
    raise ValueError(f"score: got {kind!r}, expected one of {list(SCORES)}")

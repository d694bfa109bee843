"""The diagonal Gaussians over video and value noise, and their elite update."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def elite_count(elite_frac: float, population: int) -> int:
    """ceil(elite_frac * population), at least one (tolerant to float round-off such as 0.1 * 30)."""
    return max(1, min(population, math.ceil(elite_frac * population - 1e-9)))


def elite_update(mean: torch.Tensor, std: torch.Tensor, samples: torch.Tensor, scores: torch.Tensor,
                 elite_frac: float, alpha: float, sigma_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the planner's distribution update.

    Keeps the top ceil(elite_frac * B) samples by score (at least one); per element, the elite mean
    and the elite population std (divided by the elite count) are computed; the std is multiplied by
    `sigma_decay`; then new = alpha * old + (1 - alpha) * elite for both mean and std.

    mean, std: the current Gaussian (shape of one sample); samples [B, ...]; scores [B].
    """
    if samples.shape[1:] != mean.shape or std.shape != mean.shape:
        raise ValueError(f"samples: got shape {tuple(samples.shape)}, expected [B, {', '.join(map(str, mean.shape))}]")
    if scores.shape != samples.shape[:1]:
        raise ValueError(f"scores: got shape {tuple(scores.shape)}, expected [{samples.shape[0]}]")
    k = elite_count(elite_frac, samples.shape[0])
    idx = torch.topk(scores, k).indices
    elites = samples.index_select(0, idx)
    elite_mean = elites.mean(dim=0)
    elite_std = elites.std(dim=0, correction=0) * sigma_decay
    return alpha * mean + (1 - alpha) * elite_mean, alpha * std + (1 - alpha) * elite_std


@dataclass
class Gaussians:
    """The planner's state: diagonal Gaussians over one candidate's video noise and value noise."""

    video_mean: torch.Tensor
    video_std: torch.Tensor
    value_mean: torch.Tensor
    value_std: torch.Tensor

    @classmethod
    def standard(cls, model, device, dtype=torch.float32) -> "Gaussians":
        """N(0, I) over the shapes of `model` (anything with a ModelConfig as `.cfg`)."""
        vid, val = model.cfg.future_latent_shape, model.cfg.value_shape
        z = dict(device=device, dtype=dtype)
        return cls(torch.zeros(vid, **z), torch.ones(vid, **z), torch.zeros(val, **z), torch.ones(val, **z))

    def blend_toward_standard(self, keep: float) -> "Gaussians":
        """Warm start: keep * previous + (1 - keep) * N(0, I)."""
        return Gaussians(self.video_mean * keep, self.video_std * keep + (1 - keep),
                         self.value_mean * keep, self.value_std * keep + (1 - keep))

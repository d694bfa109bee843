"""The diagonal Gaussians over video and value noise, and their elite update.

Both work on one plan or on a batch of plans (a leading plan dimension), each plan with its own
Gaussians and its own elites; a batch of one computes exactly what the single plan computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch


def elite_count(elite_frac: float, population: int) -> int:
    """ceil(elite_frac * population), at least one (tolerant to float round-off such as 0.1 * 30)."""
    return max(1, min(population, math.ceil(elite_frac * population - 1e-9)))


def elite_update(mean: torch.Tensor, std: torch.Tensor, samples: torch.Tensor, scores: torch.Tensor,
                 elite_frac: float, alpha: float, sigma_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the planner's distribution update.

    Keeps the top ceil(elite_frac * P) samples by score (at least one); per element, the elite mean
    and the elite population std (divided by the elite count) are computed; the std is multiplied by
    `sigma_decay`; then new = alpha * old + (1 - alpha) * elite for both mean and std.

    One plan: mean, std the current Gaussian (shape of one sample); samples [P, ...]; scores [P].
    A batch of B plans: mean, std [B, ...]; samples [B, P, ...]; scores [B, P]; each plan's elites
    are chosen among its own P samples.
    """
    if scores.dim() == 1:
        if samples.shape[1:] != mean.shape or std.shape != mean.shape:
            raise ValueError(f"samples: got shape {tuple(samples.shape)}, expected [P, {', '.join(map(str, mean.shape))}]")
        if scores.shape != samples.shape[:1]:
            raise ValueError(f"scores: got shape {tuple(scores.shape)}, expected [{samples.shape[0]}]")
        new_mean, new_std = elite_update(mean[None], std[None], samples[None], scores[None], elite_frac, alpha,
                                         sigma_decay)
        return new_mean[0], new_std[0]
    if scores.dim() != 2:
        raise ValueError(f"scores: got shape {tuple(scores.shape)}, expected [P] (one plan) or [B, P] (a batch)")
    b, p = scores.shape
    if samples.shape[2:] != mean.shape[1:] or mean.shape[:1] != (b,) or std.shape != mean.shape:
        raise ValueError(f"samples: got shape {tuple(samples.shape)} for a mean of shape {tuple(mean.shape)}, "
                         f"expected [B, P, ...] with mean [B, ...] and B = {b}")
    if samples.shape[:2] != (b, p):
        raise ValueError(f"scores: got shape {tuple(scores.shape)}, expected [{', '.join(map(str, samples.shape[:2]))}]")
    k = elite_count(elite_frac, p)
    idx = torch.topk(scores, k, dim=1).indices
    elites = torch.take_along_dim(samples, idx.reshape(b, k, *([1] * (samples.dim() - 2))), dim=1)
    elite_mean = elites.mean(dim=1)
    elite_std = elites.std(dim=1, correction=0) * sigma_decay
    return alpha * mean + (1 - alpha) * elite_mean, alpha * std + (1 - alpha) * elite_std


@dataclass
class Gaussians:
    """The planner's state: diagonal Gaussians over one candidate's video noise and value noise (with
    a leading plan dimension when several plans are batched, see `stack`)."""

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

    @classmethod
    def stack(cls, plans: list["Gaussians"]) -> "Gaussians":
        """The Gaussians of several plans as one batch (a new leading plan dimension)."""
        return cls(*(torch.stack([getattr(g, f.name) for g in plans]) for f in fields(cls)))

    def unstack(self) -> list["Gaussians"]:
        """The inverse of `stack`: one Gaussians per plan of the batch."""
        return [Gaussians(*parts) for parts in zip(*(getattr(self, f.name).unbind(0) for f in fields(self)))]

    def blend_toward_standard(self, keep: float) -> "Gaussians":
        """Warm start: keep * previous + (1 - keep) * N(0, I)."""
        return Gaussians(self.video_mean * keep, self.video_std * keep + (1 - keep),
                         self.value_mean * keep, self.value_std * keep + (1 - keep))

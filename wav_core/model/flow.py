"""Rectified-flow conventions used by all three modules.

x_t = (1 - t) * x0 + t * noise, the network predicts the velocity noise - x0, and sampling integrates
from t = 1 (pure noise) to t = 0 with Euler steps.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return (1 - t) * x0 + t * noise


def flow_loss(pred_velocity: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred_velocity, noise - x0)


def sample_time(batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Logit-normal flow times: more weight in the middle of the path, where learning is hardest."""
    return torch.sigmoid(torch.randn(batch, generator=generator, device=device))


def euler_solve(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                steps: int, t_start: float = 1.0, t_end: float = 0.0) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t_start down to t_end in `steps` equal Euler steps."""
    dt = (t_start - t_end) / steps
    t = torch.full((x.shape[0],), t_start, device=x.device, dtype=x.dtype)
    for _ in range(steps):
        x = x - dt * velocity(x, t)
        t = t - dt
    return x


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())

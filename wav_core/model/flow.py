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


def flow_loss(pred_velocity: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """MSE to the path's velocity; with `weight` (broadcast to x0) normalised by its mean, so that a
    uniform error costs what it does unweighted."""
    if weight is None:
        return F.mse_loss(pred_velocity, noise - x0)
    weight = weight.expand_as(x0)
    return ((pred_velocity - (noise - x0)) ** 2 * weight).mean() / weight.mean()


TIME_SAMPLING = ("logit_normal", "uniform", "beta")


def sample_time(batch: int, generator: torch.Generator | None = None, device=None,
                kind: str = "logit_normal") -> torch.Tensor:
    """Training flow times. `logit_normal` puts its mass in the middle of the path (P(t > 0.9) is
    about 1.4 %, so the first solver step from t = 1 is rarely trained); `uniform` weighs every time
    alike; `beta` draws t ~ Beta(1.5, 1), density proportional to sqrt(t), favouring the noisy end
    where every solve starts. Beta(1.5, 1) is sampled as U^(1/1.5)."""
    if kind == "logit_normal":
        return torch.sigmoid(torch.randn(batch, generator=generator, device=device))
    u = torch.rand(batch, generator=generator, device=device)
    if kind == "uniform":
        return u
    if kind == "beta":
        return u.pow(1.0 / 1.5)
    raise ValueError(f"time_sampling: got {kind!r}, expected one of {list(TIME_SAMPLING)}")


def euler_times(steps: int, like: torch.Tensor, t_start: float = 1.0, t_end: float = 0.0) -> tuple[float, torch.Tensor]:
    """The Euler grid from t_start down to t_end: the step dt and the flow time [steps] at which
    each step evaluates the velocity (on like's device and dtype; made by kernels, so a CUDA-graph
    capture can hold it)."""
    dt = (t_start - t_end) / steps
    return dt, t_start - dt * torch.arange(steps, device=like.device, dtype=like.dtype)


def euler_solve(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                steps: int, t_start: float = 1.0, t_end: float = 0.0) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t_start down to t_end in `steps` equal Euler steps;
    velocity gets t as [B]."""
    dt, times = euler_times(steps, x, t_start, t_end)
    for t in times:
        x = x - dt * velocity(x, t.expand(x.shape[0]))
    return x


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())

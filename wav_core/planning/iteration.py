"""The planning iteration and the final decode, written once.

The eager planner (with its timings and deadline) and every whole-plan backend (the static-buffer
plan that CUDA graphs capture) call these two functions; only the naive reference planner differs,
in how it runs the networks, which is what makes it a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..model.wav import Context
from .config import PlannerConfig
from .gaussian import Gaussians, elite_update
from .noise import PlanNoise
from .scoring import score_values

Mark = Callable[[str], None]
"""Called after each network stage ("world", "value", "action"): the eager planner's stopwatch."""


@dataclass
class Networks:
    """What a plan asks of the networks: world features of video noises, denoised value chunks
    (normalised) of value noises against those features, and the action chunk of one future."""

    features: Callable[[Context, torch.Tensor], Any]
    values: Callable[[Any, torch.Tensor], torch.Tensor]
    actions: Callable[[Any, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

    @classmethod
    def of(cls, backend) -> "Networks":
        return cls(backend.features, backend.values, backend.actions)


def _noop(stage: str) -> None:
    pass


def iterate(nets: Networks, ctx: Context, g: Gaussians, video_noise: torch.Tensor, value_noise: torch.Tensor,
            cfg: PlannerConfig, mark: Mark = _noop) -> tuple[Gaussians, torch.Tensor]:
    """One iteration: M video candidates -> features -> M*N value chunks -> scores -> elite updates
    of both Gaussians. The video elites are ranked by each candidate's best value sample.
    Returns the updated Gaussians and the M*N scores."""
    z_vid = g.video_mean + g.video_std * video_noise
    states = nets.features(ctx, z_vid)
    mark("world")
    z_val = g.value_mean + g.value_std * value_noise
    scores = score_values(nets.values(states, z_val), cfg.score, cfg.snr_eps)
    mark("value")
    mu_u, sd_u = elite_update(g.value_mean, g.value_std, z_val, scores, cfg.value_elite_frac, cfg.alpha_smooth,
                              cfg.sigma_decay)
    video_scores = scores.view(cfg.M, cfg.N).amax(dim=1)
    mu_v, sd_v = elite_update(g.video_mean, g.video_std, z_vid, video_scores, cfg.video_elite_frac, cfg.alpha_smooth,
                              cfg.sigma_decay)
    return Gaussians(mu_v, sd_v, mu_u, sd_u), scores


def decode(nets: Networks, ctx: Context, g: Gaussians, noise: PlanNoise, state: torch.Tensor,
           reads_values: bool, mark: Mark = _noop) -> tuple[torch.Tensor, torch.Tensor]:
    """The executed chunk: one video and one value noise from the final Gaussians, their features
    and denoised value, then the action solve. `reads_values`: the action expert reads the denoised
    value chunk (`future` conditioning) instead of the value noise (`paper`).
    Returns actions [1, H, A] and values [1, H, C], both normalised."""
    z_vid = g.video_mean + g.video_std * noise.final_video
    states = nets.features(ctx, z_vid)
    mark("world")
    z_val = g.value_mean + g.value_std * noise.final_value
    values = nets.values(states, z_val)
    mark("value")
    actions = nets.actions(states, values if reads_values else z_val, state, noise.action)
    mark("action")
    return actions, values

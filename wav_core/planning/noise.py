"""All randomness of one plan, drawn up front.

Passing the noise in makes plans reproducible, lets the batched and naive planners be compared on the
same draws, and keeps the plan a fixed computation that can be captured as a CUDA graph. Plans made
together (`LatentPlanner.plan_batch`) each draw their own noise, then `stack` it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.config import ModelConfig
from .config import PlannerConfig


@dataclass
class PlanNoise:
    video: torch.Tensor  # [K, M, V, Ff, C, h, w] normal, scaled by the planner's plan_temperature (as value, final_*)
    value: torch.Tensor  # [K, M*N, H, Cv]
    final_video: torch.Tensor  # [1, V, Ff, C, h, w]
    final_value: torch.Tensor  # [1, H, Cv]
    action: torch.Tensor  # [1, H, A] normal, scaled by the planner's action_temperature

    @classmethod
    def sample(cls, model_cfg: ModelConfig, cfg: PlannerConfig, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> "PlanNoise":
        def n(*shape):
            return torch.randn(*shape, generator=generator, device=device, dtype=dtype)

        vid, val, t = model_cfg.future_latent_shape, model_cfg.value_shape, cfg.plan_temperature
        return cls(
            video=n(cfg.K, cfg.M, *vid) * t,
            value=n(cfg.K, cfg.M * cfg.N, *val) * t,
            final_video=n(1, *vid) * t,
            final_value=n(1, *val) * t,
            action=n(1, model_cfg.action_horizon, model_cfg.action_dim) * cfg.action_temperature,
        )

    @classmethod
    def stack(cls, plans: list["PlanNoise"]) -> "PlanNoise":
        """The draws of B plans as one batch: video [K, B, M, ...], value [K, B, M*N, ...] (iteration
        k of every plan is `video[k]`), and final_video, final_value, action [B, ...]."""
        if not plans:
            raise ValueError("plans: got an empty list, expected the PlanNoise of at least one plan")
        return cls(
            video=torch.stack([p.video for p in plans], 1), value=torch.stack([p.value for p in plans], 1),
            final_video=torch.cat([p.final_video for p in plans]), final_value=torch.cat([p.final_value for p in plans]),
            action=torch.cat([p.action for p in plans]),
        )

    def check(self, model_cfg: ModelConfig, cfg: PlannerConfig, batch: int | None = None) -> None:
        """Shapes of one plan's draws (batch None) or of `stack`ed draws of `batch` plans."""
        vid, val = model_cfg.future_latent_shape, model_cfg.value_shape
        per = () if batch is None else (batch,)
        b = 1 if batch is None else batch
        expected = {
            "video": (cfg.K, *per, cfg.M, *vid), "value": (cfg.K, *per, cfg.M * cfg.N, *val), "final_video": (b, *vid),
            "final_value": (b, *val), "action": (b, model_cfg.action_horizon, model_cfg.action_dim),
        }
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"noise.{name}: got shape {got}, expected {shape}")

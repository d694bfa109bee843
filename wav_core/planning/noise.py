"""All randomness of one plan, drawn up front.

Passing the noise in makes plans reproducible, lets the batched and naive planners be compared on the
same draws, and keeps the plan a fixed computation that can be captured as a CUDA graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.config import ModelConfig
from .config import PlannerConfig


@dataclass
class PlanNoise:
    video: torch.Tensor  # [K, M, V, Ff, C, h, w] standard normal
    value: torch.Tensor  # [K, M*N, H, Cv]
    final_video: torch.Tensor  # [1, V, Ff, C, h, w]
    final_value: torch.Tensor  # [1, H, Cv]
    action: torch.Tensor  # [1, H, A]

    @classmethod
    def sample(cls, model_cfg: ModelConfig, cfg: PlannerConfig, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> "PlanNoise":
        def n(*shape):
            return torch.randn(*shape, generator=generator, device=device, dtype=dtype)

        vid, val = model_cfg.future_latent_shape, model_cfg.value_shape
        return cls(
            video=n(cfg.K, cfg.M, *vid),
            value=n(cfg.K, cfg.M * cfg.N, *val),
            final_video=n(1, *vid),
            final_value=n(1, *val),
            action=n(1, model_cfg.action_horizon, model_cfg.action_dim),
        )

    def check(self, model_cfg: ModelConfig, cfg: PlannerConfig) -> None:
        vid, val = model_cfg.future_latent_shape, model_cfg.value_shape
        expected = {
            "video": (cfg.K, cfg.M, *vid), "value": (cfg.K, cfg.M * cfg.N, *val), "final_video": (1, *vid),
            "final_value": (1, *val), "action": (1, model_cfg.action_horizon, model_cfg.action_dim),
        }
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"noise.{name}: got shape {got}, expected {shape}")

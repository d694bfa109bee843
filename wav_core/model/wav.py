"""The World-Value-Action model: tokenizer, text encoder, world module, value and action experts,
with the operations the planner and the training stages compose."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .experts import KV, ActionExpert, ValueExpert
from .flow import euler_solve, euler_times
from .text import make_text_encoder
from .tokenizer import VisualTokenizer
from .world import WorldModel


@dataclass
class Context:
    """What one observation contributes to every candidate: memory latents and text features."""

    memory: torch.Tensor  # [B, V, Fh, C, h, w]
    text: torch.Tensor  # [B, Lt, Dt]
    text_mask: torch.Tensor  # [B, Lt]


class WAVModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.tokenizer = VisualTokenizer(cfg.tokenizer)
        self.text = make_text_encoder(cfg.text)
        self.world = WorldModel(cfg)
        self.value = ValueExpert(cfg)
        self.action = ActionExpert(cfg)

    def context(self, history: torch.Tensor, instructions: list[str], drop_text: torch.Tensor | None = None) -> Context:
        """history [B, V, Fh, 3, H, W] in [0, 1]; `drop_text` [B] bool replaces the prompt by the
        empty prompt (caption dropout)."""
        memory = self.tokenizer.latents(history)
        text, mask = self.text(instructions, device=history.device)
        if drop_text is not None and bool(drop_text.any()):
            keep = ~drop_text
            mask = mask.clone()
            mask[:, 1:] &= keep[:, None]
        return Context(memory, text, mask)

    def feature_time(self, feature_steps: int = 0, flow_steps: int = 10) -> float:
        """The flow time at which the planner takes world features: 1 - feature_steps / flow_steps;
        under `future` conditioning with feature_steps 0, the model's own `feature_time`."""
        if feature_steps > 0:
            return 1.0 - feature_steps / flow_steps
        return self.cfg.feature_time if self.cfg.conditioning == "future" else 1.0

    def world_features(self, ctx: Context, z_vid: torch.Tensor, feature_steps: int = 0,
                       flow_steps: int = 10) -> list[torch.Tensor]:
        """The world's per-block hidden states for a batch of candidate noises. Each candidate is
        denoised from t = 1 to `feature_time(...)` by Euler steps of about 1/flow_steps (none in
        the paper's fast feature mode, where the states are taken on the noise at t = 1)."""
        b = z_vid.shape[0]
        memory = ctx.memory.expand(b, *ctx.memory.shape[1:]) if ctx.memory.shape[0] == 1 else ctx.memory
        x, t_feat = self.imagine(Context(memory, ctx.text, ctx.text_mask), z_vid, feature_steps, flow_steps)
        return self.world_states(memory, x, t_feat, ctx)

    def imagine(self, ctx: Context, z_vid: torch.Tensor, feature_steps: int = 0,
                flow_steps: int = 10) -> tuple[torch.Tensor, float]:
        """The future each candidate noise stands for, denoised to the feature time, and that time."""
        t_feat = self.feature_time(feature_steps, flow_steps)
        x = z_vid
        if t_feat < 1.0:
            def vel(xx, tt):
                return self.world(ctx.memory, xx, tt, ctx.text, ctx.text_mask)
            steps = feature_steps if feature_steps > 0 else max(1, math.ceil((1.0 - t_feat) * flow_steps - 1e-9))
            x = euler_solve(vel, x, steps, 1.0, t_feat)
        return x, t_feat

    def world_states(self, memory: torch.Tensor, future: torch.Tensor, t: float | torch.Tensor,
                     ctx: Context) -> list[torch.Tensor]:
        """Per-block world states of a (noised) future at flow time t (a float or [B])."""
        b = future.shape[0]
        if not isinstance(t, torch.Tensor):
            t = torch.full((b,), float(t), device=future.device, dtype=future.dtype)
        _, states = self.world(memory, future, t, ctx.text, ctx.text_mask, return_states=True, return_velocity=False)
        return states

    def solve_value(self, video_kv: list[KV], z_val: torch.Tensor, steps: int) -> torch.Tensor:
        """Denoise value chunks [B*N, H, C] (normalised space) from their noises z_val."""
        return _solve_expert(self.value, z_val, steps, lambda x, mod: self.value(x, None, video_kv, mod=mod))

    def value_states(self, video_kv: list[KV], value: torch.Tensor) -> list[torch.Tensor]:
        """The value expert's per-block states that the action expert attends to. `paper`: `value`
        is the value noise, read at t = 1 (stage 3 trains on exactly that input); `future`: `value`
        is the planned value chunk, denoised (t = 0)."""
        mod = self.value.modulation(torch.full((1,), self.action_value_time, device=value.device, dtype=value.dtype))
        return self.value(self.action_value_input(value), None, video_kv, return_states=True, mod=mod)[1]

    def action_value_input(self, value: torch.Tensor) -> torch.Tensor:
        """What of a (normalised) value chunk [B, H, C] reaches the action expert (`action_value`)."""
        if self.cfg.action_value == "chunk":
            return value
        return torch.cat([torch.zeros_like(value[..., :-1]), value[..., -1:]], dim=-1)

    @property
    def action_value_time(self) -> float:
        return 0.0 if self.cfg.conditioning == "future" else 1.0

    def solve_action(self, video_kv: list[KV], value_kv: list[KV], state: torch.Tensor,
                     noise: torch.Tensor, steps: int) -> torch.Tensor:
        return _solve_expert(self.action, noise, steps,
                             lambda x, mod: self.action(x, None, state, video_kv, value_kv, mod=mod))


def _solve_expert(expert, x: torch.Tensor, steps: int, velocity) -> torch.Tensor:
    """An expert's Euler solve from t = 1 to 0 (the steps of euler_solve). Every sample of a step
    shares its flow time, so the time modulation of all steps is one batched product made before
    the solve, instead of a time embedding and three products in every call and for every row."""
    dt, times = euler_times(steps, x)
    for mod in expert.modulation(times)[:, None]:
        x = x - dt * velocity(x, mod)
    return x

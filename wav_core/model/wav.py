"""The World-Value-Action model: tokenizer, text encoder, world module, value and action experts,
with the operations the planner and the training stages compose."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .experts import KV, ActionExpert, ValueExpert
from .flow import euler_solve
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

    def world_features(self, ctx: Context, z_vid: torch.Tensor, feature_steps: int = 0,
                       flow_steps: int = 10) -> list[torch.Tensor]:
        """Fast feature mode: the world runs once on the future noise at t = 1 and its per-block
        hidden states are returned. With `feature_steps` > 0, the future is first denoised by that
        many Euler steps (of size 1/flow_steps) and the features are taken at the reached time."""
        b = z_vid.shape[0]
        memory = ctx.memory.expand(b, *ctx.memory.shape[1:]) if ctx.memory.shape[0] == 1 else ctx.memory
        t_feat = 1.0
        x = z_vid
        if feature_steps > 0:
            def vel(xx, tt):
                return self.world(memory, xx, tt, ctx.text, ctx.text_mask)
            t_feat = 1.0 - feature_steps / flow_steps
            x = euler_solve(vel, x, feature_steps, 1.0, t_feat)
        t = torch.full((b,), t_feat, device=z_vid.device, dtype=z_vid.dtype)
        _, states = self.world(memory, x, t, ctx.text, ctx.text_mask, return_states=True, return_velocity=False)
        return states

    def solve_value(self, video_kv: list[KV], z_val: torch.Tensor, steps: int) -> torch.Tensor:
        """Denoise value chunks [B*N, H, C] (normalised space) from their noises z_val."""
        return euler_solve(lambda x, t: self.value(x, t, video_kv), z_val, steps)

    def value_states(self, video_kv: list[KV], z_val: torch.Tensor) -> list[torch.Tensor]:
        """The value expert's per-block states on its noise at t = 1: the value embedding the action
        expert attends to (stage 3 trains the action expert with exactly this input)."""
        t = torch.ones(z_val.shape[0], device=z_val.device, dtype=z_val.dtype)
        return self.value(z_val, t, video_kv, return_states=True)[1]

    def solve_action(self, video_kv: list[KV], value_kv: list[KV], state: torch.Tensor,
                     noise: torch.Tensor, steps: int) -> torch.Tensor:
        return euler_solve(lambda x, t: self.action(x, t, state, video_kv, value_kv), noise, steps)

"""The four training objectives and the step function every stage calls.

Stage 0 (tokenizer): VAE reconstruction + KL. Stage 1 (world): flow matching on the future latent
chunk with caption dropout. Stage 2 (value): flow matching on symlog-normalised value chunks with the
world frozen and its features taken at t = 1 on pure noise. Stage 3 (action): flow matching on the
action chunk; the world, text and experts train together and the value expert's input is pure noise
(no value loss).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..model.flow import flow_loss, interpolate, sample_time
from ..model.normalize import Normalizer
from ..model.wav import Context, WAVModel
from .config import StageConfig


def _randn(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, device=like.device, dtype=like.dtype)


def _context(model: WAVModel, batch: dict, generator, drop_p: float = 0.0) -> Context:
    history = batch["history"]
    with torch.no_grad():
        memory = model.tokenizer.latents(history)
    text, mask = model.text(list(batch["instruction"]), device=history.device)
    if drop_p > 0:
        drop = torch.rand(history.shape[0], generator=generator, device=history.device) < drop_p
        mask = mask.clone()
        mask[:, 1:] &= ~drop[:, None]
    return Context(memory, text, mask)


def tokenizer_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, **_) -> tuple[torch.Tensor, dict]:
    frames = torch.cat([batch["history"], batch["future"]], dim=2)
    return model.tokenizer.loss(frames.flatten(0, 2), generator)


def world_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, caption_dropout: float = 0.0,
               **_) -> tuple[torch.Tensor, dict]:
    ctx = _context(model, batch, generator, caption_dropout)
    with torch.no_grad():
        x0 = model.tokenizer.latents(batch["future"])
    t = sample_time(x0.shape[0], generator, x0.device)
    noise = _randn(x0.shape, x0, generator)
    vel = model.world(ctx.memory, interpolate(x0, noise, t), t, ctx.text, ctx.text_mask)
    loss = flow_loss(vel, x0, noise)
    return loss, {"world": loss.detach()}


def _features(model: WAVModel, ctx: Context, generator) -> list[torch.Tensor]:
    b = ctx.memory.shape[0]
    z = _randn((b, *model.cfg.future_latent_shape), ctx.memory, generator)
    return model.world_features(ctx, z)


def value_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, **_) -> tuple[torch.Tensor, dict]:
    with torch.no_grad():
        states = _features(model, _context(model, batch, generator), generator)
    x0 = normalizer.value(batch["values"])
    t = sample_time(x0.shape[0], generator, x0.device)
    noise = _randn(x0.shape, x0, generator)
    vel = model.value(interpolate(x0, noise, t), t, model.value.video_kv(states))
    loss = flow_loss(vel, x0, noise)
    return loss, {"value": loss.detach()}


def action_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, **_) -> tuple[torch.Tensor, dict]:
    ctx = _context(model, batch, generator)
    states = _features(model, ctx, generator)
    b = ctx.memory.shape[0]
    z_val = _randn((b, *model.cfg.value_shape), ctx.memory, generator)
    value_states = model.value_states(model.value.video_kv(states), z_val)
    x0 = normalizer.action(batch["actions"])
    t = sample_time(b, generator, x0.device)
    noise = _randn(x0.shape, x0, generator)
    vel = model.action(interpolate(x0, noise, t), t, normalizer.state(batch["state"]),
                       model.action.video_kv(states), model.action.value_kv(value_states))
    loss = flow_loss(vel, x0, noise)
    return loss, {"action": loss.detach()}


LOSSES = {"tokenizer": tokenizer_loss, "world": world_loss, "value": value_loss, "action": action_loss}


def stage_modules(model: WAVModel, stage: str) -> list[nn.Module]:
    """What each stage trains. The tokenizer is trained only in its own stage (like the pretrained,
    frozen video VAE of the paper); stage 3 trains everything else together."""
    return {
        "tokenizer": [model.tokenizer],
        "world": [model.world, model.text],
        "value": [model.value],
        "action": [model.world, model.text, model.value, model.action],
    }[stage]


def stage_parameters(model: WAVModel, stage: str) -> list[nn.Parameter]:
    return [p for m in stage_modules(model, stage) for p in m.parameters()]


def make_optimizer(model: WAVModel, stage: str, cfg: StageConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(stage_parameters(model, stage), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: StageConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then constant."""
    warm = max(1, cfg.warmup)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warm))


class StageLoss(nn.Module):
    """The loss of one stage as a module, so torch.distributed's DDP can wrap it."""

    def __init__(self, model: WAVModel, stage: str, normalizer: Normalizer, caption_dropout: float = 0.0):
        super().__init__()
        self.model, self.stage, self.normalizer, self.caption_dropout = model, stage, normalizer, caption_dropout

    def forward(self, batch: dict[str, Any], generator: torch.Generator | None = None):
        return LOSSES[self.stage](self.model, batch, self.normalizer, generator, caption_dropout=self.caption_dropout)


def set_trainable(model: WAVModel, stage: str) -> list[nn.Parameter]:
    """Freeze everything the stage does not train; returns the stage's parameters."""
    model.requires_grad_(False)
    for m in stage_modules(model, stage):
        m.requires_grad_(True)
    return stage_parameters(model, stage)


def train_step(model: WAVModel, batch: dict[str, Any], stage: str, optimizer: torch.optim.Optimizer,
               normalizer: Normalizer, cfg: StageConfig, scheduler=None,
               generator: torch.Generator | None = None, loss_module: nn.Module | None = None,
               autocast: torch.autocast | None = None) -> dict[str, float]:
    """One optimisation step of `stage`: loss, backward, gradient clipping, optimiser and schedule.

    `loss_module` is the (possibly DDP-wrapped) StageLoss; by default one is built around `model`."""
    loss_module = loss_module or StageLoss(model, stage, normalizer, cfg.caption_dropout)
    loss_module.train()
    optimizer.zero_grad(set_to_none=True)
    if autocast is not None:
        with autocast:
            loss, metrics = loss_module(batch, generator)
    else:
        loss, metrics = loss_module(batch, generator)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{stage} loss is {loss.item()}; check the data and learning rate")
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(stage_parameters(model, stage), cfg.grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    out = {k: float(v) for k, v in metrics.items()}
    out.update(loss=float(loss.detach()), grad_norm=float(grad_norm), lr=optimizer.param_groups[0]["lr"])
    return out

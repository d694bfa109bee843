"""The four training objectives and the step function every stage calls.

Stage 0 (tokenizer): VAE reconstruction + KL. Stage 1 (world): flow matching on the future latent
chunk with caption dropout, optionally weighted towards what differs between scenes (`scene_detail`).
Stage 2 (value): flow matching on symlog-normalised value chunks with the world frozen. Stage 3
(action): flow matching on the action chunk (no value loss), plus with `keyframe_weight` the squared
error of the keyframe head; with `keyframe_goal` the expert reads the true keyframe, perturbed, or
the head's prediction (`keyframe_goal_source`).

What the experts read depends on the model's `conditioning`:
- `paper`: world features of pure noise at t = 1; in stage 3 the world, text and experts train
  together and the value expert's input is pure noise. Both experts learn to ignore the candidate
  noises, so planning cannot change the decoded action.
- `future`: world features of the sample's TRUE future noised to a feature time drawn from
  `feature_time_range`, and for the action expert the value expert's states of the true value chunk
  (clean, or noised to a random time); with `action_futures: imagined` the action expert instead
  reads a future the world imagines and the value the value expert denoises for it, as a plan gives
  them (`imagined_futures`). Stage 3 trains the action expert alone: the value expert
  scores world features, so training the world or the text encoder there would move the scorer away
  from what stage 2 fitted.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..model.flow import flow_loss, interpolate, sample_time
from ..model.normalize import Normalizer
from ..model.wav import Context, WAVModel
from .config import StageConfig
from .imagined_futures import imagine
from .scene_detail import scene_detail_weights


def _randn(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, device=like.device, dtype=like.dtype)


def _latents(model: WAVModel, batch: dict, key: str) -> torch.Tensor:
    """Tokenizer latents of a batch's history or future frames: from the latent cache when the
    trainer gathered them (`<key>_latents`), else encoded here."""
    cached = batch.get(f"{key}_latents")
    if cached is not None:
        return cached
    with torch.no_grad():
        return model.tokenizer.latents(batch[key])


def batch_context(model: WAVModel, batch: dict, generator, drop_p: float = 0.0) -> Context:
    memory = _latents(model, batch, "history")
    text, mask = model.text(list(batch["instruction"]), device=memory.device)
    if drop_p > 0:
        drop = torch.rand(memory.shape[0], generator=generator, device=memory.device) < drop_p
        mask = mask.clone()
        mask[:, 1:] &= ~drop[:, None]
    return Context(memory, text, mask)


def tokenizer_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, **_) -> tuple[torch.Tensor, dict]:
    frames = torch.cat([batch["history"], batch["future"]], dim=2)
    return model.tokenizer.loss(frames.flatten(0, 2), generator)


def world_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, caption_dropout: float = 0.0,
               **_) -> tuple[torch.Tensor, dict]:
    ctx = batch_context(model, batch, generator, caption_dropout)
    x0 = _latents(model, batch, "future")
    t = _time(model, x0, generator)
    noise = _randn(x0.shape, x0, generator)
    vel = model.world(ctx.memory, interpolate(x0, noise, t), t, ctx.text, ctx.text_mask)
    strength = model.cfg.world.detail_weight
    loss = flow_loss(vel, x0, noise, scene_detail_weights(x0, strength) if strength > 0 else None)
    return loss, {"world": loss.detach()}


def _time(model: WAVModel, like: torch.Tensor, generator) -> torch.Tensor:
    return sample_time(like.shape[0], generator, like.device, model.cfg.time_sampling)


def _uniform(batch: int, low: float, high: float, like: torch.Tensor, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(batch, generator=generator, device=like.device, dtype=like.dtype)


def _features(model: WAVModel, ctx: Context, batch: dict, generator) -> list[torch.Tensor]:
    """The world states the value and action experts are trained against (see the module text)."""
    b = ctx.memory.shape[0]
    if model.cfg.conditioning == "future":
        x0 = _latents(model, batch, "future")
        t_f = _uniform(b, *model.cfg.feature_time_range, x0, generator)
        noised = interpolate(x0, _randn(x0.shape, x0, generator), t_f)
        return model.world_states(ctx.memory, noised, t_f, ctx)
    z = _randn((b, *model.cfg.future_latent_shape), ctx.memory, generator)
    return model.world_features(ctx, z)


def value_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, **_) -> tuple[torch.Tensor, dict]:
    with torch.no_grad():
        states = _features(model, batch_context(model, batch, generator), batch, generator)
    x0 = normalizer.value(batch["values"])
    t = _time(model, x0, generator)
    noise = _randn(x0.shape, x0, generator)
    vel = model.value(interpolate(x0, noise, t), t, model.value.video_kv(states))
    loss = flow_loss(vel, x0, noise)
    return loss, {"value": loss.detach()}


def _action_value_states(model: WAVModel, states: list[torch.Tensor], batch: dict, normalizer: Normalizer,
                         generator) -> list[torch.Tensor]:
    b = states[0].shape[0]
    video_kv = model.value.video_kv(states)
    if model.cfg.conditioning == "future":
        with torch.no_grad():
            x0 = normalizer.value(batch["values"])
            t = _uniform(b, 0.0, 1.0, x0, generator)
            clean = torch.rand(b, generator=generator, device=x0.device) < model.cfg.value_clean_prob
            t = torch.where(clean, torch.zeros_like(t), t)
            noised = interpolate(x0, _randn(x0.shape, x0, generator), t)
            return model.value(model.action_value_input(noised), t, video_kv, return_states=True)[1]
    z_val = _randn((b, *model.cfg.value_shape), states[0], generator)
    return model.value_states(video_kv, z_val)


def _imagined_states(model: WAVModel, ctx: Context, batch: dict, generator) -> tuple[list, list]:
    """World states of the imagined futures and the value expert's states of their denoised value
    chunks (`action_futures: imagined`): those the trainer kept in the batch, else imagined here."""
    x, values = batch.get("imagined_future"), batch.get("imagined_value")
    if x is None or values is None:
        b = ctx.memory.shape[0]
        z_vid = _randn((b, *model.cfg.future_latent_shape), ctx.memory, generator)
        z_val = _randn((b, *model.cfg.value_shape), ctx.memory, generator)
        x, values = imagine(model, ctx, z_vid, z_val)
    with torch.no_grad():
        states = model.world_states(ctx.memory, x, model.feature_time(), ctx)
        return states, model.value_states(model.value.video_kv(states), values)


def action_loss(model: WAVModel, batch: dict, normalizer: Normalizer, generator=None, **_) -> tuple[torch.Tensor, dict]:
    ctx = batch_context(model, batch, generator)
    if model.cfg.action_futures == "imagined":
        states, value_states = _imagined_states(model, ctx, batch, generator)
    else:
        if model.cfg.conditioning == "future":
            with torch.no_grad():
                states = _features(model, ctx, batch, generator)
        else:
            states = _features(model, ctx, batch, generator)
        value_states = _action_value_states(model, states, batch, normalizer, generator)
    goal = predicted = None
    if model.cfg.keyframe_weight > 0:
        target = normalizer.state(batch["keyframe"])
        predicted = model.action.predict_keyframe(states)
        if model.cfg.keyframe_goal and model.cfg.keyframe_goal_source == "head":
            goal = predicted.detach()
        elif model.cfg.keyframe_goal:
            goal = target + model.cfg.keyframe_goal_noise * _randn(target.shape, target, generator)
    x0 = normalizer.encode_actions(batch["actions"], batch["state"], model.cfg.action_space)
    state = normalizer.state(batch["state"])
    prior = None
    if model.action.prior is not None:  # the flow generates the residual around the (gated) prior's chunk
        prior, gate = model.action.prior_outputs(model.action.prior_input(states, state))
        x0, prior_err = (x0 - model.action.gated(prior, gate).detach(),
                         model.action.prior_error(prior, x0, gate, batch.get("approach")))
    t = _time(model, x0, generator)
    noise = _randn(x0.shape, x0, generator)
    vel = model.action(interpolate(x0, noise, t), t, state,
                       model.action.video_kv(states, goal), model.action.value_kv(value_states))
    loss = flow_loss(vel, x0, noise)
    metrics = {"action": loss.detach()}
    if prior is not None:
        prior_loss = _success_mean(prior_err, batch)
        metrics["prior"] = prior_loss.detach()
        loss = loss + model.cfg.action_prior_weight * prior_loss
    if model.cfg.keyframe_weight > 0:
        key = (predicted - target).pow(2).mean(-1)
        key = _success_mean(key, batch) if model.cfg.keyframe_episodes == "success" else key.mean()
        metrics["keyframe"] = key.detach()
        loss = loss + model.cfg.keyframe_weight * key
    return loss, metrics


def _success_mean(err: torch.Tensor, batch: dict) -> torch.Tensor:
    """Mean of per-sample errors [B] over the successful episodes' samples (0 for a batch of none): what
    a policy should head for is a success's."""
    ok = batch["success"].to(err.dtype)
    return (err * ok).sum() / ok.sum().clamp(min=1.0)


LOSSES = {"tokenizer": tokenizer_loss, "world": world_loss, "value": value_loss, "action": action_loss}


def stage_modules(model: WAVModel, stage: str) -> list[nn.Module]:
    """What each stage trains. The tokenizer is trained only in its own stage (like the pretrained,
    frozen video VAE of the paper). Stage 3 trains everything else together under `paper`
    conditioning, and only the action expert under `future` (the scorer stays as stage 2 fitted it)."""
    action = [model.action] if model.cfg.conditioning == "future" else [model.world, model.text, model.value, model.action]
    return {
        "tokenizer": [model.tokenizer],
        "world": [model.world, model.text],
        "value": [model.value],
        "action": action,
    }[stage]


def stage_parameters(model: WAVModel, stage: str) -> list[nn.Parameter]:
    return [p for m in stage_modules(model, stage) for p in m.parameters()]


def make_optimizer(model: WAVModel, stage: str, cfg: StageConfig) -> torch.optim.Optimizer:
    """AdamW; on a GPU its fused kernel (one launch for every parameter instead of several per tensor)."""
    params = stage_parameters(model, stage)
    fused = bool(params) and all(p.is_cuda for p in params)
    groups = [{"params": params}]
    head = getattr(model.action, "keyframe", None) if stage == "action" else None
    if head is not None and cfg.keyframe_lr_scale != 1.0:
        mine = {id(p) for p in head.parameters()}
        groups = [{"params": [p for p in params if id(p) not in mine]},
                  {"params": [p for p in params if id(p) in mine], "lr": cfg.lr * cfg.keyframe_lr_scale}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay,
                             **({"fused": True} if fused else {}))


def lr_factor(step: int, cfg: StageConfig) -> float:
    """The fraction of cfg.lr at `step`: linear warm-up, then constant or a half cosine that reaches
    `lr_final` at the last step."""
    warm = max(1, cfg.warmup)
    if step + 1 < warm or cfg.schedule == "constant":
        return min(1.0, (step + 1) / warm)
    span = max(1, cfg.steps - warm)
    done = min(1.0, (step + 1 - warm) / span)
    return cfg.lr_final + (1.0 - cfg.lr_final) * 0.5 * (1.0 + math.cos(math.pi * done))


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: StageConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg))


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
    if loss_module is None:  # not `or`: a compiled module's truth value is not defined
        loss_module = StageLoss(model, stage, normalizer, cfg.caption_dropout)
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

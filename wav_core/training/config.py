"""Optimiser settings per training stage (defaults: the paper's Appendix B)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config.loader import ConfigError

STAGES = ("tokenizer", "world", "value", "action")
ACTION_EPISODES = ("success", "all")
PRECISIONS = ("bf16", "fp32")
SCHEDULES = ("constant", "cosine")


@dataclass
class StageConfig:
    steps: int = 30000
    warmup: int = 1000
    batch_size: int = 128
    lr: float = 5e-5
    weight_decay: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    caption_dropout: float = 0.0
    shifted_futures: float = 0.0
    """Value stage: the fraction of samples whose future is taken from another tick of the same
    episode (at most `shift_ticks` away), with that tick's value as the target. Trained on true
    pairs only, a value can read the phase from the history and ignore the future, and the planner's
    candidates then all score alike; a shifted future forces the value to read what the future
    shows. Needs the latent cache."""
    shift_ticks: int = 16
    precision: Literal["bf16", "fp32"] = "bf16"
    """On a CUDA device, 'bf16' runs the step under bf16 autocast and 'fp32' without it (the CPU always
    trains in fp32). Autocast pays where matrix products dominate; a small model's step is bound
    by kernel launches, which the casts add to (`wav bench --train` measures both)."""
    still_futures: float = 0.0
    """Value stage: the fraction of samples shown a still future (the last history frame held) with
    the current value held as the target; see wav_core/training/shifted_futures.py."""

    schedule: Literal["constant", "cosine"] = "constant"
    """Learning rate after the warm-up: held (`constant`), or a half cosine down to `lr_final` x lr at
    the stage's last step (`cosine`). At a small batch the loss of a flow-matching step is noisy; a
    decaying rate lets the weights settle where a constant one keeps them wandering."""
    lr_final: float = 0.05
    """`cosine`: the rate at the last step, as a fraction of lr."""
    ema: float = 0.0
    """Decay of an exponential moving average of the stage's weights, updated every step (0: off).
    The stage's checkpoints, the next stage and `wav export` take the average; the raw weights stay
    in the checkpoint's state so a resumed run continues exactly. 0.999 averages about the last
    thousand steps."""

    keyframe_lr_scale: float = 1.0
    """Action stage: the keyframe head's rate as a multiple of lr. A head whose prediction the
    expert reads as its goal (`keyframe_goal_source: head`) should settle early in the stage, so that
    the expert learns from the goals it will be given."""

    def validate(self) -> None:
        if not self.keyframe_lr_scale > 0:
            raise ConfigError(f"keyframe_lr_scale: got {self.keyframe_lr_scale}, expected a number > 0")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: got {self.schedule!r}, expected one of {list(SCHEDULES)}")
        if not 0.0 <= self.lr_final <= 1.0:
            raise ConfigError(f"lr_final: got {self.lr_final}, expected a fraction of lr in [0, 1]")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema: got {self.ema}, expected a decay in [0, 1)")
        if self.steps < 0 or self.warmup < 0 or self.batch_size < 1:
            raise ConfigError(f"steps/warmup/batch_size: got {self.steps}/{self.warmup}/{self.batch_size}, expected >= 0/>= 0/>= 1")
        if self.lr <= 0:
            raise ConfigError(f"lr: got {self.lr}, expected > 0")
        if not 0.0 <= self.shifted_futures <= 1.0:
            raise ConfigError(f"shifted_futures: got {self.shifted_futures}, expected a fraction in [0, 1]")
        if not 0.0 <= self.still_futures <= 1.0 - self.shifted_futures:
            raise ConfigError(f"still_futures: got {self.still_futures}, expected a fraction in [0, 1] that with "
                              f"shifted_futures ({self.shifted_futures}) sums to at most 1")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision: got {self.precision!r}, expected one of {list(PRECISIONS)}")
        if self.shift_ticks < 1:
            raise ConfigError(f"shift_ticks: got {self.shift_ticks}, expected >= 1")


@dataclass
class TrainConfig:
    tokenizer: StageConfig = field(default_factory=lambda: StageConfig(steps=20000, lr=3e-4))
    world: StageConfig = field(default_factory=lambda: StageConfig(steps=40000, lr=3e-4, caption_dropout=0.06))
    value: StageConfig = field(default_factory=lambda: StageConfig(steps=30000, lr=5e-5))
    action: StageConfig = field(default_factory=lambda: StageConfig(steps=30000, lr=5e-5))
    action_episodes: Literal["success", "all"] = "success"
    """Episodes the action stage samples: 'success' imitates only successful behaviour; 'all' also
    failed ones. The tokenizer, world and value stages always see every episode, so the value
    module learns to tell outcomes apart."""

    def validate(self) -> None:
        for name in ("tokenizer", "world", "action"):
            for key in ("shifted_futures", "still_futures"):
                if getattr(getattr(self, name), key):
                    raise ConfigError(f"train.{name}.{key}: only the value stage changes futures, expected 0")
        for name in ("tokenizer", "world", "value"):
            if getattr(self, name).keyframe_lr_scale != 1.0:
                raise ConfigError(f"train.{name}.keyframe_lr_scale: only the action stage trains the keyframe head, "
                                  f"expected 1.0, got {getattr(self, name).keyframe_lr_scale}")
        if self.action_episodes not in ACTION_EPISODES:
            raise ConfigError(f"action_episodes: got {self.action_episodes!r}, expected one of {list(ACTION_EPISODES)}")

    def stage(self, name: str) -> StageConfig:
        if name not in STAGES:
            raise ConfigError(f"stage: got {name!r}, expected one of {list(STAGES)}")
        return getattr(self, name)

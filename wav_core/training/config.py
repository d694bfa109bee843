"""Optimiser settings per training stage (defaults: the paper's Appendix B)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config.loader import ConfigError

STAGES = ("tokenizer", "world", "value", "action")
ACTION_EPISODES = ("success", "all")


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

    def validate(self) -> None:
        if self.steps < 0 or self.warmup < 0 or self.batch_size < 1:
            raise ConfigError(f"steps/warmup/batch_size: got {self.steps}/{self.warmup}/{self.batch_size}, expected >= 0/>= 0/>= 1")
        if self.lr <= 0:
            raise ConfigError(f"lr: got {self.lr}, expected > 0")


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
        if self.action_episodes not in ACTION_EPISODES:
            raise ConfigError(f"action_episodes: got {self.action_episodes!r}, expected one of {list(ACTION_EPISODES)}")

    def stage(self, name: str) -> StageConfig:
        if name not in STAGES:
            raise ConfigError(f"stage: got {name!r}, expected one of {list(STAGES)}")
        return getattr(self, name)

"""Typed model configuration: the shapes every part of the World-Value-Action stack agrees on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config.loader import ConfigError


@dataclass
class TokenizerConfig:
    """Per-frame convolutional VAE: image [3, H, W] -> latent [C, H/2^len(channels), W/2^len(channels)]."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    latent_channels: int = 8
    kl_weight: float = 1e-4

    @property
    def downsample(self) -> int:
        return 2 ** len(self.channels)


@dataclass
class TextConfig:
    """Instruction features. `embedding`: a small trainable embedding over hashed words; `t5`: frozen
    T5 encoder loaded from a local directory (never downloaded)."""

    backend: Literal["embedding", "t5"] = "embedding"
    dim: int = 64
    vocab_size: int = 2048
    max_len: int = 16
    t5_path: str = ""


@dataclass
class WorldConfig:
    """DiT over the latent tokens of every view: memory frames are clean context, the future chunk is
    the flow-matching variable."""

    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    patch: int = 1
    cross_view_every: int = 3
    """Attention spans all views in every `cross_view_every`-th block, stays inside each view otherwise."""


@dataclass
class ExpertConfig:
    """Width of the value and action experts; their depth always equals the world depth."""

    dim: int = 64
    heads: int = 4
    mlp_ratio: float = 4.0


@dataclass
class ModelConfig:
    views: list[str] = field(default_factory=lambda: ["cam_high", "cam_left_wrist", "cam_right_wrist"])
    image_size: tuple[int, int] = (32, 32)
    n_history: int = 2
    history_stride: int = 4
    n_future: int = 2
    future_stride: int = 8
    action_dim: int = 14
    state_dim: int = 14
    action_horizon: int = 16
    value_channels: int = 17
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    text: TextConfig = field(default_factory=TextConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
    expert: ExpertConfig = field(default_factory=ExpertConfig)
    caption_dropout: float = 0.06

    def validate(self) -> None:
        h, w = self.image_size
        step = self.tokenizer.downsample * self.world.patch
        if h % step or w % step:
            raise ConfigError(f"image_size: got {h}x{w}, expected multiples of {step} (tokenizer downsample x patch)")
        for key in ("n_history", "n_future", "action_horizon", "value_channels", "action_dim", "state_dim"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected >= 1")
        if self.world.dim % self.world.heads:
            raise ConfigError(f"world.dim: {self.world.dim} is not divisible by world.heads {self.world.heads}")
        if self.expert.dim % self.expert.heads:
            raise ConfigError(f"expert.dim: {self.expert.dim} is not divisible by expert.heads {self.expert.heads}")
        if not self.views:
            raise ConfigError("views: expected at least one camera")

    @property
    def latent_hw(self) -> tuple[int, int]:
        d = self.tokenizer.downsample
        return self.image_size[0] // d, self.image_size[1] // d

    @property
    def tokens_per_frame(self) -> int:
        h, w = self.latent_hw
        return (h // self.world.patch) * (w // self.world.patch)

    @property
    def future_latent_shape(self) -> tuple[int, ...]:
        """Shape of one candidate's video noise: [V, n_future, C, h, w]."""
        h, w = self.latent_hw
        return (len(self.views), self.n_future, self.tokenizer.latent_channels, h, w)

    @property
    def value_shape(self) -> tuple[int, int]:
        return (self.action_horizon, self.value_channels)

"""Model presets: `tiny` for tests, `cpu` for training on a 2-core machine, `sim` for the simulated
tasks on a GPU, `paper` for the paper's scale."""

from __future__ import annotations

from ..config.loader import ConfigError
from .config import ExpertConfig, ModelConfig, TextConfig, TokenizerConfig, WorldConfig


def tiny() -> ModelConfig:
    return ModelConfig(
        image_size=(32, 32),
        n_history=2,
        n_future=2,
        action_horizon=8,
        tokenizer=TokenizerConfig(channels=[16, 16, 16], latent_channels=4),
        text=TextConfig(dim=32, vocab_size=256, max_len=12),
        world=WorldConfig(dim=64, depth=3, heads=4),
        expert=ExpertConfig(dim=32, heads=4),
    )


def sim() -> ModelConfig:
    return ModelConfig(
        image_size=(64, 64),
        n_history=2,
        history_stride=5,
        n_future=2,
        future_stride=8,
        action_horizon=16,
        tokenizer=TokenizerConfig(channels=[32, 64, 96], latent_channels=8),
        text=TextConfig(dim=64, vocab_size=1024, max_len=16),
        world=WorldConfig(dim=192, depth=6, heads=6, patch=2),
        expert=ExpertConfig(dim=96, heads=4),
    )


def cpu() -> ModelConfig:
    """Sized to train to a working policy on two CPU cores within about 90 minutes: three 48x48
    views (6x6 latent tokens per frame), a 3-block world and narrow experts, 0.8 s action chunks.
    `future` conditioning, so the planned future reaches the action."""
    return ModelConfig(
        image_size=(48, 48),
        n_history=2,
        history_stride=5,
        n_future=2,
        future_stride=8,
        action_horizon=16,
        tokenizer=TokenizerConfig(channels=[16, 32, 32], latent_channels=4),
        text=TextConfig(dim=32, vocab_size=256, max_len=12),
        world=WorldConfig(dim=96, depth=3, heads=4),
        expert=ExpertConfig(dim=64, heads=4),
        conditioning="future",
        time_sampling="beta",
    )


def paper() -> ModelConfig:
    """The paper's scale: 3 views at 256x256, 28 blocks, 2048-wide world, 512-wide experts, T5-XXL
    features (4096). Tokens: 32x spatial compression -> 8x8 latent grid per frame and view."""
    return ModelConfig(
        image_size=(256, 256),
        n_history=4,
        n_future=9,
        action_horizon=54,
        tokenizer=TokenizerConfig(channels=[128, 256, 512, 512, 512], latent_channels=128),
        text=TextConfig(backend="t5", dim=4096, max_len=64),
        world=WorldConfig(dim=2048, depth=28, heads=32, mlp_ratio=4.0, patch=1),
        expert=ExpertConfig(dim=512, heads=8, mlp_ratio=4.0),
    )


PRESETS = {"tiny": tiny, "cpu": cpu, "sim": sim, "paper": paper}


def preset(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise ConfigError(f"preset: got {name!r}, expected one of {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    cfg.validate()
    return cfg

"""The World-Value-Action model."""

from .config import ExpertConfig, ModelConfig, TextConfig, TokenizerConfig, WorldConfig
from .files import ModelCard, load_card, load_model, save_model
from .normalize import Normalizer
from .presets import PRESETS, preset
from .wav import Context, WAVModel

__all__ = [
    "ExpertConfig", "ModelConfig", "TextConfig", "TokenizerConfig", "WorldConfig", "ModelCard", "load_card",
    "load_model", "save_model", "Normalizer", "PRESETS", "preset", "Context", "WAVModel",
]

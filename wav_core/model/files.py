"""Model directories: `model.yaml` (config, normalisation, cameras, joints, instruction) +
`weights.safetensors`. No pickle: weights are safetensors, the YAML is read with safe_load."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..config.loader import ConfigError, from_dict, read_yaml, to_dict
from ..robot.piper import DUAL_JOINT_NAMES
from .config import ModelConfig
from .normalize import Normalizer
from .wav import WAVModel

MODEL_FILE = "model.yaml"
WEIGHTS_FILE = "weights.safetensors"
FORMAT_VERSION = 1


@dataclass
class ModelCard:
    """Everything besides the weights that deploying a model needs to agree with the robot."""

    config: ModelConfig = field(default_factory=ModelConfig)
    normalization: Normalizer = field(default_factory=Normalizer)
    cameras: list[str] = field(default_factory=lambda: ["cam_high", "cam_left_wrist", "cam_right_wrist"])
    joints: list[str] = field(default_factory=lambda: list(DUAL_JOINT_NAMES))
    instruction: str = ""
    format: int = FORMAT_VERSION
    notes: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.cameras != list(self.config.views):
            raise ConfigError(f"cameras: {self.cameras} differ from config.views {self.config.views}")
        if len(self.joints) != self.config.action_dim:
            raise ConfigError(f"joints: got {len(self.joints)} names, expected {self.config.action_dim}")
        if len(self.normalization.value_mean) != self.config.value_channels:
            raise ConfigError(
                f"normalization.value_mean: got {len(self.normalization.value_mean)} channels, expected {self.config.value_channels}")
        if self.config.action_space == "delta":
            for key in ("delta_min", "delta_max"):
                values = getattr(self.normalization, key)
                if values is None or len(values) != self.config.action_dim:
                    raise ConfigError(f"normalization.{key}: got {values!r}, expected {self.config.action_dim} offsets "
                                      "(config.action_space is delta)")


def save_model(directory: str | Path, model: WAVModel, card: ModelCard) -> Path:
    """Write both files into a temporary directory and move it into place, so a reader never sees a
    half-written model."""
    directory = Path(directory)
    card.config = model.cfg
    card.validate()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": str(FORMAT_VERSION)})
    (tmp / MODEL_FILE).write_text(yaml.safe_dump(to_dict(card), sort_keys=False))
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old")
        os.replace(directory, old)
        os.replace(tmp, directory)
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    else:
        os.replace(tmp, directory)
    return directory


def load_card(directory: str | Path) -> ModelCard:
    path = Path(directory) / MODEL_FILE
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"{directory}: model directory not found")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (a model directory holds {MODEL_FILE} and {WEIGHTS_FILE})")
    try:
        return from_dict(ModelCard, read_yaml(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> tuple[WAVModel, ModelCard]:
    card = load_card(directory)
    wpath = Path(directory) / WEIGHTS_FILE
    if not wpath.is_file():
        raise FileNotFoundError(f"{wpath}: missing weights file")
    try:
        state = load_file(str(wpath), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{wpath}: corrupt or unreadable safetensors file ({exc})") from None
    model = WAVModel(card.config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{wpath}: weights do not match {MODEL_FILE}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise ValueError(f"{wpath}: tensor {k} has shape {tuple(v.shape)}, {MODEL_FILE} expects {tuple(expected[k].shape)}")
    model.load_state_dict(state)
    return model.to(device).eval(), card

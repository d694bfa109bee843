"""Import settings: the optional `data:` section of the rig YAML (defaults when absent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config.loader import ConfigError, from_dict, read_yaml
from .rewards import RewardConfig
from .values import ValueTargetConfig


@dataclass
class DataConfig:
    jpeg_quality: int = 90
    """Quality of the stored JPEG frames (1..100)."""
    lookahead_s: float = 0.5
    """A tick is assembled once the bag's receive time passes it by this much, so messages whose
    header stamps precede their log time (transport latency) are all buffered first."""
    typestore: str = "ros2_humble"
    """rosbags typestore used to deserialize bags (a rosbags `Stores` value)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    value: ValueTargetConfig = field(default_factory=ValueTargetConfig)

    def validate(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality: got {self.jpeg_quality}, expected 1..100")
        if self.lookahead_s < 0:
            raise ConfigError(f"lookahead_s: got {self.lookahead_s}, expected >= 0")


def load_data_config(path: str | Path | None) -> DataConfig:
    """The `data:` section of `path` if it has one, else defaults."""
    if path is None:
        return DataConfig()
    raw = read_yaml(path)
    if "data" not in raw:
        return DataConfig()
    try:
        return from_dict(DataConfig, raw["data"], "data")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

"""Typed configuration: dataclasses loaded from YAML in one place (`loader`)."""

from .loader import ConfigError, from_dict, load, read_yaml, to_dict
from .robot import ArmConfig, CameraConfig, RobotConfig

__all__ = ["ConfigError", "from_dict", "load", "read_yaml", "to_dict", "ArmConfig", "CameraConfig", "RobotConfig"]

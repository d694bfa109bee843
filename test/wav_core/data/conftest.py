"""Shared fixtures: a rig config with small cameras so bags and imports stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from wav_core.config.loader import from_dict, load, to_dict
from wav_core.config.robot import RobotConfig

SIM_CONFIG = Path(__file__).resolve().parents[3] / "config" / "sim_drawer.yaml"


def small_robot(**overrides) -> RobotConfig:
    """The simulator rig with 48x64 cameras (same topics, rates and tolerances)."""
    data = to_dict(load(RobotConfig, SIM_CONFIG, section="robot"))
    for cam in data["cameras"]:
        cam["width"], cam["height"] = 64, 48
    data.update(overrides)
    return from_dict(RobotConfig, data)


@pytest.fixture
def robot() -> RobotConfig:
    return small_robot()


@pytest.fixture
def make_robot():
    """Factory for variants of the small rig: `make_robot(joint_max_age_s=0.02, ...)`."""
    return small_robot

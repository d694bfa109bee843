"""Shared fixtures: a rig config with small cameras so bags and imports stay fast."""

from __future__ import annotations

import pytest
from wav_test_support import small_robot

from wav_core.config.robot import RobotConfig


@pytest.fixture
def robot() -> RobotConfig:
    return small_robot()


@pytest.fixture
def make_robot():
    """Factory for variants of the small rig: `make_robot(joint_max_age_s=0.02, ...)`."""
    return small_robot

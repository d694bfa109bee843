"""Shared inputs of the replay tests: a rig with small cameras (the tiny model sees 32x32 anyway),
synthetic bags with known contents, a tiny random model saved like a trained one, and a fast planner."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from wav_core.config import RobotConfig, load, to_dict
from wav_core.data.synthetic import BagSpec, write_rig_bag
from wav_core.model import save_model
from wav_core.planning import PlannerConfig, random_policy

REPO = Path(__file__).resolve().parents[3]
FAST = PlannerConfig(K=1, M=2, N=2, S=2)


def small_robot(**overrides) -> RobotConfig:
    robot = load(RobotConfig, REPO / "config" / "sim_drawer.yaml", section="robot")
    robot.cameras = [dataclasses.replace(c, width=64, height=48) for c in robot.cameras]
    return dataclasses.replace(robot, **overrides)


@pytest.fixture(scope="session")
def robot() -> RobotConfig:
    return small_robot()


@pytest.fixture(scope="session")
def robot_yaml(tmp_path_factory) -> Path:
    """config/sim_drawer.yaml with the small cameras, for the command line."""
    path = tmp_path_factory.mktemp("config") / "small.yaml"
    path.write_text(yaml.safe_dump({"robot": to_dict(small_robot())}))
    assert load(RobotConfig, path, section="robot") == small_robot()
    return path


@pytest.fixture(scope="session")
def rig_bag(tmp_path_factory, robot) -> Path:
    """2 s with per-arm commands and an instruction: 40 ticks at 20 Hz."""
    path = tmp_path_factory.mktemp("bags") / "rig"
    return write_rig_bag(path, robot, BagSpec(seconds=2.0, instruction="open the drawer"))


@pytest.fixture(scope="session")
def feedback_bag(tmp_path_factory, robot) -> Path:
    """The same recording without command topics (actions come from the joint feedback)."""
    path = tmp_path_factory.mktemp("bags") / "feedback_only"
    return write_rig_bag(path, robot, BagSpec(seconds=2.0, with_commands=False, storage="sqlite3"))


@pytest.fixture(scope="session")
def tiny_policy():
    return random_policy("tiny", FAST)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_policy) -> Path:
    return save_model(tmp_path_factory.mktemp("models") / "tiny", tiny_policy.model, tiny_policy.card)

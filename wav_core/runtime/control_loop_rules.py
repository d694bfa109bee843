"""Rules every user of the control loop must agree on, kept free of heavy imports (the CLI and the
replay settings use them without loading the model)."""

from __future__ import annotations

from ..config.loader import ConfigError
from ..config.robot import RobotConfig


def decision_seed(seed: int, decision: int) -> int:
    """Seed of the `decision`-th plan (from 0) of a run with `seed`: reruns (node, eval, replay)
    draw the same noise at the same decision."""
    return seed + decision


def check_model(robot: RobotConfig, card) -> None:
    """The model must see the rig's cameras and act on its joints, in the same order."""
    if list(card.cameras) != robot.camera_names:
        raise ConfigError(f"model cameras {list(card.cameras)} do not match the robot config cameras {robot.camera_names}")
    if list(card.joints) != robot.joint_names:
        raise ConfigError(f"model joints {list(card.joints)} do not match the robot config joints {robot.joint_names}")

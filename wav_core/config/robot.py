"""The rig description shared by the simulator's recorder, data import, replay and the live node.

One schema, so the topics, joint order, rates and tolerances a model was trained with are the ones
it is deployed with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .loader import ConfigError


@dataclass
class CameraConfig:
    name: str
    topic: str
    width: int
    height: int
    msg_type: Literal["image", "compressed"] = "image"
    max_age_s: float = 0.1
    """A tick is dropped when the newest frame at or before it is older than this."""

    def validate(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f"camera {self.name}: width/height must be positive, got {self.width}x{self.height}")
        if self.max_age_s <= 0:
            raise ConfigError(f"camera {self.name}.max_age_s: got {self.max_age_s}, expected > 0")


@dataclass
class ArmConfig:
    name: str
    feedback_topic: str
    command_topic: str
    joint_names: list[str] = field(
        default_factory=lambda: ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper"]
    )

    def validate(self) -> None:
        if len(self.joint_names) != 7:
            raise ConfigError(f"arm {self.name}.joint_names: got {len(self.joint_names)} names, expected 7 (6 joints + gripper)")


@dataclass
class RobotConfig:
    cameras: list[CameraConfig] = field(
        default_factory=lambda: [
            CameraConfig("cam_high", "/camera_h/color/image_raw", 424, 240),
            CameraConfig("cam_left_wrist", "/camera_l/color/image_raw", 320, 240),
            CameraConfig("cam_right_wrist", "/camera_r/color/image_raw", 320, 240),
        ]
    )
    arms: list[ArmConfig] = field(
        default_factory=lambda: [
            ArmConfig("left", "/left/joint_states_single", "/left/joint_ctrl_single"),
            ArmConfig("right", "/right/joint_states_single", "/right/joint_ctrl_single"),
        ]
    )
    joint_state_topic: str | None = None
    """Optional single 14-D JointState (names `<arm>_<joint>`) instead of per-arm feedback."""
    instruction_topic: str = "/wav/instruction"
    instruction: str = ""
    camera_hz: float = 30.0
    joint_hz: float = 200.0
    tick_hz: float = 20.0
    """Decision/observation tick rate: datasets are sampled and the policy decides at this rate."""
    joint_max_age_s: float = 0.05
    max_camera_skew_s: float = 0.05
    action_source: Literal["command", "feedback"] = "command"
    """Training action at a tick: the recorded command topics, or the next joint feedback."""

    def validate(self) -> None:
        if len(self.cameras) < 1:
            raise ConfigError("cameras: expected at least one camera")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ConfigError(f"cameras: duplicate camera names {names}")
        if len(self.arms) != 2:
            raise ConfigError(f"arms: got {len(self.arms)} arms, expected 2 (left, right)")
        for key in ("camera_hz", "joint_hz", "tick_hz", "joint_max_age_s", "max_camera_skew_s"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected > 0")

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]

    @property
    def joint_names(self) -> list[str]:
        """The 14-D order: `<arm>_<joint>` for each arm in order."""
        return [f"{a.name}_{j}" for a in self.arms for j in a.joint_names]

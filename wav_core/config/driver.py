"""Configuration of the dual-arm Piper driver (`wav_ros.piper_bridge`), YAML section `driver`.

Topic defaults match the policy's robot config, so the driver is a drop-in for two piper_ros
nodes. Every time limit is explicit because the safety behaviour (what is never sent, when a bus
counts as lost) is defined by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .loader import ConfigError

DEFAULT_JOINT_NAMES = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper"]


@dataclass
class DriverArmConfig:
    name: str
    can_port: str
    command_topic: str
    feedback_topic: str
    joint_names: list[str] = field(default_factory=lambda: list(DEFAULT_JOINT_NAMES))
    """Names looked up in command messages and written into feedback, in SDK order j1..j6, gripper."""

    def validate(self) -> None:
        if not self.name or "/" in self.name:
            raise ConfigError(f"arm name: got {self.name!r}, expected a non-empty name without '/'")
        if len(self.joint_names) != 7 or len(set(self.joint_names)) != 7:
            raise ConfigError(
                f"arm {self.name}.joint_names: got {self.joint_names}, expected 7 distinct names (6 joints + gripper)"
            )


@dataclass
class DriverConfig:
    arms: list[DriverArmConfig] = field(
        default_factory=lambda: [
            DriverArmConfig("left", "can_left", "/left/joint_ctrl_single", "/left/joint_states_single"),
            DriverArmConfig("right", "can_right", "/right/joint_ctrl_single", "/right/joint_states_single"),
        ]
    )
    bustype: Literal["socketcan", "virtual"] = "socketcan"
    """`virtual` talks to `wav_core.robot.virtual_arm.VirtualPiperArm` in the same process."""
    bitrate: int = 1_000_000
    check_can_port: bool = True
    """Ask the SDK to verify that a socketcan port exists, is up and runs at `bitrate`."""
    speed_percent: int = 50
    """MotionCtrl_2 speed: percent of the firmware's 3 rad/s joint speed limit."""
    gripper_effort: int = 1000
    """GripperCtrl effort in 0.001 N·m (0..5000)."""
    enable_on_start: bool = False
    """Enable the arms when the node starts (off, like piper_ros's auto_enable: an operator enables)."""
    enable_timeout_s: float = 3.0
    command_max_age_s: float = 0.1
    """A command whose header stamp (or receipt time, when the stamp is zero) is older is never sent."""
    feedback_hz: float = 200.0
    feedback_timeout_s: float = 0.25
    """Feedback older than this means the bus is lost: sending stops and reconnection starts."""
    reconnect_initial_s: float = 0.25
    reconnect_max_s: float = 4.0
    supervise_hz: float = 20.0
    diagnostics_hz: float = 2.0
    diagnostics_topic: str = "/diagnostics"
    go_home_speed: float = 0.3
    """Joint speed of `~/go_home` in rad/s (the gripper moves at a tenth of it in m/s)."""
    go_home_hz: float = 50.0
    warn_throttle_s: float = 1.0
    rearm_joint_tolerance_rad: float = 0.05
    """After any enable, bus recovery, reset, e-stop or go-home an arm is disarmed: the first command it
    accepts must be within this distance of the measured position on every joint (rad), so an old
    set-point never becomes a jump."""
    rearm_gripper_tolerance_m: float = 0.005
    """The same re-arming rule for the gripper opening (m)."""
    estop_topic: str = "/wav/estop"
    """std_msgs/Bool from the policy (reliable, transient_local): True e-stops and latches; "" = not subscribed."""

    def validate(self) -> None:
        if not self.arms:
            raise ConfigError("arms: expected at least one arm")
        names = [a.name for a in self.arms]
        ports = [a.can_port for a in self.arms]
        if len(set(names)) != len(names):
            raise ConfigError(f"arms: duplicate arm names {names}")
        if len(set(ports)) != len(ports):
            raise ConfigError(f"arms: duplicate CAN ports {ports}; each arm needs its own interface")
        if not 1 <= self.speed_percent <= 100:
            raise ConfigError(f"speed_percent: got {self.speed_percent}, expected 1..100")
        if not 0 <= self.gripper_effort <= 5000:
            raise ConfigError(f"gripper_effort: got {self.gripper_effort}, expected 0..5000 (0.001 N·m)")
        if self.bitrate <= 0:
            raise ConfigError(f"bitrate: got {self.bitrate}, expected > 0")
        for key in (
            "enable_timeout_s", "command_max_age_s", "feedback_hz", "feedback_timeout_s", "reconnect_initial_s",
            "reconnect_max_s", "supervise_hz", "diagnostics_hz", "go_home_speed", "go_home_hz", "warn_throttle_s",
            "rearm_joint_tolerance_rad", "rearm_gripper_tolerance_m",
        ):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected > 0")
        if self.estop_topic and (self.estop_topic != self.estop_topic.strip() or " " in self.estop_topic):
            raise ConfigError(f"estop_topic: got {self.estop_topic!r}, expected a ROS topic name or '' (off)")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ConfigError(
                f"reconnect_max_s: got {self.reconnect_max_s}, expected >= reconnect_initial_s ({self.reconnect_initial_s})"
            )

    def arm(self, name: str) -> DriverArmConfig:
        for a in self.arms:
            if a.name == name:
                return a
        raise ConfigError(f"arms: no arm named {name!r}; configured: {[a.name for a in self.arms]}")

"""Settings of the live runtime: the policy node, its chunk executor and the safety filter.

They live in the `policy:` section of the same YAML that holds the `robot:` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config.loader import ConfigError
from ..planning.config import PlannerConfig
from ..robot.piper import DUAL_LOWER, DUAL_UPPER


@dataclass
class SafetyConfig:
    lower: list[float] = field(default_factory=lambda: DUAL_LOWER.tolist())
    upper: list[float] = field(default_factory=lambda: DUAL_UPPER.tolist())
    """Joint limits (rad) and gripper range (m) in the 14-D order; default: the Piper SDK's."""
    max_joint_velocity: float = 1.5
    """rad/s; the firmware allows up to 3."""
    max_joint_acceleration: float = 8.0
    """rad/s^2."""
    max_gripper_velocity: float = 0.2
    """m/s."""
    camera_timeout_s: float = 0.5
    joint_timeout_s: float = 0.2
    """Inputs older than this stop the output: the arms brake to a stop at the last safe position."""
    tracking_tolerance: float = 0.3
    """rad: a revolute joint measured farther than this from its command ..."""
    tracking_time_s: float = 0.5
    """... for longer than this latches the output off until ~/enable (grippers are not checked: one
    holding an object never reaches its closed command)."""
    measured_limit_tolerance: float = 0.005
    """rad / m: a measured pose this close outside the limits (sensor noise at a hard stop) is anchored
    on the limit, counted as `anchor_clipped`; farther outside refuses enable."""

    def validate(self) -> None:
        if len(self.lower) != 14 or len(self.upper) != 14:
            raise ConfigError(f"lower/upper: got {len(self.lower)}/{len(self.upper)} values, expected 14 each")
        bad = [i for i in range(14) if self.lower[i] >= self.upper[i]]
        if bad:
            raise ConfigError(f"lower/upper: lower >= upper at indices {bad}")
        for i in range(14):
            lo, hi = (DUAL_LOWER[i], DUAL_UPPER[i])
            if self.lower[i] < lo - 1e-9 or self.upper[i] > hi + 1e-9:
                raise ConfigError(f"lower/upper[{i}]: [{self.lower[i]}, {self.upper[i]}] is outside the arm's "
                                  f"hardware range [{lo}, {hi}]; limits may only be tightened")
        for key in ("max_joint_velocity", "max_joint_acceleration", "max_gripper_velocity", "camera_timeout_s",
                    "joint_timeout_s", "tracking_tolerance", "tracking_time_s"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected > 0")
        if self.measured_limit_tolerance < 0:
            raise ConfigError(f"measured_limit_tolerance: got {self.measured_limit_tolerance}, expected >= 0")
        if self.max_joint_velocity > 3.0:
            raise ConfigError(f"max_joint_velocity: got {self.max_joint_velocity}, expected <= 3.0 rad/s (firmware limit)")


@dataclass
class ExecutorConfig:
    rate_hz: float = 200.0
    replan_after: int = 0
    """Executed chunk steps before the next plan is due (0 = the whole chunk, the paper's setting)."""
    blend_s: float = 0.25
    """Cross-fade from the old chunk into the new one over this long."""
    mode: Literal["async", "sync"] = "async"
    """async: plan while the current chunk runs (the robot); sync: plan, then execute the chunk (the paper)."""
    replan_margin_s: float = 0.1
    """async: the next plan is requested when the chunk has less than p90 plan latency + this left."""
    latency_window: int = 20
    """Recent plans the p90 latency is taken over."""

    def validate(self) -> None:
        if self.rate_hz <= 0 or self.blend_s < 0 or self.replan_after < 0:
            raise ConfigError("rate_hz > 0, blend_s >= 0 and replan_after >= 0 expected, "
                              f"got {self.rate_hz}, {self.blend_s}, {self.replan_after}")
        if self.mode not in ("async", "sync"):
            raise ConfigError(f"mode: got {self.mode!r}, expected 'async' or 'sync'")
        if self.replan_margin_s < 0 or self.latency_window < 1:
            raise ConfigError(f"replan_margin_s >= 0 and latency_window >= 1 expected, got {self.replan_margin_s}, "
                              f"{self.latency_window}")


@dataclass
class PolicyConfig:
    model: str = "sim_drawer"
    """Model directory: absolute, or relative to the package's models/ folder."""
    backend: str = "torch"
    device: str = "cpu"
    threads: int = 1
    """torch CPU threads for planning (the node's other threads need the remaining cores)."""
    planner_process: bool = True
    """Plan in a child process, so inference never competes with the subscriptions and the 200 Hz
    executor for the Python interpreter lock."""
    plan_timeout_s: float = 10.0
    """A planner process that gives no plan within this long is killed and restarted (the arms hold)."""
    load_timeout_s: float = 300.0
    """The same for loading the model or changing planner settings (an engine build can take minutes)."""
    restart_backoff_s: float = 0.5
    """Wait before restarting a dead or hung planner process, doubling per restart up to
    `restart_backoff_max_s`."""
    restart_backoff_max_s: float = 30.0
    seed: int = 0
    qos: Literal["sensor_data", "reliable"] = "sensor_data"
    instruction: str = ""
    """Overrides the model's instruction when set."""
    planner: PlannerConfig = field(default_factory=lambda: PlannerConfig(K=1, M=8, N=4))
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    diagnostics_hz: float = 1.0
    driver_events_topic: str = ""
    """The driver's arm state changes (std_msgs/String JSON, e.g. /piper_bridge/arm_events): any event
    re-anchors the output on the measured pose; estop/disabled/reset also disable it. Empty: off."""
    estop_topic: str = "/wav/estop"
    """std_msgs/Bool, latched: True when ~/estop is called (the driver stops), False after ~/enable."""
    dry_run: bool = False
    """Run the whole path but publish the set-points on ~/command_preview instead of the command topics."""

    def validate(self) -> None:
        for key in ("plan_timeout_s", "load_timeout_s", "restart_backoff_s", "restart_backoff_max_s"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected > 0")
        if self.restart_backoff_max_s < self.restart_backoff_s:
            raise ConfigError(f"restart_backoff_max_s: got {self.restart_backoff_max_s}, expected >= "
                              f"restart_backoff_s ({self.restart_backoff_s})")

    def remote_options(self) -> dict:
        """RemotePolicy's deadline and restart settings."""
        return {"plan_timeout_s": self.plan_timeout_s, "load_timeout_s": self.load_timeout_s,
                "restart_backoff_s": self.restart_backoff_s, "restart_backoff_max_s": self.restart_backoff_max_s}


def policy_section(path: str | None) -> PolicyConfig | None:
    """The `policy:` section of a rig YAML as a PolicyConfig, or None when there is no file or no
    such section (callers then use the runtime defaults)."""
    from ..config.loader import load, read_yaml

    if not path or "policy" not in read_yaml(path):
        return None
    return load(PolicyConfig, path, section="policy")

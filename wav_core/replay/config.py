"""Settings of an offline replay; the planner's own settings live in `PlannerConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.loader import ConfigError
from ..robot.piper import GRIPPER_MAX_M
from ..runtime.control_loop_rules import decision_seed

__all__ = ["ReplayConfig", "decision_seed"]


@dataclass
class ReplayConfig:
    seed: int = 0
    """Plan k is drawn with seed `decision_seed(seed, k)` = seed + k: reruns reproduce every plan."""
    replan_after: int = 0
    """Ticks between decisions; 0 = the model's action horizon (execute the whole chunk)."""
    gripper_threshold_m: float = GRIPPER_MAX_M / 2
    """Opening above which a gripper counts as open when predicted and recorded are compared."""
    lookahead_s: float = 0.5
    """Bag time a tick waits for late messages before it is assembled (as in the dataset import)."""
    typestore: str = "ros2_humble"
    write_predictions: bool = True
    write_report: bool = True
    """Plots and index.html (off for pure timing runs)."""

    def validate(self) -> None:
        if self.replan_after < 0:
            raise ConfigError(f"replan_after: got {self.replan_after}, expected >= 0 (0 = the model's action horizon)")
        if not 0.0 < self.gripper_threshold_m < GRIPPER_MAX_M:
            raise ConfigError(f"gripper_threshold_m: got {self.gripper_threshold_m}, expected in (0, {GRIPPER_MAX_M})")
        if self.lookahead_s < 0:
            raise ConfigError(f"lookahead_s: got {self.lookahead_s}, expected >= 0")

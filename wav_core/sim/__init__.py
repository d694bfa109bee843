"""MuJoCo twin of the Piper dual-arm rig: scene, tasks, scripted experts and rosbag2 recording.

Imports MuJoCo; the CLI imports this package only inside its handlers.
"""

from .env import SIM_CAMERAS, SimEnv
from .experts import make_expert
from .tasks import TASKS

__all__ = ["SIM_CAMERAS", "SimEnv", "TASKS", "make_expert"]

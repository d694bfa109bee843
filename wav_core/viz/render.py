"""Plan views of a recorded run written to files: one plan as a PNG, every Nth as a GIF."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from ..config.robot import RobotConfig
from ..data.errors import BagError
from ..robot.urdf_kinematics import UrdfKinematics
from .plan_figure import DPI, figure_rgb, plan_figure
from .plan_frames import POLICY_NODE, PlanFrame, read_plan_frames

GIF_FRAME_MS = 250


def pick_frame(bag: str | Path, time_s: float | None, robot: RobotConfig, node: str = POLICY_NODE) -> PlanFrame:
    """The last plan at or before `time_s` seconds after the bag's start (None: the last plan)."""
    limit = float("inf") if time_s is None else time_s
    frames = read_plan_frames(bag, lambda _i, t: t <= limit, robot, node)
    if not frames:
        where = "" if time_s is None else f" at or before t = {time_s} s"
        raise BagError(f"{bag}: no plan{where} with images of every camera and measured joint states before it")
    return frames[-1]


def render_png(bag: str | Path, out: str | Path, time_s: float | None = None, robot: RobotConfig | None = None,
               node: str = POLICY_NODE) -> PlanFrame:
    robot = robot or RobotConfig()
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: folder {out.parent} does not exist")
    frame = pick_frame(bag, time_s, robot, node)
    fig = plan_figure(frame, UrdfKinematics.rig())
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return frame


def render_gif(bag: str | Path, out: str | Path, every: int, robot: RobotConfig | None = None,
               node: str = POLICY_NODE) -> int:
    """Every `every`-th plan of the bag as one GIF frame; returns how many frames were written."""
    robot = robot or RobotConfig()
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--gif {out}: folder {out.parent} does not exist")
    frames = read_plan_frames(bag, lambda i, _t: i % every == 0, robot, node)
    if not frames:
        raise BagError(f"{bag}: no plan with images of every camera and measured joint states before it")
    kin = UrdfKinematics.rig()
    images = []
    for f in frames:
        fig = plan_figure(f, kin)
        images.append(Image.fromarray(figure_rgb(fig)))
        plt.close(fig)
    images[0].save(out, save_all=True, append_images=images[1:], duration=GIF_FRAME_MS, loop=0)
    return len(images)

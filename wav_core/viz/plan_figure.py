"""One plan as a picture: the cameras the model saw above a top and a side view of the rig, with
each arm's planned tool-point path coloured by value (red: the least this chunk expects, green:
the most) and the measured (solid) and commanded (dashed) arms as link skeletons from the URDF."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from ..robot.urdf_kinematics import UrdfKinematics  # noqa: E402
from .plan_frames import PlanFrame  # noqa: E402

SIZE_PX = (1280, 800)
DPI = 100
SKELETON = ("base", "link1", "link2", "link3", "link4", "link5", "link6", "tcp")
FINGERS = ("finger_a", "finger_b")
MEASURED = {"color": "0.55", "lw": 4.0, "ls": "-", "ms": 5}
"""Measured arms drawn wide and grey underneath, so the commanded ones stay visible on top when they agree."""
COMMANDED = {"color": "tab:blue", "lw": 1.5, "ls": "--", "ms": 3}
VIEWS = {"top view (x, y)": (0, 1), "side view (x, z)": (0, 2)}


def skeleton(kin: UrdfKinematics, arm: str, q: dict[str, float]) -> tuple[np.ndarray, list[np.ndarray]]:
    """An arm's link origins from its base to the tool point [8, 3], and one segment per finger
    from the flange, in base_link."""
    chain = np.array([kin.pose(f"{arm}_{link}", q)[:3, 3] for link in SKELETON])
    flange = chain[-2]
    fingers = [np.stack([flange, kin.pose(f"{arm}_{f}", q)[:3, 3]]) for f in FINGERS if f"{arm}_{f}" in kin.links]
    return chain, fingers


def plan_figure(frame: PlanFrame, kin: UrdfKinematics, title: str = "") -> plt.Figure:
    fig = plt.figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI)
    cams = list(frame.images)
    cols = 2 * max(len(cams), 2)  # cameras share the top row, the two views the bottom one
    grid = fig.add_gridspec(2, cols, height_ratios=[1, 1.7])
    width = cols // len(cams)
    for k, cam in enumerate(cams):
        ax = fig.add_subplot(grid[0, k * width:(k + 1) * width])
        ax.imshow(frame.images[cam])
        ax.set_title(f"{cam}\n{frame.image_topics[cam]}", fontsize=8)
        ax.axis("off")
    half = cols // 2
    spans = [grid[1, :half], grid[1, half:]]
    poses = [("measured", frame.measured, MEASURED)]
    if frame.commanded:
        poses.append(("commanded", frame.commanded, COMMANDED))
    skeletons = {name: [skeleton(kin, arm, q) for arm in frame.arms] for name, q, _ in poses}
    everything = np.concatenate([p for p in frame.paths] + [c for s in skeletons.values() for c, _ in s])
    for span, (label, (i, j)) in zip(spans, VIEWS.items()):
        ax = fig.add_subplot(span, label=label)
        for z, (name, _q, style) in enumerate(poses):
            for n, (chain, fingers) in enumerate(skeletons[name]):
                ax.plot(chain[:, i], chain[:, j], marker="o", label=f"{name} arms" if n == 0 else None, zorder=1 + z,
                        **style)
                for f in fingers:
                    ax.plot(f[:, i], f[:, j], color=style["color"], ls=style["ls"], lw=style["lw"] * 0.7, zorder=1 + z)
        for n, (path, colours) in enumerate(zip(frame.paths, frame.colours)):
            if len(path) >= 2:
                segs = np.stack([path[:-1][:, [i, j]], path[1:][:, [i, j]]], axis=1)
                ax.add_collection(LineCollection(segs, colors=colours[1:], linewidths=3.0, zorder=4,
                                                 label="planned tool path" if n == 0 else None))
            ax.scatter(path[:1, i], path[:1, j], c=colours[:1], s=25, zorder=5, edgecolors="k", linewidths=0.5)
            if len(path):
                ax.annotate(frame.arms[n], (path[0, i], path[0, j]), xytext=(4, 4), textcoords="offset points",
                            fontsize=8, zorder=6)
        lo, hi = everything.min(axis=0), everything.max(axis=0)
        ax.update_datalim([[lo[i] - 0.05, lo[j] - 0.05], [hi[i] + 0.05, hi[j] + 0.05]])
        ax.autoscale_view()
        ax.set_aspect("equal", adjustable="datalim")  # metres alike on both axes, the panel filled
        ax.set_xlabel("xyz"[i] + " (m, base_link)")
        ax.set_ylabel("xyz"[j] + " (m)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0 and j == 1:
            ax.legend(loc="upper right", fontsize=7)
    fig.suptitle(title or f"plan {frame.index} at t = {frame.time_s:.2f} s ({frame.path_source}; "
                 "path red = lowest value, green = highest, dot = chunk start)", fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.07, wspace=0.6, hspace=0.25)
    return fig


def figure_rgb(fig: plt.Figure) -> np.ndarray:
    """The rendered figure as an HxWx3 uint8 array."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()

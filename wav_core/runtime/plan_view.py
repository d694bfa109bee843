"""What the policy intends, in the rig's base frame: each arm's tool-point path over a planned chunk,
coloured by the value the plan expects, from the rig's URDF (the frames robot_state_publisher would
publish), so a viewer can draw it with or without TF."""

from __future__ import annotations

import numpy as np

from ..robot.urdf_kinematics import UrdfKinematics

BASE_FRAME = "base_link"


class PlanView:
    def __init__(self, joint_names: list[str], arms: list[str], kinematics: UrdfKinematics | None = None):
        self.kin = kinematics or UrdfKinematics.rig()
        urdf_joints = {j["name"] for j in self.kin.joints.values()}
        missing = [n for n in joint_names if n not in urdf_joints]
        if missing:
            raise ValueError(f"joint_names: {missing} are not joints of the rig's URDF")
        self.joint_names = list(joint_names)
        self.links = [f"{arm}_tcp" for arm in arms]
        unknown = [link for link in self.links if link not in self.kin.links]
        if unknown:
            raise ValueError(f"arms: no tool-point links {unknown} in the rig's URDF")
        self.arms = list(arms)

    def paths(self, actions: np.ndarray) -> np.ndarray:
        """[arms, H, 3] tool-point positions (m, base frame) along a chunk [H, 14] of joint targets."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[1] != len(self.joint_names):
            raise ValueError(f"actions: got shape {actions.shape}, expected [H, {len(self.joint_names)}]")
        return self.kin.paths(self.links, self.joint_names, actions)


def value_colours(values: np.ndarray) -> np.ndarray:
    """RGBA [H, 4] per chunk step from the predicted total value: red where the plan expects the least
    of this chunk, green where it expects the most (one colour when the value is flat)."""
    v = np.asarray(values, dtype=np.float64)
    span = v.max() - v.min() if v.size else 0.0
    u = (v - v.min()) / span if span > 1e-9 else np.full(v.shape, 0.5)
    return np.stack([1.0 - u, u, np.full_like(u, 0.2), np.ones_like(u)], axis=-1)

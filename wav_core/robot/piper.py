"""Piper arm constants from the AgileX SDK: the single source for joint names, limits and units."""

from __future__ import annotations

import numpy as np

ARM_JOINT_NAMES: tuple[str, ...] = ("joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper")
"""Names the Piper driver uses in `joint_ctrl_single` / `joint_states_single` (per arm)."""

ARMS: tuple[str, ...] = ("left", "right")

JOINT_LOWER = np.array([-2.6179, 0.0, -2.967, -1.745, -1.22, -2.0944], dtype=np.float64)
JOINT_UPPER = np.array([2.6179, 3.14, 0.0, 1.745, 1.22, 2.0944], dtype=np.float64)
GRIPPER_MAX_M = 0.07
"""Gripper opening range 0..0.07 m (SDK); the ROS driver clamps at 0.08 m."""

MAX_JOINT_SPEED = 3.0
"""Firmware joint speed ceiling, rad/s."""

ARM_LOWER = np.concatenate([JOINT_LOWER, [0.0]])
ARM_UPPER = np.concatenate([JOINT_UPPER, [GRIPPER_MAX_M]])
DUAL_LOWER = np.concatenate([ARM_LOWER, ARM_LOWER])
DUAL_UPPER = np.concatenate([ARM_UPPER, ARM_UPPER])

DUAL_JOINT_NAMES: tuple[str, ...] = tuple(f"{arm}_{j}" for arm in ARMS for j in ARM_JOINT_NAMES)
"""The 14-D order every array in the project uses: left j1..j6, left gripper, right j1..j6, right gripper."""

HOME = np.array([0.0, 0.3, -0.3, 0.0, 0.3, 0.0, 0.035] * 2, dtype=np.float64)
"""A folded, collision-free pose used by simulators and the driver's go-home."""

# Forward kinematics (SDK DH parameters, mm/rad; modified DH with the default offsets).
DH_A_MM = (0.0, 0.0, 285.03, -21.98, 0.0, 0.0)
DH_D_MM = (123.0, 0.0, 0.0, 250.75, 0.0, 91.0)
DH_ALPHA = (0.0, -np.pi / 2, 0.0, np.pi / 2, -np.pi / 2, np.pi / 2)
DH_THETA_OFFSET = (0.0, np.deg2rad(-172.22), np.deg2rad(-102.78), 0.0, 0.0, 0.0)

RAD_TO_MILLIDEG = 180_000.0 / np.pi
"""JointCtrl/GetArmJointMsgs unit: 0.001 degree."""
M_TO_MICROM = 1_000_000.0
"""GripperCtrl/GetArmGripperMsgs unit: 0.001 mm."""


def clip_dual(q: np.ndarray) -> np.ndarray:
    """Clip a [..., 14] array into the dual-arm joint and gripper limits."""
    return np.clip(q, DUAL_LOWER, DUAL_UPPER)

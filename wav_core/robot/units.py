"""Conversions between the project's SI arm vectors and the Piper SDK's integer units.

One arm vector is 7 floats: joint1..joint6 in radians, then the gripper opening in metres (the
`joint_ctrl_single` convention). The SDK speaks integers: joints in 0.001 degree, the gripper in
0.001 mm. Clamping happens in SI before rounding, so a clamped command never rounds past a limit
by more than half a unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .piper import ARM_JOINT_NAMES, ARM_LOWER, ARM_UPPER, M_TO_MICROM, RAD_TO_MILLIDEG

ARM_DOF = len(ARM_JOINT_NAMES)
GRIPPER_EFFORT_MAX = 5000
"""GripperCtrl effort ceiling in 0.001 N·m (5 N·m)."""


@dataclass(frozen=True)
class SdkArmCommand:
    """One arm command in SDK units: `JointCtrl(*joints)` and `GripperCtrl(gripper, effort, 0x01)`."""

    joints: tuple[int, int, int, int, int, int]
    gripper: int


def rad_to_millideg(rad: np.ndarray | float) -> np.ndarray:
    return np.rint(np.asarray(rad, dtype=np.float64) * RAD_TO_MILLIDEG).astype(np.int64)


def millideg_to_rad(millideg: np.ndarray | int) -> np.ndarray:
    return np.asarray(millideg, dtype=np.float64) / RAD_TO_MILLIDEG


def m_to_microm(m: np.ndarray | float) -> np.ndarray:
    return np.rint(np.asarray(m, dtype=np.float64) * M_TO_MICROM).astype(np.int64)


def microm_to_m(microm: np.ndarray | int) -> np.ndarray:
    return np.asarray(microm, dtype=np.float64) / M_TO_MICROM


def check_arm_vector(q: np.ndarray, what: str = "arm vector") -> np.ndarray:
    """A finite float vector of 7 values, or a ValueError naming `what`."""
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (ARM_DOF,):
        raise ValueError(f"{what}: got shape {q.shape}, expected ({ARM_DOF},) = {list(ARM_JOINT_NAMES)}")
    bad = [ARM_JOINT_NAMES[i] for i in np.flatnonzero(~np.isfinite(q))]
    if bad:
        raise ValueError(f"{what}: non-finite value for {bad}")
    return q


def clamp_arm(q: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Clip into the arm's joint and gripper limits; also return the names that were clipped."""
    q = check_arm_vector(q)
    clipped = np.clip(q, ARM_LOWER, ARM_UPPER)
    names = [ARM_JOINT_NAMES[i] for i in np.flatnonzero(clipped != q)]
    return clipped, names


def arm_to_sdk(q: np.ndarray) -> SdkArmCommand:
    """SI arm vector (already within limits) -> SDK integers."""
    q = check_arm_vector(q)
    joints = tuple(int(v) for v in rad_to_millideg(q[:6]))
    return SdkArmCommand(joints=joints, gripper=int(m_to_microm(q[6])))  # type: ignore[arg-type]


def sdk_to_arm(joints_millideg: tuple[int, ...] | list[int], gripper_microm: int) -> np.ndarray:
    """SDK feedback integers -> SI arm vector."""
    if len(joints_millideg) != 6:
        raise ValueError(f"joint feedback: got {len(joints_millideg)} values, expected 6")
    out = np.empty(ARM_DOF, dtype=np.float64)
    out[:6] = millideg_to_rad(np.asarray(joints_millideg))
    out[6] = microm_to_m(gripper_microm)
    return out


def check_gripper_effort(effort: int) -> int:
    if isinstance(effort, bool) or not isinstance(effort, (int, np.integer)):
        raise ValueError(f"gripper effort: got {effort!r}, expected an integer in 0.001 N·m")
    if not 0 <= effort <= GRIPPER_EFFORT_MAX:
        raise ValueError(f"gripper effort: got {effort}, expected 0..{GRIPPER_EFFORT_MAX} (0.001 N·m)")
    return int(effort)

"""Scripted solution of the drawer task: the left arm works the drawer, the right arm moves the block."""

from __future__ import annotations

import numpy as np

from wav_core.robot import piper

from ..env import SimEnv
from ..tasks.base import body_yaw
from ..tasks.drawer import BLOCK_HALF_M, FLOOR_TOP_M, HANDLE_OFFSET
from .grasp import BoxGraspChooser, grasp_pose
from .motion import GRIPPER_CLOSED_M, GRIPPER_OPEN_M, Phase

PULL_M = 0.14
PUSH_OVERSHOOT_M = 0.01
"""Pushing aims slightly past the closed position; the slide's end stop takes the rest."""
DROP_CLEARANCE_M = 0.015
"""The block is released this far above the drawer floor, so the palm stays above the drawer front."""
DROP_LEAN_YAW = np.deg2rad(30.0)
CARRY_Z_M = 0.17
"""Tool height while carrying: the held block clears the open drawer's front panel (top at 0.105 m)."""
HOME_L, HOME_R = piper.HOME[0:6], piper.HOME[7:13]


def _handle(env: SimEnv) -> np.ndarray:
    return env.data.site("handle").xpos.copy()


def _handle_closed(env: SimEnv) -> np.ndarray:
    """Where the handle is when the drawer is shut (the cabinet is not rotated)."""
    return env.model.body("cabinet").pos.copy() + HANDLE_OFFSET


def _block(env: SimEnv) -> np.ndarray:
    return env.data.body("block").xpos.copy() + np.array([0.0, 0.0, 0.005])


def _drop_point(env: SimEnv) -> np.ndarray:
    """Middle of the pulled-out part of the drawer (0.04 m in front of its centre), just above its floor."""
    drawer = env.data.body("drawer").xpos
    return np.array([drawer[0] - 0.04, drawer[1], FLOOR_TOP_M + BLOCK_HALF_M + DROP_CLEARANCE_M + 0.005])


def _drop_pose(env: SimEnv, height: float = 0.0, lift: float = 0.0):
    """Tool leaning mostly sideways: the palm then clears both the drawer front and the cabinet, which
    are only ~0.13 m apart when the drawer is open (a 30 degree turn towards +x keeps it reachable)."""
    outward = np.array([np.sin(DROP_LEAN_YAW), np.cos(DROP_LEAN_YAW), 0.0])
    closing = float(np.arctan2(outward[1], outward[0]) - np.pi / 2)
    return grasp_pose("right", _drop_point(env) + [0, 0, height], closing_yaw=closing, lift=lift, outward=outward)


def drawer_phases(env: SimEnv, leave_open_m: float = 0.0) -> list[Phase]:
    """The script; `leave_open_m` > 0 stops the push that far short of closed (a drawer left open)."""
    chooser = BoxGraspChooser(env.model, "right", lift_z=CARRY_Z_M)

    def block_grasp(env: SimEnv, lift: float = 0.0, z: float | None = None):
        yaw, tilt = chooser(env.data.qpos, _block(env), body_yaw(env.data, "block"))
        point = _block(env) if z is None else np.r_[_block(env)[:2], z]
        return grasp_pose("right", point, yaw, tilt, lift=lift)

    push_to = PUSH_OVERSHOOT_M if leave_open_m <= 0 else -leave_open_m
    return [
        Phase("reach", goals={
            "left": lambda env: grasp_pose("left", _handle(env), lift=0.08),
            "right": lambda env: block_grasp(env, lift=0.08),
        }, grippers={"left": GRIPPER_OPEN_M, "right": GRIPPER_OPEN_M}, tol=0.02),
        Phase("descend", goals={
            "left": lambda env: grasp_pose("left", _handle(env)),
            "right": block_grasp,
        }, speed=0.12, tol=0.008),
        Phase("grasp", grippers={"left": GRIPPER_CLOSED_M, "right": GRIPPER_CLOSED_M}, wait_s=0.5),
        Phase("pull_and_lift", goals={
            "left": lambda env: grasp_pose("left", _handle_closed(env) - [PULL_M, 0, 0]),
            "right": lambda env: block_grasp(env, z=CARRY_Z_M),
        }, speed=0.12, tol=0.015, timeout_s=5.0, latch=True),
        Phase("release_handle", grippers={"left": GRIPPER_OPEN_M}, wait_s=0.3),
        Phase("clear_and_carry", goals={
            "left": lambda env: grasp_pose("left", _handle(env), lift=0.1),
            "right": lambda env: _drop_pose(env, height=CARRY_Z_M - _drop_point(env)[2]),
        }, speed=0.2, tol=0.015),
        Phase("lower_block", goals={"right": lambda env: _drop_pose(env)},
              speed=0.1, tol=0.01, timeout_s=3.0),
        Phase("release_block", grippers={"right": GRIPPER_OPEN_M}, wait_s=0.4),
        Phase("retreat_right", goals={
            "right": lambda env: _drop_pose(env, lift=0.12),
            "left": lambda env: grasp_pose("left", _handle(env), lift=0.06),
        }, speed=0.2, tol=0.02),
        Phase("regrasp_handle", goals={"left": lambda env: grasp_pose("left", _handle(env))},
              joints={"right": HOME_R}, speed=0.12, tol=0.008),
        Phase("grip_handle", grippers={"left": GRIPPER_CLOSED_M}, wait_s=0.4),
        Phase("push_closed", goals={
            "left": lambda env: grasp_pose("left", _handle_closed(env) + [push_to, 0, 0]),
        }, speed=0.12, tol=0.02, timeout_s=4.0),
        Phase("let_go", grippers={"left": GRIPPER_OPEN_M}, wait_s=0.3),
        Phase("withdraw", goals={"left": lambda env: grasp_pose("left", _handle(env), lift=0.1)},
              speed=0.2, tol=0.02),
        Phase("home", joints={"left": HOME_L, "right": HOME_R}, wait_s=0.2),
    ]

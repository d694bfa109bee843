"""Scripted solution of the bowl task with the arm on the cup's side of the table."""

from __future__ import annotations

import numpy as np

from wav_core.robot import piper

from ..env import SimEnv
from ..tasks.bowl import BASE_TOP_M, BOWL_WALL_HEIGHT_M, CUP_HALF_HEIGHT_M
from .grasp import grasp_pose
from .motion import GRIPPER_CLOSED_M, GRIPPER_OPEN_M, Phase

CARRY_CLEARANCE_M = 0.04


def _cup_grasp(env: SimEnv) -> np.ndarray:
    return env.data.body("cup").xpos.copy() + np.array([0.0, 0.0, 0.012])


def _bowl_drop(env: SimEnv, height: float) -> np.ndarray:
    bowl = env.data.body("bowl").xpos
    return np.array([bowl[0], bowl[1], bowl[2] + BASE_TOP_M + CUP_HALF_HEIGHT_M + 0.012 + height])


def bowl_phases(arm: str) -> list[Phase]:
    home = {"left": piper.HOME[0:6], "right": piper.HOME[7:13]}[arm]
    carry = BOWL_WALL_HEIGHT_M + CARRY_CLEARANCE_M
    return [
        Phase("reach", goals={arm: lambda env: grasp_pose(arm, _cup_grasp(env), lift=0.08)},
              grippers={arm: GRIPPER_OPEN_M}, tol=0.02),
        Phase("descend", goals={arm: lambda env: grasp_pose(arm, _cup_grasp(env))}, speed=0.12, tol=0.008),
        Phase("grasp", grippers={arm: GRIPPER_CLOSED_M}, wait_s=0.5),
        Phase("lift", goals={arm: lambda env: grasp_pose(arm, np.r_[_cup_grasp(env)[:2], 0.072 + carry])},
              speed=0.15, tol=0.015),
        Phase("carry", goals={arm: lambda env: grasp_pose(arm, _bowl_drop(env, carry))}, speed=0.2, tol=0.012),
        Phase("lower", goals={arm: lambda env: grasp_pose(arm, _bowl_drop(env, 0.0))}, speed=0.1, tol=0.01),
        Phase("release", grippers={arm: GRIPPER_OPEN_M}, wait_s=0.4),
        Phase("retreat", goals={arm: lambda env: grasp_pose(arm, _bowl_drop(env, 0.0), lift=0.1)}, speed=0.2, tol=0.02),
        Phase("home", joints={arm: home}, wait_s=0.2),
    ]

"""Tool poses for tilted top-down grasps that the Piper wrist can reach across the table."""

from __future__ import annotations

import mujoco
import numpy as np

from ..ik import ArmIK, grasp_rotation
from ..scene import ARM_BASES

GRASP_TILT = 0.7
"""Approach axis 40 degrees from vertical, leaning away from the arm's base: reachable from x 0.25 to 0.55 m."""


def nominal_closing_yaw(arm: str, point: np.ndarray) -> float:
    """Fingers close across the reach direction, so the wrist needs no twist."""
    radial = point[:2] - np.asarray(ARM_BASES[arm][:2])
    return float(np.arctan2(radial[1], radial[0]) + np.pi / 2)


class BoxGraspChooser:
    """Picks which pair of a box's faces to grasp and how far to tilt: the choice whose grasp and lifted
    poses IK reaches best with the least wrist rotation (j6 only turns +-120 degrees and j5 +-70, so the
    nominal choice is not always reachable)."""

    TILTS = (0.7, 0.5, 0.9, 0.3)

    def __init__(self, model: mujoco.MjModel, arm: str, lift_z: float):
        self.arm = arm
        self.lift_z = lift_z
        self.ik = ArmIK(model, arm)
        self._cache: tuple[tuple, tuple[float, float]] | None = None

    def __call__(self, qpos: np.ndarray, point: np.ndarray, box_yaw: float) -> tuple[float, float]:
        """(closing yaw, tilt) for grasping a box at `point` with yaw `box_yaw`."""
        key = (*np.round(point, 3), round(box_yaw, 2))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        best, best_cost = (box_yaw, GRASP_TILT), np.inf
        lifted = np.array([point[0], point[1], self.lift_z])
        for tilt in self.TILTS:
            for k in range(4):
                yaw = box_yaw + k * np.pi / 2
                cost = 0.002 * abs(tilt - GRASP_TILT)
                for target in (point, lifted):
                    res = self.ik.solve(qpos, *grasp_pose(self.arm, target, yaw, tilt))
                    cost += res.pos_err_m + 0.05 * res.rot_err_rad + 0.002 * (abs(res.q[5]) + abs(res.q[3]))
                if cost < best_cost:
                    best, best_cost = (float(yaw), tilt), cost
        self._cache = (key, best)
        return best


def grasp_pose(arm: str, point: np.ndarray, closing_yaw: float | None = None, tilt: float = GRASP_TILT,
               lift: float = 0.0, outward: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tool pose grasping at `point`; `lift` backs off along the approach axis (pre-grasp / retreat).

    `outward` is the horizontal direction the tool tip leans towards (default: away from the arm's base).
    """
    point = np.asarray(point, dtype=np.float64)
    yaw = nominal_closing_yaw(arm, point) if closing_yaw is None else closing_yaw
    if outward is None:
        outward = point - np.asarray(ARM_BASES[arm])
    rot = grasp_rotation(yaw, tilt, outward)
    return point - lift * rot[:, 2], rot

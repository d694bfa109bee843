"""Damped least-squares inverse kinematics on MuJoCo's site Jacobians.

Solved on a private MjData so planning never disturbs the simulation; seeded from the measured joint
state so successive solutions stay on the same branch and the motion is smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from wav_core.robot import piper


POSTURE_WEIGHT = np.array([0.0, 0.0, 0.0, 2e-3, 0.0, 0.0])


@dataclass
class IKResult:
    q: np.ndarray
    pos_err_m: float
    rot_err_rad: float


class ArmIK:
    """6-DoF pose IK for one arm's tool point (`<arm>_tcp`)."""

    def __init__(self, model: mujoco.MjModel, arm: str, damping: float = 0.02, iters: int = 60):
        self.model = model
        self.data = mujoco.MjData(model)
        self.site = model.site(f"{arm}_tcp").id
        self.qadr = np.array([model.jnt_qposadr[model.joint(f"{arm}_joint{i}").id] for i in range(1, 7)])
        self.dadr = np.array([model.jnt_dofadr[model.joint(f"{arm}_joint{i}").id] for i in range(1, 7)])
        self.base_pos = model.body(f"{arm}_base").pos.copy()
        self.damping = damping
        self.iters = iters
        self._jp = np.zeros((3, model.nv))
        self._jr = np.zeros((3, model.nv))

    def tcp_pose(self, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.data.qpos[:] = qpos
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy()

    def solve(self, qpos: np.ndarray, target_pos: np.ndarray, target_rot: np.ndarray,
              rot_weight: float = 0.5, tol_m: float = 0.003, seed: np.ndarray | None = None) -> IKResult:
        """Joint angles (6) reaching the target pose, starting from the full-model `qpos`.

        Damped least squares can stall against a joint limit on the wrong branch; then it restarts from
        a reaching posture aimed at the target and keeps the better answer.
        """
        start = qpos[self.qadr].copy() if seed is None else np.asarray(seed, dtype=np.float64).copy()
        best = self._solve_from(qpos, start, target_pos, target_rot, rot_weight)
        if best.pos_err_m > tol_m or best.rot_err_rad > 0.05:
            base = self.base_pos
            yaw = float(np.arctan2(target_pos[1] - base[1], target_pos[0] - base[0]))
            seed = np.array([yaw, 1.6, -1.3, 0.0, 0.8, 0.0])
            alt = self._solve_from(qpos, np.clip(seed, piper.JOINT_LOWER, piper.JOINT_UPPER), target_pos, target_rot,
                                   rot_weight)
            if alt.pos_err_m + 0.05 * alt.rot_err_rad < best.pos_err_m + 0.05 * best.rot_err_rad:
                best = alt
        return best

    def _solve_from(self, qpos: np.ndarray, q: np.ndarray, target_pos: np.ndarray, target_rot: np.ndarray,
                    rot_weight: float) -> IKResult:
        d = self.data
        d.qpos[:] = qpos
        lo, hi = piper.JOINT_LOWER, piper.JOINT_UPPER
        err = np.zeros(6)
        for _ in range(self.iters):
            d.qpos[self.qadr] = q
            mujoco.mj_kinematics(self.model, d)
            mujoco.mj_comPos(self.model, d)
            cur_rot = d.site_xmat[self.site].reshape(3, 3)
            err[:3] = target_pos - d.site_xpos[self.site]
            r = target_rot @ cur_rot.T
            err[3:] = 0.5 * np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) * rot_weight
            if np.linalg.norm(err[:3]) < 2e-4 and np.linalg.norm(err[3:]) < 2e-3:
                break
            mujoco.mj_jacSite(self.model, d, self._jp, self._jr, self.site)
            jac = np.vstack([self._jp[:, self.dadr], self._jr[:, self.dadr] * rot_weight])
            # Near the wrist singularity (j5 ~ 0) only j4 + j6 is determined; the posture term keeps j4
            # near zero there instead of drifting to its limit.
            lhs = jac.T @ jac + self.damping**2 * np.eye(6) + np.diag(POSTURE_WEIGHT)
            dq = np.linalg.solve(lhs, jac.T @ err - POSTURE_WEIGHT * q)
            step = np.linalg.norm(dq)
            if step < 1e-6:
                break
            if step > 0.3:
                dq *= 0.3 / step
            q = np.clip(q + dq, lo, hi)
        d.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, d)
        pos_err = float(np.linalg.norm(target_pos - d.site_xpos[self.site]))
        r = target_rot @ d.site_xmat[self.site].reshape(3, 3).T
        rot_err = float(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1)))
        return IKResult(q, pos_err, rot_err)


def grasp_rotation(closing_yaw: float, tilt: float, outward: np.ndarray) -> np.ndarray:
    """Tool frame with fingers closing along horizontal `closing_yaw`, approach axis tilted `tilt` rad
    from straight down towards the horizontal direction `outward` (away from the arm's base).

    The Piper wrist bends at most 1.22 rad, so far or high targets cannot be reached straight down.
    """
    c = np.array([np.cos(closing_yaw), np.sin(closing_yaw), 0.0])
    n = np.array([-c[1], c[0], 0.0])
    if n[:2] @ outward[:2] < 0:
        n = -n
    z = np.array([0.0, 0.0, -np.cos(tilt)]) + np.sin(tilt) * n
    x = np.cross(c, z)
    return np.column_stack([x, c, z])


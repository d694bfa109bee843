"""Where a point of the rig's base frame appears in a simulated camera's image.

The MuJoCo world frame is the URDF's `base_link`, so anything expressed there (the plan markers'
tool-point paths) can be drawn over a rendered frame. MuJoCo cameras look along their -z axis with
y up; `fovy` is the vertical field of view, and rendered images have their origin at the top left.
"""

from __future__ import annotations

import mujoco
import numpy as np


def camera_matrix(model: mujoco.MjModel, data: mujoco.MjData, camera: str, size_hw: tuple[int, int]) -> np.ndarray:
    """[3, 4] projection from homogeneous world points to homogeneous pixels (u right, v down) for
    an image of `size_hw` (height, width) rendered from `camera` at the state in `data`."""
    try:
        c = model.camera(camera).id
    except KeyError:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(f"camera {camera!r}: not in the simulator's model (has {names})") from None
    h, w = size_hw
    f = 0.5 * h / np.tan(np.deg2rad(model.cam_fovy[c]) / 2)
    rot = data.cam_xmat[c].reshape(3, 3)  # columns: the camera's x, y, z axes in the world
    # optical axes (x right, y down, z forward) from MuJoCo's (x right, y up, z backward)
    optical = rot @ np.diag([1.0, -1.0, -1.0])
    extrinsic = np.hstack([optical.T, -optical.T @ data.cam_xpos[c].reshape(3, 1)])
    intrinsic = np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])
    return intrinsic @ extrinsic


def project(matrix: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels [N, 2] (u, v) of world points [N, 3], and whether each lies in front of the camera."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    hom = matrix @ np.hstack([points, np.ones((len(points), 1))]).T
    depth = hom[2]
    front = depth > 1e-6
    uv = np.where(front, hom[:2] / np.where(front, depth, 1.0), np.nan).T
    return uv, front

"""Long-horizon drawer task: open the drawer, put the block inside, close the drawer.

The cabinet is a fixed body moved per episode through `body_pos`; the drawer is a damped slide joint
with a vertical bar handle, so it stays where the gripper leaves it.
"""

from __future__ import annotations

import mujoco
import numpy as np

from .base import Task, set_free_pose, touching

DRAWER_TRAVEL_M = 0.16
OPEN_M = 0.11
"""Opening beyond which the drawer counts as opened (the block needs ~0.06 m of exposed drawer)."""
CLOSED_M = 0.012
BLOCK_HALF_M = 0.02
FLOOR_TOP_M = 0.021
"""Height of the drawer's floor surface above the table."""
CAB_HALF = (0.11, 0.13, 0.075)
HANDLE_OFFSET = np.array([-0.165, 0.0, 0.065])
"""Handle grasp point in the drawer frame (the bar runs vertically through it)."""


class DrawerTask(Task):
    name = "drawer"
    instruction = "open the drawer, put the block inside, then close the drawer"
    subgoals = ("opened", "placed", "closed")

    def objects_xml(self) -> str:
        hx, hy, hz = CAB_HALF
        return f"""
<body name="cabinet" pos="0.55 0.02 0">
  <geom name="cab_bottom" type="box" size="{hx} {hy} 0.005" pos="0 0 0.005" class="fixture" rgba="0.35 0.45 0.6 1"/>
  <geom name="cab_top" type="box" size="{hx} {hy} 0.005" pos="0 0 0.145" class="fixture" rgba="0.35 0.45 0.6 1"/>
  <geom name="cab_side_l" type="box" size="{hx} 0.005 0.07" pos="0 {hy - 0.005} 0.075" class="fixture" rgba="0.35 0.45 0.6 1"/>
  <geom name="cab_side_r" type="box" size="{hx} 0.005 0.07" pos="0 {-hy + 0.005} 0.075" class="fixture" rgba="0.35 0.45 0.6 1"/>
  <geom name="cab_back" type="box" size="0.005 {hy} 0.07" pos="{hx - 0.005} 0 0.075" class="fixture" rgba="0.35 0.45 0.6 1"/>
  <body name="drawer">
    <joint name="drawer_slide" type="slide" axis="1 0 0" range="{-DRAWER_TRAVEL_M} 0" damping="8" frictionloss="0.5" armature="0.2"/>
    <inertial pos="0 0 0.04" mass="0.4" diaginertia="0.002 0.002 0.002"/>
    <geom name="drawer_floor" type="box" size="0.1 0.11 0.005" pos="0 0 0.016" class="fixture" rgba="0.8 0.78 0.7 1"/>
    <geom name="drawer_front" type="box" size="0.006 0.115 0.045" pos="-0.106 0 0.06" class="fixture" rgba="0.9 0.88 0.8 1"/>
    <geom name="drawer_back" type="box" size="0.005 0.11 0.03" pos="0.095 0 0.05" class="fixture" rgba="0.8 0.78 0.7 1"/>
    <geom name="drawer_side_l" type="box" size="0.1 0.005 0.03" pos="0 0.105 0.05" class="fixture" rgba="0.8 0.78 0.7 1"/>
    <geom name="drawer_side_r" type="box" size="0.1 0.005 0.03" pos="0 -0.105 0.05" class="fixture" rgba="0.8 0.78 0.7 1"/>
    <geom name="handle_bar" type="capsule" size="0.009" fromto="-0.165 0 0.03 -0.165 0 0.1" class="fixture" rgba="0.2 0.2 0.2 1"/>
    <geom name="handle_low" type="box" size="0.027 0.006 0.006" pos="-0.139 0 0.03" class="fixture" rgba="0.2 0.2 0.2 1"/>
    <geom name="handle_high" type="box" size="0.027 0.006 0.006" pos="-0.139 0 0.1" class="fixture" rgba="0.2 0.2 0.2 1"/>
    <site name="handle" pos="{HANDLE_OFFSET[0]} {HANDLE_OFFSET[1]} {HANDLE_OFFSET[2]}" size="0.004" rgba="0 0 0 0"/>
  </body>
</body>
<body name="block" pos="0.33 -0.3 {BLOCK_HALF_M}">
  <freejoint name="block"/>
  <geom name="block" type="box" size="{BLOCK_HALF_M} {BLOCK_HALF_M} {BLOCK_HALF_M}" mass="0.05" class="object" rgba="0.85 0.15 0.12 1"/>
</body>"""

    def randomise(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        front_x = rng.uniform(0.43, 0.47)
        model.body("cabinet").pos[:] = [front_x + CAB_HALF[0], rng.uniform(-0.02, 0.06), 0.0]
        data.qpos[model.jnt_qposadr[model.joint("drawer_slide").id]] = 0.0
        pos = [rng.uniform(0.28, 0.38), rng.uniform(-0.36, -0.24), BLOCK_HALF_M + 1e-4]
        set_free_pose(model, data, "block", pos, rng.uniform(-0.6, 0.6))

    @staticmethod
    def opening(model: mujoco.MjModel, data: mujoco.MjData) -> float:
        return float(-data.qpos[model.jnt_qposadr[model.joint("drawer_slide").id]])

    @staticmethod
    def block_in_drawer(data: mujoco.MjData) -> bool:
        """Block centre inside the drawer's walls (drawer frame) and resting low in it."""
        rot = data.body("drawer").xmat.reshape(3, 3)
        local = rot.T @ (data.body("block").xpos - data.body("drawer").xpos)
        return bool(abs(local[0]) < 0.09 and abs(local[1]) < 0.1 and local[2] < FLOOR_TOP_M + 2.5 * BLOCK_HALF_M)

    def progress(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        rot = data.body("drawer").xmat.reshape(3, 3)
        local = rot.T @ (data.body("block").xpos - data.body("drawer").xpos)
        reach = {name: float(np.linalg.norm(tool - target)) for name, (tool, target) in self.reaches(model, data).items()}
        return {**reach,
                "drawer short of open": max(0.0, OPEN_M - self.opening(model, data)),
                "block to drawer": float(np.hypot(local[0], local[1]))}

    def reaches(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {"left tool to handle": (data.site("left_tcp").xpos.copy(), data.site("handle").xpos.copy()),
                "right tool to block": (data.site("right_tcp").xpos.copy(), data.body("block").xpos.copy())}

    def conditions(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, bool]:
        opening = self.opening(model, data)
        inside = self.block_in_drawer(data)
        closed = opening < CLOSED_M
        block = model.body("block").id
        held = any(touching(model, data, block, model.body(f"{arm}_finger_{f}").id)
                   for arm in ("left", "right") for f in ("a", "b"))
        return {"opened": opening > OPEN_M, "placed": inside and not held, "closed": closed and inside,
                "success": closed and inside}

"""Put the cup into the bowl, with whichever arm is on the cup's side."""

from __future__ import annotations

import mujoco
import numpy as np

from .base import Task, set_free_pose, touching

CUP_RADIUS_M = 0.024
CUP_HALF_HEIGHT_M = 0.04
BOWL_INNER_RADIUS_M = 0.075
BOWL_WALL_HEIGHT_M = 0.045
BOWL_SEGMENTS = 16
BASE_TOP_M = 0.008
"""The wall segments stand on the base, clear of the table: the bowl touches the table with its base only."""


class BowlTask(Task):
    name = "bowl"
    instruction = "put the cup into the bowl"
    subgoals = ("grasped", "placed")

    def objects_xml(self) -> str:
        wall = []
        r = BOWL_INNER_RADIUS_M + 0.006
        half_len = np.pi * r / BOWL_SEGMENTS + 0.004
        for k in range(BOWL_SEGMENTS):
            a = 2 * np.pi * k / BOWL_SEGMENTS
            wall.append(f'<geom type="box" size="0.006 {half_len:.4f} {BOWL_WALL_HEIGHT_M / 2}" '
                        f'pos="{r * np.cos(a):.4f} {r * np.sin(a):.4f} {BASE_TOP_M + BOWL_WALL_HEIGHT_M / 2}" '
                        f'euler="0 0 {a:.4f}" class="object" rgba="0.95 0.95 0.92 1" mass="0.03"/>')
        walls = "\n  ".join(wall)
        return f"""
<body name="bowl" pos="0.4 0 0">
  <freejoint name="bowl"/>
  <geom name="bowl_base" type="cylinder" size="{BOWL_INNER_RADIUS_M + 0.012} {BASE_TOP_M / 2}" pos="0 0 {BASE_TOP_M / 2}" class="object" rgba="0.95 0.95 0.92 1" mass="0.2"/>
  {walls}
</body>
<body name="cup" pos="0.35 -0.25 {CUP_HALF_HEIGHT_M}">
  <freejoint name="cup"/>
  <geom name="cup" type="cylinder" size="{CUP_RADIUS_M} {CUP_HALF_HEIGHT_M}" mass="0.05" class="object" rgba="0.15 0.45 0.85 1"/>
</body>"""

    def randomise(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        side = rng.choice([-1.0, 1.0])
        bowl = [rng.uniform(0.36, 0.46), rng.uniform(-0.07, 0.07), 0.0]
        cup = [rng.uniform(0.26, 0.38), side * rng.uniform(0.18, 0.32), CUP_HALF_HEIGHT_M + 1e-4]
        set_free_pose(model, data, "bowl", bowl, rng.uniform(-np.pi, np.pi))
        set_free_pose(model, data, "cup", cup, 0.0)

    def progress(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        cup, bowl = data.body("cup").xpos, data.body("bowl").xpos
        tool, target = self.reaches(model, data)["nearest tool to cup"]
        return {"nearest tool to cup": float(np.linalg.norm(tool - target)), "cup height": float(cup[2] - CUP_HALF_HEIGHT_M),
                "cup to bowl": float(np.hypot(*(cup[:2] - bowl[:2])))}

    def reaches(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        cup = data.body("cup").xpos.copy()
        tool = min((data.site(f"{arm}_tcp").xpos.copy() for arm in ("left", "right")),
                   key=lambda p: float(np.linalg.norm(p - cup)))
        return {"nearest tool to cup": (tool, cup)}

    def conditions(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, bool]:
        cup = data.body("cup").xpos
        bowl = data.body("bowl").xpos
        horiz = float(np.hypot(*(cup[:2] - bowl[:2])))
        # Centre inside the rim and resting low: a cup leaning on the bowl's wall is still in the bowl.
        in_bowl = horiz < BOWL_INNER_RADIUS_M and cup[2] - bowl[2] < CUP_HALF_HEIGHT_M + 0.03
        cup_id = model.body("cup").id
        held = any(touching(model, data, cup_id, model.body(f"{arm}_finger_{f}").id)
                   for arm in ("left", "right") for f in ("a", "b"))
        grasped = held and cup[2] > CUP_HALF_HEIGHT_M + 0.03
        placed = bool(in_bowl and not held)
        return {"grasped": bool(grasped), "placed": placed, "success": placed}

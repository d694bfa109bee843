"""The dual-arm rig as one MJCF document: table, two Piper arms, the head camera and a task's objects.

Geometry is generated in code so the model needs no asset files and the arm kinematics always follow
the SDK constants.
"""

from __future__ import annotations

import numpy as np

from .arm import actuators_xml, arm_body_xml

TIMESTEP_S = 1.0 / 600.0
"""600 Hz physics: 200 Hz joint feedback, 30 Hz cameras and 20 Hz decisions are whole numbers of steps."""
ARM_BASES: dict[str, tuple[float, float, float]] = {"left": (0.0, 0.25, 0.0), "right": (0.0, -0.25, 0.0)}
"""Both arms on the table's near edge, facing +x; the table top is z = 0."""
HEAD_CAMERA_POS = np.array([-0.22, 0.0, 0.72])
HEAD_CAMERA_TARGET = np.array([0.40, 0.0, 0.0])


def look_at_xyaxes(pos: np.ndarray, target: np.ndarray) -> str:
    """MJCF `xyaxes` for a camera at `pos` looking at `target` with world z up in the image."""
    fwd = target - pos
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return " ".join(f"{v:.5f}" for v in (*right, *up))


def scene_xml(task_objects: str, shadows: bool = False, offscreen: tuple[int, int] = (640, 480)) -> str:
    """The complete model; `task_objects` is worldbody XML from a task (bodies named by the task)."""
    cast = "true" if shadows else "false"
    arms = "\n".join(arm_body_xml(f"{a}_", pos, 0.0) for a, pos in ARM_BASES.items())
    acts = "\n".join(actuators_xml(f"{a}_") for a in ARM_BASES)
    head = look_at_xyaxes(HEAD_CAMERA_POS, HEAD_CAMERA_TARGET)
    return f"""
<mujoco model="piper_dual">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP_S:.10f}" cone="elliptic" impratio="5" integrator="implicitfast"/>
  <visual>
    <global offwidth="{offscreen[0]}" offheight="{offscreen[1]}"/>
    <quality shadowsize="2048"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0.05 0.05 0.05"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.72 0.78 0.84" rgb2="0.32 0.34 0.38" width="64" height="64"/>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.32 0.34 0.36" rgb2="0.28 0.30 0.32" width="256" height="256"/>
    <material name="floor" texture="floor" texrepeat="6 6"/>
    <texture name="wood" type="2d" builtin="flat" rgb1="0.62 0.5 0.38" width="32" height="32"/>
    <material name="table" texture="wood" rgba="0.75 0.62 0.48 1"/>
  </asset>
  <default>
    <geom friction="1.0 0.02 0.001" solref="0.004 1" solimp="0.95 0.99 0.001"/>
    <default class="arm"><geom contype="2" conaffinity="1" rgba="0.15 0.15 0.17 1" condim="3"/></default>
    <default class="finger"><geom contype="2" conaffinity="1" rgba="0.85 0.85 0.85 1" condim="4" friction="1.5 0.02 0.001"/></default>
    <default class="visual"><geom contype="0" conaffinity="0" rgba="0.1 0.1 0.1 1"/></default>
    <default class="object"><geom contype="1" conaffinity="3" condim="4" friction="1.2 0.02 0.001"/></default>
    <default class="fixture"><geom contype="1" conaffinity="3" condim="3"/></default>
  </default>
  <worldbody>
    <light name="key" pos="0.3 0.4 1.5" dir="0 -0.2 -1" diffuse="0.6 0.6 0.6" castshadow="{cast}"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.75" material="floor" class="fixture"/>
    <geom name="table" type="box" size="0.45 0.6 0.02" pos="0.3 0 -0.02" material="table" class="fixture"/>
    <geom name="table_leg" type="box" size="0.4 0.5 0.36" pos="0.3 0 -0.4" rgba="0.4 0.34 0.28 1" class="visual"/>
    <camera name="cam_high" pos="{' '.join(f'{v:.4f}' for v in HEAD_CAMERA_POS)}" xyaxes="{head}" fovy="58"/>
    {arms}
    {task_objects}
  </worldbody>
  <actuator>
    {acts}
  </actuator>
</mujoco>
"""

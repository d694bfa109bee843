"""MJCF for one Piper arm, built from the SDK's modified-DH parameters.

Each DH row becomes a body whose frame is the DH frame (RotX(alpha) TransX(a) RotZ(offset) TransZ(d)),
so the joint angle the simulator reports is the angle the SDK and the driver use.
"""

from __future__ import annotations

import numpy as np

from wav_core.robot import piper

FINGER_TRAVEL_M = piper.GRIPPER_MAX_M / 2
"""Each finger slides half the opening: commanded opening = distance between the finger pads."""
TCP_OFFSET_M = 0.135
"""Tool point (between the finger pads) along the flange z axis."""
LINK_RADIUS_M = 0.032
JOINT_KP = (600.0, 800.0, 600.0, 150.0, 150.0, 100.0)
JOINT_DAMPING = (30.0, 40.0, 30.0, 6.0, 6.0, 4.0)
GRIPPER_KP = 400.0
GRIPPER_FORCE_N = 25.0


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])


def dh_frame(i: int) -> tuple[np.ndarray, np.ndarray]:
    """Position (m) and quaternion of DH frame i+1 in frame i (joint i+1's body in its parent)."""
    a = piper.DH_A_MM[i] / 1000.0
    d = piper.DH_D_MM[i] / 1000.0
    alpha = piper.DH_ALPHA[i]
    off = piper.DH_THETA_OFFSET[i]
    pos = np.array([a, -np.sin(alpha) * d, np.cos(alpha) * d])
    qx = np.array([np.cos(alpha / 2), np.sin(alpha / 2), 0.0, 0.0])
    qz = np.array([np.cos(off / 2), 0.0, 0.0, np.sin(off / 2)])
    return pos, _quat_mul(qx, qz)


def _fmt(v) -> str:
    return " ".join(f"{x:.6g}" for x in v)


def _link_geom(prefix: str, idx: int, start: np.ndarray, end: np.ndarray) -> str:
    if np.linalg.norm(end - start) < 0.02:
        return f'<geom name="{prefix}link{idx}" type="sphere" size="{LINK_RADIUS_M}" pos="{_fmt(start)}" class="arm"/>'
    return (f'<geom name="{prefix}link{idx}" type="capsule" size="{LINK_RADIUS_M}" '
            f'fromto="{_fmt(start)} {_fmt(end)}" class="arm"/>')


def arm_body_xml(prefix: str, base_pos: tuple[float, float, float], base_yaw: float) -> str:
    """The arm's kinematic tree, rooted at a fixed base body; names are prefixed (`left_`, `right_`)."""
    q_yaw = np.array([np.cos(base_yaw / 2), 0, 0, np.sin(base_yaw / 2)])
    parts = [f'<body name="{prefix}base" pos="{_fmt(base_pos)}" quat="{_fmt(q_yaw)}">',
             f'<geom name="{prefix}base_geom" type="cylinder" size="0.05 0.04" pos="0 0 0.04" class="arm"/>']
    frames = [dh_frame(i) for i in range(6)]
    for i in range(6):
        pos, quat = frames[i]
        nxt = frames[i + 1][0] if i < 5 else np.array([0.0, 0.0, 0.0])
        lo, hi = piper.JOINT_LOWER[i], piper.JOINT_UPPER[i]
        parts.append(f'<body name="{prefix}link{i + 1}" pos="{_fmt(pos)}" quat="{_fmt(quat)}" gravcomp="1">')
        parts.append(f'<joint name="{prefix}joint{i + 1}" type="hinge" axis="0 0 1" range="{lo} {hi}" '
                     f'damping="{JOINT_DAMPING[i]}" armature="0.05"/>')
        parts.append(f'<inertial pos="0 0 0" mass="{0.8 if i < 3 else 0.3}" diaginertia="0.002 0.002 0.002"/>')
        if i < 5:
            parts.append(_link_geom(prefix, i + 1, np.zeros(3), nxt))
    parts.append(_gripper_xml(prefix))
    parts.append("</body>" * 6)
    parts.append("</body>")
    return "\n".join(parts)


def _gripper_xml(prefix: str) -> str:
    """Palm, wrist camera and two parallel fingers sliding along the flange y axis."""
    t = FINGER_TRAVEL_M
    return f"""
<geom name="{prefix}wrist" type="cylinder" size="0.03 0.03" pos="0 0 -0.02" class="arm"/>
<geom name="{prefix}palm" type="box" size="0.025 0.055 0.02" pos="0 0 0.03" class="arm"/>
<camera name="cam_{prefix[:-1]}_wrist" pos="-0.065 0 0.02" xyaxes="0 -1 0 -0.95 0 0.3" fovy="70"/>
<geom name="{prefix}cam_housing" type="box" size="0.012 0.02 0.012" pos="-0.06 0 0.02" class="visual"/>
<site name="{prefix}tcp" pos="0 0 {TCP_OFFSET_M}" size="0.005" rgba="1 0 0 0"/>
<body name="{prefix}finger_a" pos="0 0 0.05">
  <joint name="{prefix}finger_a" type="slide" axis="0 1 0" range="0 {t}" damping="2" armature="0.01"/>
  <inertial pos="0 0.01 0.05" mass="0.05" diaginertia="1e-5 1e-5 1e-5"/>
  <geom name="{prefix}finger_a" type="box" size="0.012 0.006 0.045" pos="0 0.006 0.05" class="finger"/>
</body>
<body name="{prefix}finger_b" pos="0 0 0.05">
  <joint name="{prefix}finger_b" type="slide" axis="0 -1 0" range="0 {t}" damping="2" armature="0.01"/>
  <inertial pos="0 -0.01 0.05" mass="0.05" diaginertia="1e-5 1e-5 1e-5"/>
  <geom name="{prefix}finger_b" type="box" size="0.012 0.006 0.045" pos="0 -0.006 0.05" class="finger"/>
</body>"""


def actuators_xml(prefix: str) -> str:
    """Joint position servos; both fingers servo to half the commanded opening."""
    lines = []
    for i in range(6):
        lo, hi = piper.JOINT_LOWER[i], piper.JOINT_UPPER[i]
        lines.append(f'<position name="{prefix}joint{i + 1}" joint="{prefix}joint{i + 1}" kp="{JOINT_KP[i]}" '
                     f'ctrlrange="{lo} {hi}" forcerange="-80 80"/>')
    for f in ("a", "b"):
        lines.append(f'<position name="{prefix}finger_{f}" joint="{prefix}finger_{f}" kp="{GRIPPER_KP}" '
                     f'ctrlrange="0 {FINGER_TRAVEL_M}" forcerange="-{GRIPPER_FORCE_N} {GRIPPER_FORCE_N}"/>')
    return "\n".join(lines)

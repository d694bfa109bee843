"""URDF of the dual-arm rig, generated from the simulator's model so that TF on the robot and the
MuJoCo twin agree: the same SDK DH frames, joint names, gripper travel and camera poses.

    python -m wav_core.robot.urdf [--out urdf/piper_dual.urdf]

Frames: `base_link` is the table top between the arms (x forward, z up). Per arm (`left_`,
`right_`): `<arm>_base`, `<arm>_link1..6` (the DH frames; `<arm>_joint1..6` are the driver's joint
names with the arm prefix), `<arm>_tcp` (tool point between the finger pads) and the gripper:
`<arm>_gripper` is a prismatic joint whose value is the opening in metres, as the driver reports it;
both fingers follow it as mimic joints, half the opening each. Cameras: `cam_high`,
`cam_left_wrist`, `cam_right_wrist` are optical frames (z forward, x right, y down), the frame_id
the camera images carry.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from . import piper

ROOT = "base_link"
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "urdf" / "piper_dual.urdf"
GRIPPER_SPEED_M_S = 0.1
JOINT_EFFORT_NM = 80.0
GRIPPER_EFFORT_N = 25.0


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_rpy(r: np.ndarray) -> np.ndarray:
    """URDF roll-pitch-yaw (R = Rz(yaw) Ry(pitch) Rx(roll)) of a rotation matrix."""
    pitch = np.arctan2(-r[2, 0], np.hypot(r[0, 0], r[1, 0]))
    if np.hypot(r[0, 0], r[1, 0]) < 1e-9:  # gimbal lock: fold yaw into roll
        return np.array([np.arctan2(-r[1, 2], r[1, 1]), pitch, 0.0])
    return np.array([np.arctan2(r[2, 1], r[2, 2]), pitch, np.arctan2(r[1, 0], r[0, 0])])


def _num(v) -> str:
    return " ".join("0" if abs(x) < 1e-12 else f"{x:.10g}" for x in np.asarray(v, dtype=np.float64).reshape(-1))


def _origin(pos, rot: np.ndarray) -> str:
    return f'<origin xyz="{_num(pos)}" rpy="{_num(matrix_to_rpy(rot))}"/>'


def _geometry(m, g: int) -> str | None:
    """URDF shape for a MuJoCo geom (capsules become cylinders of the same radius and length)."""
    import mujoco

    kind, size = int(m.geom_type[g]), m.geom_size[g]
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        return f'<box size="{_num(2 * size)}"/>'
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return f'<sphere radius="{_num(size[:1])}"/>'
    if kind in (mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE):
        return f'<cylinder radius="{_num(size[:1])}" length="{_num(2 * size[1:2])}"/>'
    return None  # planes: the floor is not part of the rig


def _link(m, body: int | None, name: str) -> str:
    lines = [f"  <link name={quoteattr(name)}>"]
    if body is not None:
        for g in range(m.ngeom):
            if m.geom_bodyid[g] != body:
                continue
            shape = _geometry(m, g)
            if shape is None:
                continue
            origin = _origin(m.geom_pos[g], quat_to_matrix(m.geom_quat[g]))
            lines.append(f"    <visual>{origin}<geometry>{shape}</geometry></visual>")
            if m.geom_contype[g] or m.geom_conaffinity[g]:
                lines.append(f"    <collision>{origin}<geometry>{shape}</geometry></collision>")
        if m.body_mass[body] > 0:
            inertia = m.body_inertia[body]
            lines.append(f'    <inertial>{_origin(m.body_ipos[body], quat_to_matrix(m.body_iquat[body]))}<mass value="{m.body_mass[body]:.6g}"/>'
                         f'<inertia ixx="{inertia[0]:.6g}" ixy="0" ixz="0" iyy="{inertia[1]:.6g}" iyz="0" izz="{inertia[2]:.6g}"/></inertial>')
    lines.append("  </link>")
    return "\n".join(lines)


def _joint(name: str, kind: str, parent: str, child: str, pos, rot: np.ndarray, axis=None, limit: str = "", extra: str = "") -> str:
    parts = [f"  <joint name={quoteattr(name)} type={quoteattr(kind)}>",
             f"    <parent link={quoteattr(parent)}/><child link={quoteattr(child)}/>", f"    {_origin(pos, rot)}"]
    if axis is not None:
        parts.append(f'    <axis xyz="{_num(axis)}"/>')
    if limit:
        parts.append(f"    {limit}")
    if extra:
        parts.append(f"    {extra}")
    parts.append("  </joint>")
    return "\n".join(parts)


def _optical(rot_cam: np.ndarray) -> np.ndarray:
    """MuJoCo cameras look along -z with y up; optical frames look along +z with y down."""
    return rot_cam @ np.diag([1.0, -1.0, -1.0])


def rig_urdf() -> str:
    """The URDF document, from the simulator's compiled model of the rig (no task objects)."""
    import mujoco

    from ..sim.scene import ARM_BASES, scene_xml

    m = mujoco.MjModel.from_xml_string(scene_xml(""))
    body = {m.body(b).name: b for b in range(m.nbody)}
    links = [_link(m, 0, ROOT)]
    joints = []

    def pose(b: int) -> tuple[np.ndarray, np.ndarray]:
        return m.body_pos[b], quat_to_matrix(m.body_quat[b])

    for arm in ARM_BASES:
        p = f"{arm}_"
        links.append(_link(m, body[f"{p}base"], f"{p}base"))
        joints.append(_joint(f"{p}base_joint", "fixed", ROOT, f"{p}base", *pose(body[f"{p}base"])))
        parent = f"{p}base"
        for i in range(6):
            name = f"{p}link{i + 1}"
            b = body[name]
            j = m.body_jntadr[b]
            assert m.joint(j).name == f"{p}{piper.ARM_JOINT_NAMES[i]}" and not np.any(m.jnt_pos[j])
            lo, hi = m.jnt_range[j]
            links.append(_link(m, b, name))
            joints.append(_joint(m.joint(j).name, "revolute", parent, name, *pose(b), axis=m.jnt_axis[j],
                                 limit=f'<limit lower="{lo:.6g}" upper="{hi:.6g}" effort="{JOINT_EFFORT_NM:g}" velocity="{piper.MAX_JOINT_SPEED:g}"/>'))
            parent = name
        flange = parent
        site = m.site(f"{p}tcp").id
        links.append(_link(m, None, f"{p}tcp"))
        joints.append(_joint(f"{p}tcp_joint", "fixed", flange, f"{p}tcp", m.site_pos[site], quat_to_matrix(m.site_quat[site])))
        # The driver's gripper value is the opening; a frameless link carries it, the fingers mimic it.
        gripper = f"{p}{piper.ARM_JOINT_NAMES[6]}"
        links.append(_link(m, None, f"{p}gripper_opening"))
        joints.append(_joint(gripper, "prismatic", flange, f"{p}gripper_opening", np.zeros(3), np.eye(3), axis=(0, 1, 0),
                             limit=f'<limit lower="0" upper="{piper.GRIPPER_MAX_M:g}" effort="{GRIPPER_EFFORT_N:g}" velocity="{GRIPPER_SPEED_M_S:g}"/>'))
        for finger in ("finger_a", "finger_b"):
            b = body[f"{p}{finger}"]
            j = m.body_jntadr[b]
            links.append(_link(m, b, f"{p}{finger}"))
            joints.append(_joint(m.joint(j).name, "prismatic", flange, f"{p}{finger}", *pose(b), axis=m.jnt_axis[j],
                                 limit=f'<limit lower="0" upper="{m.jnt_range[j][1]:.6g}" effort="{GRIPPER_EFFORT_N:g}" velocity="{GRIPPER_SPEED_M_S / 2:g}"/>',
                                 extra=f'<mimic joint={quoteattr(gripper)} multiplier="0.5" offset="0"/>'))
    for c in range(m.ncam):
        name = m.camera(c).name
        parent_body = m.cam_bodyid[c]
        parent = ROOT if parent_body == 0 else m.body(parent_body).name
        links.append(_link(m, None, name))
        joints.append(_joint(f"{name}_joint", "fixed", parent, name, m.cam_pos[c], _optical(quat_to_matrix(m.cam_quat[c]))))
    body_xml = "\n".join(links + joints)
    return (f'<?xml version="1.0"?>\n<!-- Generated by `python -m wav_core.robot.urdf` from the simulator\'s model: edit the '
            f'generator, not this file. -->\n<robot name="piper_dual">\n{body_xml}\n</robot>\n')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(rig_urdf())
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The rig's URDF (what robot_state_publisher turns into TF) against the MuJoCo twin.

The URDF is read with the standard library's XML parser and its forward kinematics composed by
`UrdfKinematics` (the plan view's), independently of the generator; at random joint positions every link, tool point, finger and camera
frame must sit where MuJoCo puts it.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

from wav_core.robot import piper
from wav_core.robot.urdf import DEFAULT_OUT, rig_urdf
from wav_core.robot.urdf_kinematics import UrdfKinematics as Urdf
from wav_core.sim.scene import scene_xml

URDF_FILE = Path(__file__).resolve().parents[3] / "urdf" / "piper_dual.urdf"


@pytest.fixture(scope="module")
def urdf() -> Urdf:
    return Urdf.rig()


def test_the_shipped_file_is_the_generators_output():
    assert DEFAULT_OUT == URDF_FILE
    assert URDF_FILE.read_text() == rig_urdf(), "urdf/piper_dual.urdf is stale: run `python -m wav_core.robot.urdf`"


def test_joint_names_and_limits_are_the_drivers(urdf):
    movable = {j["name"]: j for j in urdf.joints.values() if j["type"] != "fixed" and j["mimic"] is None}
    assert sorted(movable) == sorted(piper.DUAL_JOINT_NAMES)
    for arm in piper.ARMS:
        for i in range(6):
            limit = movable[f"{arm}_joint{i + 1}"]["limit"]
            assert float(limit.get("lower")) == pytest.approx(piper.JOINT_LOWER[i])
            assert float(limit.get("upper")) == pytest.approx(piper.JOINT_UPPER[i])
        gripper = movable[f"{arm}_gripper"]
        assert gripper["type"] == "prismatic" and float(gripper["limit"].get("upper")) == pytest.approx(piper.GRIPPER_MAX_M)
    assert {"cam_high", "cam_left_wrist", "cam_right_wrist", "left_tcp", "right_tcp"} <= set(urdf.links)


def test_forward_kinematics_matches_mujoco(urdf):
    model = mujoco.MjModel.from_xml_string(scene_xml(""))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(7)
    for _ in range(20):
        q = rng.uniform(piper.DUAL_LOWER, piper.DUAL_UPPER)
        values = dict(zip(piper.DUAL_JOINT_NAMES, q))
        for name, v in values.items():
            arm, joint = name.split("_", 1)
            if joint == "gripper":  # MuJoCo drives each finger by half the opening
                for finger in ("finger_a", "finger_b"):
                    data.qpos[model.joint(f"{arm}_{finger}").qposadr[0]] = v / 2
            else:
                data.qpos[model.joint(name).qposadr[0]] = v
        mujoco.mj_forward(model, data)
        expected = {}
        for arm in piper.ARMS:
            for link in [f"link{i}" for i in range(1, 7)] + ["finger_a", "finger_b"]:
                b = model.body(f"{arm}_{link}")
                expected[f"{arm}_{link}"] = (data.xpos[b.id], data.xmat[b.id].reshape(3, 3))
            s = model.site(f"{arm}_tcp")
            expected[f"{arm}_tcp"] = (data.site_xpos[s.id], data.site_xmat[s.id].reshape(3, 3))
        for cam in ("cam_high", "cam_left_wrist", "cam_right_wrist"):
            c = model.camera(cam)
            # MuJoCo cameras look along -z with y up; the URDF frames are optical (z forward, y down).
            expected[cam] = (data.cam_xpos[c.id], data.cam_xmat[c.id].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0]))
        for link, (pos, rot) in expected.items():
            t = urdf.pose(link, values)
            assert np.linalg.norm(t[:3, 3] - pos) < 1e-3, f"{link}: {t[:3, 3]} vs MuJoCo {pos}"
            assert np.abs(t[:3, :3] - rot).max() < 1e-3, f"{link}: orientation differs from MuJoCo"


def test_the_tolerances_catch_a_hundredth_of_a_radian(urdf):
    """The comparison above can fail: a 0.01 rad error in any one arm joint moves the tool point by
    more than 1 mm or turns it by more than the orientation tolerance."""
    values = dict(zip(piper.DUAL_JOINT_NAMES, piper.HOME))
    tcp = urdf.pose("left_tcp", values)
    for i in range(1, 7):
        bent = urdf.pose("left_tcp", dict(values, **{f"left_joint{i}": values[f"left_joint{i}"] + 0.01}))
        moved = np.linalg.norm(bent[:3, 3] - tcp[:3, 3]) > 1e-3
        turned = np.abs(bent[:3, :3] - tcp[:3, :3]).max() > 1e-3
        assert moved or turned, f"joint{i}"

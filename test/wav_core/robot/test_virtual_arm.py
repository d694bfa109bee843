"""The simulated firmware driven by the real piper_sdk over python-can's virtual bus."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from piper_sdk import C_PiperInterface_V2

from wav_core.robot.piper import JOINT_UPPER
from wav_core.robot.virtual_arm import GRAVITY_MASK, VirtualPiperArm, advance, fall
from wav_test_support import wait_for

# piper_sdk 0.6.2 still passes python-can the deprecated `bustype` argument
pytestmark = pytest.mark.filterwarnings("ignore:The 'bustype' argument is deprecated:DeprecationWarning")

WAIT = 10.0  # liveness bound only


CHANNEL = f"vcan_fw_{os.getpid()}"


@pytest.fixture(scope="module")
def sdk():
    # one SDK connection for the module: piper_sdk keeps one interface per port name anyway,
    # and a reconnect leaves its reader waiting on the old bus for up to a second
    sdk = C_PiperInterface_V2(CHANNEL, judge_flag=False, can_auto_init=False)
    sdk.CreateCanBus(CHANNEL, bustype="virtual")
    sdk.ConnectPort()
    yield sdk
    sdk.DisconnectPort()


@pytest.fixture
def arm_and_sdk(sdk):
    """A freshly powered-on arm; its first frames reach the SDK before the test starts."""
    t0 = time.time()
    arm = VirtualPiperArm(CHANNEL)
    try:
        assert wait_for(lambda: sdk.GetArmJointMsgs().time_stamp > t0 and sdk.GetArmLowSpdInfoMsgs().time_stamp > t0)
        yield arm, sdk
    finally:
        arm.close()


def joints(sdk) -> np.ndarray:
    s = sdk.GetArmJointMsgs().joint_state
    return np.array([s.joint_1, s.joint_2, s.joint_3, s.joint_4, s.joint_5, s.joint_6])


def enable(sdk, speed: int = 100) -> None:
    t0 = time.time()

    def enabled() -> bool:
        sdk.MotionCtrl_2(0x01, 0x01, speed, 0x00)
        return sdk.EnablePiper() and sdk.GetArmLowSpdInfoMsgs().time_stamp > t0

    assert wait_for(enabled), "EnablePiper() never returned True"


def record_joint(sdk, index: int, until, timeout: float = WAIT) -> list[float]:
    """Joint `index` (rad) as the SDK reports it, sampled until `until(value)` holds."""
    values: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        values.append(float(np.deg2rad(joints(sdk)[index] / 1000.0)))
        if until(values[-1]):
            break
        time.sleep(0.002)
    return values


def move_to(arm, sdk, mdeg) -> None:
    sdk.JointCtrl(*[int(v) for v in mdeg])
    assert wait_for(lambda: np.all(np.abs(joints(sdk) - mdeg) <= 1)), joints(sdk)


def test_advance_moves_at_most_the_step_and_stops_on_target():
    q = advance(np.zeros(3), np.array([1.0, -0.001, 0.0]), np.full(3, 0.01))
    np.testing.assert_allclose(q, [0.01, -0.001, 0.0])


def test_unpowered_joints_fall_to_rest_accelerating_and_never_past_it():
    q, v = np.array([0.5, 1.2, -1.0, 0.3, 0.6, 0.2, 0.05]), np.zeros(7)
    path = [q]
    for _ in range(400):
        q, v = fall(q, v, GRAVITY_MASK, max_speed=2.5, dt=0.005, accel=10.0)
        path.append(q)
    path = np.array(path)
    # joint2, joint3, joint5 reach the folded rest pose; joint1, joint4, joint6 and the gripper stay
    np.testing.assert_array_equal(path[-1], [0.5, 0.0, 0.0, 0.3, 0.0, 0.2, 0.05])
    steps = np.abs(np.diff(path[:, 1]))
    assert steps[1] > steps[0] and steps.max() <= 2.5 * 0.005 + 1e-12  # speeds up, up to its ceiling
    assert np.all(np.diff(path[:, 1]) <= 0) and np.all(np.diff(path[:, 2]) >= 0)  # straight down, no bounce
    assert len({round(float(x), 6) for x in path[:, 1]}) > 20  # many poses on the way: a fall, not a teleport


def test_damped_descent_is_slower_than_a_drop():
    start = np.array([0.0, 1.0, -1.0, 0.0, 0.5, 0.0, 0.0])

    def periods_to_rest(**kw) -> int:
        q, v = start.copy(), np.zeros(7)
        for k in range(10_000):
            if np.all(q[GRAVITY_MASK] == 0.0):
                return k
            q, v = fall(q, v, GRAVITY_MASK, dt=0.005, **kw)
        raise AssertionError("never reached rest")

    assert periods_to_rest(max_speed=0.25) > 2 * periods_to_rest(max_speed=2.5, accel=10.0)


def test_feedback_flows_and_enable_follows_the_sdk_handshake(arm_and_sdk):
    arm, sdk = arm_and_sdk
    assert wait_for(lambda: sdk.GetArmJointMsgs().time_stamp > 0 and sdk.GetArmStatus().time_stamp > 0)
    assert not any(sdk.GetArmEnableStatus())
    assert sdk.GetArmStatus().arm_status.ctrl_mode == 0x00  # standby until MotionCtrl_2
    enable(sdk)
    st = arm.state()
    assert st.enabled and st.ctrl_mode == 0x01 and st.speed_percent == 100


def test_joint_and_gripper_commands_are_followed_in_sdk_units(arm_and_sdk):
    arm, sdk = arm_and_sdk
    enable(sdk)
    target = np.array([10_000, 20_000, -15_000, 5_000, -5_000, 30_000])  # 0.001 degree
    sdk.JointCtrl(*[int(v) for v in target])
    sdk.GripperCtrl(40_000, 1000, 0x01, 0x00)  # 40 mm
    assert wait_for(lambda: np.all(np.abs(joints(sdk) - target) <= 1)), joints(sdk)
    assert wait_for(lambda: abs(sdk.GetArmGripperMsgs().gripper_state.grippers_angle - 40_000) <= 1)
    assert sdk.GetArmGripperMsgs().gripper_state.foc_status.driver_enable_status
    np.testing.assert_allclose(arm.state().positions[:6], np.deg2rad(target / 1000.0), atol=1e-4)
    # a target beyond the joint limit stops at the limit
    sdk.JointCtrl(200_000, 20_000, -15_000, 5_000, -5_000, 30_000)
    assert wait_for(lambda: abs(arm.state().positions[0] - JOINT_UPPER[0]) < 1e-9)


def test_commands_are_ignored_until_enabled_and_in_can_mode(arm_and_sdk):
    arm, sdk = arm_and_sdk
    assert wait_for(lambda: sdk.GetArmJointMsgs().time_stamp > 0)
    sdk.JointCtrl(10_000, 10_000, -10_000, 0, 0, 0)
    assert wait_for(lambda: arm.state().joint_commands == 1)
    time.sleep(0.05)
    np.testing.assert_array_equal(arm.state().positions, np.zeros(7))
    np.testing.assert_array_equal(arm.state().targets, np.zeros(7))


def test_estop_refuses_motion_and_enable_until_reset(arm_and_sdk):
    arm, sdk = arm_and_sdk
    enable(sdk)
    sdk.EmergencyStop(0x01)
    assert wait_for(lambda: sdk.GetArmStatus().arm_status.arm_status == 0x01)
    sdk.JointCtrl(50_000, 50_000, -50_000, 0, 0, 0)
    sdk.EnableArm(7)
    time.sleep(0.05)
    assert np.all(arm.state().positions == 0.0)
    sdk.ResetPiper()
    assert wait_for(lambda: sdk.GetArmStatus().arm_status.arm_status == 0x00 and not any(sdk.GetArmEnableStatus()))
    enable(sdk)
    sdk.JointCtrl(5_000, 5_000, -5_000, 0, 0, 0)
    assert wait_for(lambda: np.all(np.abs(joints(sdk) - [5_000, 5_000, -5_000, 0, 0, 0]) <= 1))


def test_can_loss_silences_feedback_and_drops_commands(arm_and_sdk):
    arm, sdk = arm_and_sdk
    enable(sdk)
    arm.set_can_lost(True)
    time.sleep(0.05)
    last = sdk.GetArmJointMsgs().time_stamp
    sdk.JointCtrl(20_000, 20_000, -20_000, 0, 0, 0)
    time.sleep(0.1)
    assert sdk.GetArmJointMsgs().time_stamp == last
    assert np.all(arm.state().positions == 0.0)
    arm.set_can_lost(False)
    assert wait_for(lambda: sdk.GetArmJointMsgs().time_stamp > last)


def test_close_joins_the_thread_and_closes_the_bus():
    before = {t.name for t in threading.enumerate()}
    arm = VirtualPiperArm(f"vcan_close_{os.getpid()}")
    assert f"virtual-piper-{arm.channel}" in {t.name for t in threading.enumerate()}
    arm.close()
    arm.close()  # idempotent
    assert {t.name for t in threading.enumerate()} <= before | set()
    with pytest.raises(ValueError, match="feedback_hz"):
        VirtualPiperArm("x", feedback_hz=0)


def test_reset_cuts_power_and_the_arm_drops_through_intermediate_poses(arm_and_sdk):
    arm, sdk = arm_and_sdk
    enable(sdk)
    move_to(arm, sdk, [10_000, 70_000, -60_000, 0, 0, 0])  # joint2 1.22 rad, joint3 -1.05 rad
    sdk.ResetPiper()
    j2 = record_joint(sdk, 1, until=lambda v: v <= 1e-4)
    assert j2[-1] <= 1e-4, "joint2 never reached the rest pose"
    assert np.all(np.diff(j2) <= 1e-9), "the arm did not fall monotonically"
    assert any(0.1 < v < 1.1 for v in j2), "no pose between the start and the rest: the arm teleported"
    np.testing.assert_allclose(arm.state().positions[[0, 1, 2, 4]], [np.deg2rad(10.0), 0.0, 0.0, 0.0], atol=1e-9)
    # unpowered: a set-point is not followed until the arm is enabled again
    assert wait_for(lambda: not any(sdk.GetArmEnableStatus()))
    sdk.JointCtrl(0, 30_000, -30_000, 0, 0, 0)
    assert wait_for(lambda: np.allclose(arm.state().last_joint_command, np.deg2rad([0, 30, -30, 0, 0, 0])))
    time.sleep(0.05)
    assert arm.state().positions[1] == 0.0
    enable(sdk)
    move_to(arm, sdk, [0, 30_000, -30_000, 0, 0, 0])


def test_estop_lowers_the_arm_with_damping(arm_and_sdk):
    arm, sdk = arm_and_sdk
    enable(sdk)
    move_to(arm, sdk, [0, 40_000, -40_000, 0, 0, 0])  # 0.70 rad
    sdk.EmergencyStop(0x01)
    j2 = record_joint(sdk, 1, until=lambda v: v <= 1e-4)
    assert j2[-1] <= 1e-4 and np.all(np.diff(j2) <= 1e-9)
    assert any(0.1 < v < 0.6 for v in j2)
    assert arm.state().estopped and sdk.GetArmStatus().arm_status.arm_status == 0x01


def test_displaced_arm_holds_when_enabled_and_falls_back_when_unpowered(arm_and_sdk):
    arm, sdk = arm_and_sdk
    pose = np.array([0.8, 0.5, -0.4, 0.2, 0.0, 0.0, 0.03])
    arm.displace(pose)  # unpowered: joint1 and joint4 stay where the hand put them, joint2/joint3 fall
    assert wait_for(lambda: np.allclose(arm.state().positions, [0.8, 0.0, 0.0, 0.2, 0.0, 0.0, 0.03]))
    enable(sdk)
    arm.displace(pose)  # enabled: another controller moved it and the firmware holds there
    time.sleep(0.05)
    np.testing.assert_allclose(arm.state().positions, pose)
    with pytest.raises(ValueError, match=r"displace: got shape \(6,\)"):
        arm.displace(np.zeros(6))

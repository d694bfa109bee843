"""The simulated firmware driven by the real piper_sdk over python-can's virtual bus."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from piper_sdk import C_PiperInterface_V2

from wav_core.robot.piper import JOINT_UPPER
from wav_core.robot.virtual_arm import VirtualPiperArm, advance
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


def test_advance_moves_at_most_the_step_and_stops_on_target():
    q = advance(np.zeros(3), np.array([1.0, -0.001, 0.0]), np.full(3, 0.01))
    np.testing.assert_allclose(q, [0.01, -0.001, 0.0])


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


def test_estop_holds_refuses_enable_until_reset(arm_and_sdk):
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

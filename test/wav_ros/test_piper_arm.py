"""The re-arming rule of one arm link, without ROS: real piper_sdk against a simulated arm."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from wav_core.config import ConfigError
from wav_core.config.driver import DriverArmConfig, DriverConfig
from wav_core.robot.virtual_arm import VirtualPiperArm
from wav_test_support import wait_for
from wav_ros.piper_arm import ArmEnableError, PiperArmLink

# piper_sdk 0.6.2 still passes python-can the deprecated `bustype` argument
pytestmark = pytest.mark.filterwarnings("ignore:The 'bustype' argument is deprecated:DeprecationWarning")

PORT = f"vcan_link_{os.getpid()}"


@pytest.fixture(scope="module")
def link_and_arm():
    config = DriverConfig(arms=[DriverArmConfig("left", PORT, "/l/cmd", "/l/fb")], bustype="virtual",
                          speed_percent=100, rearm_joint_tolerance_rad=0.05, rearm_gripper_tolerance_m=0.005)
    arm = VirtualPiperArm(PORT, feedback_hz=200.0)
    link = PiperArmLink(config.arms[0], config, logging.getLogger("test_piper_arm"))
    link.connect()
    try:
        link.enable()
        yield link, arm
    finally:
        link.close()
        arm.close()


def measured(link: PiperArmLink) -> np.ndarray:
    return link.feedback()[0]


def test_a_disarmed_arm_takes_only_a_command_within_the_joint_and_gripper_tolerance(link_and_arm):
    link, arm = link_and_arm
    link.enable()  # any enable disarms
    assert not link.armed
    q0 = measured(link)
    joint_far = link.submit(q0 + [0.0, 0.06, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert not joint_far.sent and joint_far.reason == "far_from_measured"
    assert joint_far.detail.startswith(f"joint2 is 0.060 rad from the measured {q0[1]:.3f} rad (tolerance 0.05 rad)")
    gripper_far = link.submit(q0 + [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.006])
    assert not gripper_far.sent and gripper_far.detail.startswith("gripper is 0.006 m from the measured")
    assert link.rejected["far_from_measured"] == 2 and not link.armed
    near = q0 + [0.04, 0.04, -0.04, 0.04, 0.04, 0.04, 0.004]
    first = link.submit(near)
    assert first.sent and first.armed_now and link.armed
    assert wait_for(lambda: np.allclose(arm.state().last_joint_command, near[:6], atol=1e-4))
    # armed: commands are followed wherever they lead (within the limits)
    far = q0 + [0.5, 0.5, -0.5, 0.0, 0.0, 0.0, 0.03]
    assert link.submit(far).sent
    # enabling again disarms, and the firmware is told to hold the measured pose
    link.enable()
    assert not link.armed
    assert wait_for(lambda: np.allclose(arm.state().last_joint_command, measured(link)[:6], atol=1e-4))
    assert link.submit(far + [0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).reason == "far_from_measured"


def test_estop_and_reset_disarm_and_an_estop_blocks_enable(link_and_arm):
    link, arm = link_and_arm
    link.enable()
    assert link.submit(measured(link)).armed_now
    link.estop()
    assert not link.armed and link.submit(measured(link)).reason == "estopped"
    with pytest.raises(ArmEnableError, match="e-stopped; call ~/reset"):
        link.enable()
    link.reset()
    assert wait_for(lambda: not arm.state().estopped)
    link.enable()
    assert not link.armed


def test_rearm_tolerances_and_estop_topic_are_checked():
    with pytest.raises(ConfigError, match=r"rearm_joint_tolerance_rad: got 0"):
        DriverConfig(rearm_joint_tolerance_rad=0).validate()
    with pytest.raises(ConfigError, match=r"rearm_gripper_tolerance_m: got -0.001"):
        DriverConfig(rearm_gripper_tolerance_m=-0.001).validate()
    with pytest.raises(ConfigError, match=r"estop_topic: got '/wav/ estop'"):
        DriverConfig(estop_topic="/wav/ estop").validate()
    DriverConfig(estop_topic="").validate()  # off

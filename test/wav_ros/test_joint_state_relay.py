"""The per-arm driver feedback reaches `/joint_states` with the URDF's arm-prefixed joint names, on
real DDS (robot_state_publisher reads that topic)."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState

from wav_core.config import RobotConfig
from wav_core.config.loader import ConfigError
from wav_core.robot.piper import ARM_JOINT_NAMES
from wav_ros.joint_state_relay import JointStateRelay
from wav_test_support import wait_for

URDF = Path(__file__).resolve().parents[2] / "urdf" / "piper_dual.urdf"


def test_feedback_is_relayed_with_prefixed_names(ros_context):
    import rclpy

    robot = RobotConfig()
    relay = JointStateRelay(robot=robot, context=ros_context)
    probe = rclpy.create_node("probe", context=ros_context)
    received: list[JointState] = []
    probe.create_subscription(JointState, "/joint_states", received.append, 10)
    pubs = {a.name: probe.create_publisher(JointState, a.feedback_topic, 10) for a in robot.arms}
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(relay)
    ex.add_node(probe)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            ex.spin_once(timeout_sec=0.02)

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        assert wait_for(lambda: all(p.get_subscription_count() > 0 for p in pubs.values())
                        and probe.count_publishers("/joint_states") > 0)
        for k, arm in enumerate(robot.arms):
            msg = JointState(name=list(reversed(ARM_JOINT_NAMES)), position=[float(10 * k + i) for i in range(7)])
            msg.header.stamp.sec = 40 + k
            pubs[arm.name].publish(msg)
            assert wait_for(lambda: len(received) > k), f"nothing relayed from {arm.feedback_topic}"
    finally:
        stop.set()
        spinner.join()
        probe.destroy_node()
        relay.destroy_node()
    urdf_joints = {j.get("name") for j in ET.parse(URDF).getroot().iter("joint")}
    for k, (arm, out) in enumerate(zip(robot.arms, received)):
        assert list(out.name) == [f"{arm.name}_{n}" for n in reversed(ARM_JOINT_NAMES)]
        assert list(out.position) == [float(10 * k + i) for i in range(7)]
        assert out.header.stamp.sec == 40 + k
        assert set(out.name) <= urdf_joints, "every relayed name is a joint of the rig's URDF"


def test_a_missing_config_is_reported(ros_context):
    with pytest.raises(ConfigError, match="config_file: empty"):
        JointStateRelay(context=ros_context)

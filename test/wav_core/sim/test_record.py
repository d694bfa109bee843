"""`wav sim record` writes rosbag2 (MCAP) files with the real rig's topics, types and rates."""

import json

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from wav_core.cli.main import main
from wav_core.config.loader import load
from wav_core.config.robot import RobotConfig
from wav_core.sim.bag import EPOCH_NS

DURATION_S = 1.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("bags")
    rc = main(["sim", "record", "--task", "bowl", "--episodes", "1", "--seed", "3", "--out", str(out),
               "--config", "config/sim_drawer.yaml", "--max-duration", str(DURATION_S)])
    assert rc == 0
    return out


def _read(bag_dir):
    ts = get_typestore(Stores.ROS2_KILTED)
    msgs: dict[str, list] = {}
    with Reader(bag_dir) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        storage = yaml.safe_load((bag_dir / "metadata.yaml").read_text())["rosbag2_bagfile_information"][
            "storage_identifier"]
        for conn, stamp, raw in reader.messages():
            msgs.setdefault(conn.topic, []).append((stamp, ts.deserialize_cdr(raw, conn.msgtype)))
    return types, storage, msgs


def test_bag_has_the_rig_topics_and_types(recording):
    robot = load(RobotConfig, "config/sim_drawer.yaml", section="robot")
    types, storage, msgs = _read(recording / "episode_0000")
    assert storage == "mcap"
    assert list((recording / "episode_0000").glob("*.mcap"))
    expected = {c.topic: "sensor_msgs/msg/Image" for c in robot.cameras}
    for arm in robot.arms:
        expected[arm.feedback_topic] = "sensor_msgs/msg/JointState"
        expected[arm.command_topic] = "sensor_msgs/msg/JointState"
    expected[robot.instruction_topic] = "std_msgs/msg/String"
    assert types == expected
    assert [m.data for _, m in msgs[robot.instruction_topic]] == ["put the cup into the bowl"]


def test_images_are_full_size_rgb8(recording):
    robot = load(RobotConfig, "config/sim_drawer.yaml", section="robot")
    _, _, msgs = _read(recording / "episode_0000")
    for cam in robot.cameras:
        _, img = msgs[cam.topic][-1]
        assert (img.height, img.width, img.encoding, img.step) == (cam.height, cam.width, "rgb8", cam.width * 3)
        assert img.header.frame_id == cam.name
        pixels = np.asarray(img.data).reshape(cam.height, cam.width, 3)
        assert pixels.std() > 5


def test_joint_states_carry_the_driver_names_and_units(recording):
    robot = load(RobotConfig, "config/sim_drawer.yaml", section="robot")
    _, _, msgs = _read(recording / "episode_0000")
    for arm in robot.arms:
        for topic in (arm.feedback_topic, arm.command_topic):
            _, js = msgs[topic][0]
            assert list(js.name) == ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper"]
            assert len(js.position) == 7
            assert 0.0 <= js.position[6] <= 0.0701, "gripper opening is in metres"
        assert len(msgs[arm.feedback_topic][0][1].velocity) == 7


@pytest.mark.parametrize("kind,hz", [("camera", 30.0), ("feedback", 200.0), ("command", 20.0)])
def test_message_rates_match_the_config(recording, kind, hz):
    robot = load(RobotConfig, "config/sim_drawer.yaml", section="robot")
    _, _, msgs = _read(recording / "episode_0000")
    topic = {"camera": robot.cameras[0].topic, "feedback": robot.arms[0].feedback_topic,
             "command": robot.arms[1].command_topic}[kind]
    stamps = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in msgs[topic]])
    assert abs(len(stamps) - DURATION_S * hz) <= 1
    assert stamps[0] >= EPOCH_NS, "header stamps are sim time offset by a realistic epoch"
    assert np.all(np.diff(stamps) > 0)
    assert np.median(np.diff(stamps)) == pytest.approx(1e9 / hz, rel=0.01)
    assert [t for t, _ in msgs[topic]] == stamps.tolist(), "bag time equals header stamp"


def test_summary_lists_seeds_and_outcomes(recording):
    summary = json.loads((recording / "summary.json").read_text())
    assert summary["task"] == "bowl" and summary["episodes"] == 1 and summary["seeds"] == [3]
    ep = summary["per_episode"][0]
    assert ep["bag"] == "episode_0000"
    assert ep["success"] is False, "a 1 s episode cannot finish the task"
    assert set(ep["subgoals"]) == {"grasped", "placed"}
    assert summary["quality"] == "expert" and ep["quality"] == {"mode": "expert"}


def test_bag_messages_deserialize_into_rclpy_types(recording):
    rclpy_serialization = pytest.importorskip("rclpy.serialization")
    from sensor_msgs.msg import JointState

    with Reader(recording / "episode_0000") as reader:
        conn = next(c for c in reader.connections if c.topic == "/left/joint_states_single")
        _, _, raw = next(reader.messages(connections=[conn]))
    msg = rclpy_serialization.deserialize_message(raw, JointState)
    assert msg.name[-1] == "gripper"


def test_record_refuses_bad_arguments(tmp_path):
    assert main(["sim", "record", "--task", "bowl", "--episodes", "0", "--out", str(tmp_path)]) == 2

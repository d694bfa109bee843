"""Live replay on real DDS: `BagPlayer` publishes a recorded rig bag the way the rig did, and
`BagRecorder` (wav_ros.bag_recorder) writes what a node answers into a new bag; `run_live` ties both together.

Each test runs in its own rclpy context and domain (conftest `ros_context`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

from wav_core.config import RobotConfig
from wav_test_support import small_robot, wait_for
from wav_core.data.errors import BagError
from wav_core.data.synthetic import T0_NS, BagSpec, joint_trajectory, write_rig_bag
from wav_core.replay.live import LiveConfig
from wav_ros.bag_player import BagPlayer, message_class, run_live

WAIT = 30.0  # s: liveness bound on a shared, loaded machine; never a performance claim
LEFT = "/left/joint_states_single"


@pytest.fixture(scope="module")
def robot() -> RobotConfig:
    return small_robot()


@pytest.fixture(scope="module")
def bag(tmp_path_factory, robot) -> Path:
    return write_rig_bag(tmp_path_factory.mktemp("bags") / "rig", robot, BagSpec(seconds=1.0, instruction="open the drawer"))


def bag_counts(path: Path) -> dict[str, int]:
    with Reader(path) as reader:
        return {c.topic: c.msgcount for c in reader.connections}


class Listener(Node):
    """Keeps every message of the given topics with its monotonic receive time."""

    def __init__(self, context, topics: dict[str, type]):
        super().__init__("listener", context=context)
        self.got: dict[str, list] = defaultdict(list)
        for topic, cls in topics.items():
            self.create_subscription(cls, topic, lambda m, t=topic: self.got[t].append((time.monotonic(), m)),
                                     QoSProfile(depth=1000))

    def count(self) -> int:
        return sum(len(v) for k, v in self.got.items() if k != "/clock")


@contextmanager
def spinning(context, *nodes):
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    for n in nodes:
        executor.add_node(n)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        executor.shutdown()
        thread.join(timeout=5)
        for n in nodes:
            n.destroy_node()


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_player_publishes_every_message_in_order_at_the_recorded_pace(ros_context, bag):
    rate = 2.0
    player = BagPlayer(LiveConfig(bag=str(bag), rate=rate, wait_for_subscribers_s=WAIT, qos_depth=1000),
                       context=ros_context)
    listener = Listener(ros_context, player.classes)
    counts = bag_counts(bag)
    with spinning(ros_context, player, listener):
        player.start()
        assert player.wait(WAIT) and player.error is None
        assert wait_for(lambda: listener.count() == sum(counts.values()), timeout=WAIT)
    assert dict(player.published) == counts
    assert {t: len(v) for t, v in listener.got.items()} == counts
    assert isinstance(listener.got["/camera_h/color/image_raw"][0][1], Image)
    assert isinstance(listener.got[LEFT][0][1], JointState)
    assert listener.got["/wav/instruction"][0][1].data == "open the drawer"
    for topic, items in listener.got.items():
        if topic != "/wav/instruction":
            stamps = [stamp_ns(m) for _, m in items]
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), topic
    first = listener.got[LEFT][0][1]
    np.testing.assert_allclose(first.position, joint_trajectory(0.0)[:7])
    assert stamp_ns(first) == T0_NS
    # Paced by the recording: the last feedback, logged 0.995 s into the bag, goes out 0.995 s / rate
    # after the start at the earliest (a loaded machine can only make it later).
    last_received, last = listener.got[LEFT][-1]
    assert last_received - player.started_at >= (stamp_ns(last) - T0_NS) / 1e9 / rate


def test_topic_selection_and_clock_in_bag_time(ros_context, bag):
    player = BagPlayer(LiveConfig(bag=str(bag), rate=4.0, topics=[LEFT], clock=True, wait_for_subscribers_s=WAIT,
                                  qos_depth=1000), context=ros_context)
    assert list(player.topics) == [LEFT]
    listener = Listener(ros_context, {LEFT: JointState, "/right/joint_states_single": JointState, "/clock": Clock})
    with spinning(ros_context, player, listener):
        player.start()
        assert player.wait(WAIT) and player.error is None
        assert wait_for(lambda: len(listener.got[LEFT]) == 200, timeout=WAIT)
        time.sleep(0.2)
    assert not listener.got["/right/joint_states_single"]
    clock = [m.clock.sec * 1_000_000_000 + m.clock.nanosec for _, m in listener.got["/clock"]]
    assert len(clock) >= 2 and clock == sorted(clock)
    assert player.start_ns <= clock[0] and clock[-1] <= player.end_ns
    assert clock[-1] - clock[0] > 0.5 * (player.end_ns - player.start_ns)


def test_unknown_topics_and_types_are_named(ros_context, bag):
    with pytest.raises(BagError, match=r"topics \['/nope'\] not in the bag; the bag has: .*/left/joint_states_single"):
        BagPlayer(LiveConfig(bag=str(bag), topics=["/nope"]), context=ros_context)
    with pytest.raises(ValueError, match="wav_msgs/msg/Plan is not installed"):
        message_class("wav_msgs/msg/Plan", "/wav/plan")
    with pytest.raises(ValueError, match="record_topics"):
        LiveConfig(bag=str(bag), record="out").validate()


class Echo(Node):
    """A node under test: answers every left-arm feedback with a command on /echo/command."""

    def __init__(self, context):
        super().__init__("echo", context=context)
        self.pub = self.create_publisher(JointState, "/echo/command", QoSProfile(depth=1000))
        self.create_subscription(JointState, LEFT, self.pub.publish, QoSProfile(depth=1000))


def test_live_replay_records_the_answers_into_a_readable_bag(ros_context, bag, tmp_path):
    out = tmp_path / "answers"
    cfg = LiveConfig(bag=str(bag), rate=2.0, topics=[LEFT], wait_for_subscribers_s=WAIT, qos_depth=1000,
                     record=str(out), record_topics=["/echo/command", LEFT], record_grace_s=2.0,
                     record_max_grace_s=WAIT)  # the echo goes quiet once its backlog is answered
    echo = Echo(ros_context)
    with spinning(ros_context, echo):
        summary = run_live(cfg, context=ros_context)
    assert summary["published"] == {LEFT: 200} and summary["not_seen"] == []
    assert summary["recorded"] == {LEFT: 200, "/echo/command": 200}
    ts = get_typestore(Stores.ROS2_HUMBLE)
    with Reader(out) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == {
            "/echo/command": "sensor_msgs/msg/JointState", LEFT: "sensor_msgs/msg/JointState"}
        msgs = [(c.topic, t, ts.deserialize_cdr(raw, c.msgtype)) for c, t, raw in reader.messages()]
    answers = [m for topic, _, m in msgs if topic == "/echo/command"]
    assert len(answers) == 200
    np.testing.assert_allclose(answers[0].position, joint_trajectory(0.0)[:7])
    log_times = [t for _, t, _ in msgs]  # in bag time: the answers line up with the recording
    assert T0_NS <= min(log_times) and max(log_times) <= T0_NS + 1_100_000_000


def test_live_replay_drives_the_policy_node_and_records_its_commands(ros_context, robot, tmp_path):
    """The recorded inputs (not the recorded commands) drive the real policy node on sim time."""
    from wav_core.planning import PlannerConfig, random_policy
    from wav_core.robot.piper import DUAL_LOWER, DUAL_UPPER
    from wav_core.runtime.config import ExecutorConfig, PolicyConfig, SafetyConfig
    from wav_ros.policy_node import PolicyNode

    bag = write_rig_bag(tmp_path / "run", robot, BagSpec(seconds=3.0))
    inputs = [c.topic for c in robot.cameras] + [a.feedback_topic for a in robot.arms]
    commands = [a.command_topic for a in robot.arms]
    planner = PlannerConfig(K=1, M=2, N=2, S=2)
    # The recorded arm does not follow the node's commands (no tracking check).
    safety = SafetyConfig(tracking_tolerance=10.0)
    node = PolicyNode(policy_cfg=PolicyConfig(planner=planner, executor=ExecutorConfig(rate_hz=100.0), threads=1,
                                              safety=safety),
                      robot=robot, policy=random_policy("tiny", planner), use_sim_time=True, context=ros_context)
    node.trigger_configure()
    node.trigger_activate()
    enabled = threading.Event()

    def enable_when_observing() -> None:
        # enable is refused until an observation and fresh joint feedback have arrived
        if wait_for(lambda: node.enable(True)[0], timeout=WAIT):
            enabled.set()

    out = tmp_path / "policy_run"
    cfg = LiveConfig(bag=str(bag), topics=inputs, clock=True, wait_for_subscribers_s=WAIT, qos_depth=1000,
                     record=str(out), record_topics=[*commands, "/wav_policy/action_chunk"], record_grace_s=0.2,
                     record_max_grace_s=0.5)  # the node keeps publishing holds after the end
    with spinning(ros_context, node):
        threading.Thread(target=enable_when_observing, daemon=True).start()
        try:
            summary = run_live(cfg, context=ros_context)
        finally:
            node._halt()
    assert enabled.is_set(), f"the node was never enabled on the replayed topics: {node.enable(True)[1]}"
    assert node.loop.safety.events["anchor_clipped"] == 0  # the recorded poses lie inside the limits
    assert summary["not_seen"] == [] and all(summary["recorded"].get(t, 0) > 0 for t in commands), summary
    assert summary["recorded"]["/wav_policy/action_chunk"] >= 1
    ts = get_typestore(Stores.ROS2_HUMBLE)
    with Reader(out) as reader:
        msgs = [(c.topic, t, ts.deserialize_cdr(raw, c.msgtype)) for c, t, raw in reader.messages()]
    for k, arm in enumerate(robot.arms):
        q = np.array([m.position for topic, _, m in msgs if topic == arm.command_topic])
        assert all(list(m.name) == arm.joint_names for topic, _, m in msgs if topic == arm.command_topic)
        assert np.all(q >= DUAL_LOWER[7 * k:7 * k + 7] - 1e-9) and np.all(q <= DUAL_UPPER[7 * k:7 * k + 7] + 1e-9)
    log_times = [t for _, t, _ in msgs]
    assert T0_NS <= min(log_times) and max(log_times) <= T0_NS + 3_000_000_000


def test_wav_replay_live_command_plays_and_records(bag, tmp_path, monkeypatch, capsys):
    from wav_core.cli.main import main

    monkeypatch.setenv("ROS_DOMAIN_ID", str(200 + os.getpid() % 30))  # the command makes its own context
    out = tmp_path / "recorded"
    rc = main(["replay", "--live", "--bag", str(bag), "--rate", "2", "--topics", LEFT, "--record", str(out),
               "--record-topics", LEFT, "--wait-for-subscribers", str(WAIT), "--qos-depth", "1000"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["recorded"] == {LEFT: 200}
    assert bag_counts(out) == {LEFT: 200}


def test_loop_starts_over_until_stopped(ros_context, bag):
    player = BagPlayer(LiveConfig(bag=str(bag), rate=20.0, loop=True, topics=[LEFT]), context=ros_context)
    try:
        player.start()
        assert wait_for(lambda: player.loops >= 2, timeout=WAIT)
        player.stop()
        assert player.finished.is_set() and player.error is None
        assert player.published[LEFT] >= 2 * 200
    finally:
        player.destroy_node()

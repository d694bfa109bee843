"""Property-based fuzzing of every subscription of the policy node with random and malformed
messages: the node never crashes and never publishes a NaN or out-of-limit command."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import CompressedImage, Image, JointState

from wav_core.config import RobotConfig
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot.piper import DUAL_LOWER, DUAL_UPPER, HOME
from wav_core.runtime.config import PolicyConfig
from wav_ros.policy_node import PolicyNode

ROBOT = RobotConfig()
NAMES = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper", "joint7", "", "left_joint1"]
floats = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.floats(-4, 4)


@st.composite
def images(draw):
    cam = draw(st.sampled_from(ROBOT.cameras))
    h = draw(st.sampled_from([0, 1, cam.height, cam.height + 1]))
    w = draw(st.sampled_from([0, 2, cam.width]))
    enc = draw(st.sampled_from(["rgb8", "bgr8", "mono8", "rgba8", "16UC1", ""]))
    size = draw(st.sampled_from([0, 7, h * w, h * w * 3, h * w * 3 + 5]))
    msg = Image(height=h, width=w, encoding=enc, step=draw(st.sampled_from([0, w, w * 3])), data=bytes(size))
    msg.header.stamp.sec = draw(st.sampled_from([0, 1, 2**31 - 1]))
    return cam, msg


@st.composite
def compressed(draw):
    cam = draw(st.sampled_from(ROBOT.cameras))
    msg = CompressedImage(format=draw(st.sampled_from(["jpeg", "png", "", "rgb8; jpeg compressed"])),
                          data=draw(st.binary(max_size=64)))
    return cam, msg


@st.composite
def joints(draw):
    arm = draw(st.sampled_from(ROBOT.arms))
    names = draw(st.lists(st.sampled_from(NAMES), max_size=9))
    pos = draw(st.lists(floats, max_size=9))
    msg = JointState(name=names, position=pos)
    msg.header.stamp.sec = draw(st.sampled_from([0, 5, 2**31 - 1]))
    return arm, msg


@pytest.fixture(scope="module")
def node():
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=97)
    cfg = PolicyConfig(planner=PlannerConfig(K=1, M=2, N=2, S=2), threads=1)
    n = PolicyNode(policy_cfg=cfg, robot=ROBOT, policy=random_policy("tiny", cfg.planner), context=ctx)
    n._configure()
    n.active = True  # callbacks are driven by the test, not by timers
    probe = rclpy.create_node("probe", context=ctx)
    received = []
    for a in ROBOT.arms:
        probe.create_subscription(JointState, a.command_topic, received.append, 1000)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(probe)
    n.loop.safety.reset(HOME)
    n.loop.enabled = True  # output on without feedback: every message below is the fuzzer's
    yield n, ex, received
    probe.destroy_node()
    n.destroy_node()
    rclpy.try_shutdown(context=ctx)


def _check_outputs(ex, received):
    for _ in range(3):
        ex.spin_once(timeout_sec=0.01)
    for msg in received:
        q = np.asarray(msg.position)
        assert q.shape == (7,) and np.all(np.isfinite(q))
        lo, hi = DUAL_LOWER[:7], DUAL_UPPER[:7]
        assert np.all(q >= lo - 1e-9) and np.all(q <= hi + 1e-9)
    received.clear()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(images(), compressed(), joints()), min_size=1, max_size=6))
def test_malformed_messages_never_crash_or_produce_bad_commands(node, batch):
    n, ex, received = node
    for item, msg in batch:
        n._on_input(msg, item.feedback_topic if isinstance(msg, JointState) else item.topic)
    n._on_tick()
    n._on_execute()
    _check_outputs(ex, received)
    assert math.isfinite(n.status()["plan_latency_median_ms"])


def test_clock_going_backwards_restarts_observation_instead_of_crashing(node):
    n, ex, received = node
    before = n.loop.counters["clock_jump_back"]
    n.loop.assembler.assemble(4 * 10**18)  # a tick far in the future: the node's next tick is "earlier"
    n._on_tick()
    assert n.loop.counters["clock_jump_back"] == before + 1
    assert n.loop.obs_time is None and n.loop.runtime.state is None
    n._on_execute()
    _check_outputs(ex, received)

"""The per-tick observation rule: latest-at-or-before, age, skew, ordering, bad messages, memory."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from wav_core.data.assembler import ObservationAssembler

T = get_typestore(Stores.ROS2_HUMBLE).types
MS = 1_000_000
ARM = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper"]


def hdr(ns: int):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")


def image(ns: int, value: int, h=48, w=64):
    data = np.full(h * w * 3, value, dtype=np.uint8)
    return T["sensor_msgs/msg/Image"](header=hdr(ns), height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3, data=data)


def joints(ns: int, value: float, names=ARM):
    return T["sensor_msgs/msg/JointState"](header=hdr(ns), name=list(names), position=np.full(len(names), value), velocity=np.zeros(0), effort=np.zeros(0))


def feed(asm: ObservationAssembler, robot, cams_ms: dict[str, list[int]], joints_ms: list[int], value_of=lambda t: t % 250):
    """Push every camera frame and both arms' feedback at the given times (ms); pixel value = f(time)."""
    topics = {c.name: c.topic for c in robot.cameras}
    events = [(t, "cam", name) for name, ts in cams_ms.items() for t in ts] + [(t, "joint", None) for t in joints_ms]
    for t, kind, name in sorted(events, key=lambda e: e[0]):
        if kind == "cam":
            asm.push(topics[name], image(t * MS, value_of(t)))
        else:
            for arm in robot.arms:
                asm.push(arm.feedback_topic, joints(t * MS, t / 1000.0))


def all_cams(robot, times):
    return {c.name: list(times) for c in robot.cameras}


def test_latest_message_at_or_before_the_tick(robot):
    asm = ObservationAssembler(robot)
    feed(asm, robot, all_cams(robot, [0, 33, 66, 100]), list(range(0, 101, 5)))
    obs = asm.assemble(70 * MS)
    assert obs is not None
    assert list(obs.images) == robot.camera_names
    assert all(img.shape == (48, 64, 3) and img[0, 0, 0] == 66 for img in obs.images.values())
    np.testing.assert_allclose(obs.state, np.full(14, 0.070))
    assert obs.stamps_ns["cam_high"] == 66 * MS and obs.stamps_ns["left"] == 70 * MS
    assert asm.ticks_kept == 1 and not asm.dropped_ticks


def test_age_rules(make_robot):
    robot = make_robot()
    asm = ObservationAssembler(robot)
    feed(asm, robot, all_cams(robot, [0, 33]), [0, 10, 20])
    assert asm.assemble(60 * MS) is not None  # joints 40 ms old, cameras 27 ms old
    assert asm.assemble(80 * MS) is None and asm.last_drop_reason == "joint_stale:left"
    feed(asm, robot, {}, [150])
    assert asm.assemble(150 * MS) is None and asm.last_drop_reason == "camera_stale:cam_high"
    assert asm.dropped_ticks == {"joint_stale:left": 1, "camera_stale:cam_high": 1}


def test_camera_missing_before_first_frame(robot):
    asm = ObservationAssembler(robot)
    cams = all_cams(robot, [0])
    cams["cam_right_wrist"] = [40]
    feed(asm, robot, cams, [0, 10, 20, 30])
    assert asm.assemble(30 * MS) is None
    assert asm.last_drop_reason == "camera_missing:cam_right_wrist"


def test_camera_skew(robot):
    asm = ObservationAssembler(robot)  # max skew 0.05 s
    cams = {"cam_high": [0], "cam_left_wrist": [60], "cam_right_wrist": [60]}
    feed(asm, robot, cams, [60])
    assert asm.assemble(60 * MS) is None and asm.last_drop_reason == "camera_skew"
    feed(asm, robot, {"cam_high": [70]}, [70])
    assert asm.assemble(70 * MS) is not None


def test_out_of_order_messages_are_dropped_and_counted(robot):
    asm = ObservationAssembler(robot)
    feed(asm, robot, all_cams(robot, [0, 33]), [0, 30])
    cam = robot.cameras[0]
    assert asm.push(cam.topic, image(20 * MS, 99)) is False
    assert asm.push(cam.topic, image(33 * MS, 99)) is False  # duplicate stamp
    assert asm.dropped_messages == {f"out_of_order:{cam.topic}": 2}
    obs = asm.assemble(40 * MS)
    assert obs is not None and obs.images["cam_high"][0, 0, 0] == 33


def test_bad_message_drops_only_the_tick_that_uses_it(robot):
    asm = ObservationAssembler(robot)
    feed(asm, robot, all_cams(robot, [0]), [0])
    cam = robot.cameras[1]
    bad = image(33 * MS, 1)
    bad.encoding = "nv12"
    for c in robot.cameras:
        asm.push(c.topic, bad if c is cam else image(33 * MS, 33))
    for arm in robot.arms:
        asm.push(arm.feedback_topic, joints(33 * MS, 0.0))
    assert asm.assemble(40 * MS) is None
    assert asm.last_drop_reason == f"bad_message:{cam.topic}"
    assert "'nv12'" in asm.last_error
    feed(asm, robot, all_cams(robot, [66]), [66])
    assert asm.assemble(70 * MS) is not None


def test_wrong_joint_names_are_bad_messages(robot):
    asm = ObservationAssembler(robot)
    feed(asm, robot, all_cams(robot, [0]), [])
    asm.push(robot.arms[0].feedback_topic, joints(0, 0.1, names=[f"j{i}" for i in range(7)]))
    asm.push(robot.arms[1].feedback_topic, joints(0, 0.1))
    assert asm.assemble(10 * MS) is None
    assert asm.last_drop_reason == f"bad_message:{robot.arms[0].feedback_topic}"
    assert "missing joints" in asm.last_error


def test_single_14d_joint_topic_by_name(make_robot):
    robot = make_robot(joint_state_topic="/joint_states")
    asm = ObservationAssembler(robot)
    names = list(reversed(robot.joint_names))
    for c in robot.cameras:
        asm.push(c.topic, image(0, 5))
    asm.push("/joint_states", T["sensor_msgs/msg/JointState"](header=hdr(0), name=names, position=np.arange(14.0)[::-1].copy(), velocity=np.zeros(0), effort=np.zeros(0)))
    obs = asm.assemble(0)
    np.testing.assert_array_equal(obs.state, np.arange(14.0))
    assert robot.arms[0].feedback_topic not in asm.topics


def test_header_stamp_zero_falls_back_to_receive_time(robot):
    asm = ObservationAssembler(robot)
    for c in robot.cameras:
        asm.push(c.topic, image(0, 7), receive_ns=100 * MS)
    for arm in robot.arms:
        asm.push(arm.feedback_topic, joints(100 * MS, 0.0))
    assert asm.assemble(100 * MS).stamps_ns["cam_high"] == 100 * MS


def test_memory_is_bounded_by_what_ticks_can_use(robot):
    asm = ObservationAssembler(robot)
    for k in range(200):
        t = k * 10
        feed(asm, robot, all_cams(robot, [t]), [t])
        assert asm.assemble(t * MS) is not None
    assert max(asm.diagnostics()["buffered"].values()) == 1
    with pytest.raises(ValueError, match="before the previous tick"):
        asm.assemble(0)


def test_overflow_bounds_buffers_without_ticks(make_robot):
    robot = make_robot()
    asm = ObservationAssembler(robot, max_buffer=8)
    for k in range(20):
        asm.push(robot.arms[0].feedback_topic, joints(k * MS, 0.0))
    assert asm.diagnostics()["buffered"][robot.arms[0].feedback_topic] == 8
    assert asm.dropped_messages[f"overflow:{robot.arms[0].feedback_topic}"] == 12

"""Reading the plan view back from a bag without ROS: a run recorded before plan markers existed
still shows its plans (recomputed from the action chunks through the URDF), and a bag missing what
the view needs is refused by bag and topic."""

import numpy as np
import pytest

from wav_core.config import RobotConfig
from wav_core.data.errors import BagError
from wav_core.runtime.plan_view import PlanView
from wav_core.viz.plan_frames import PlanTopics, read_plan_frames

ROBOT = RobotConfig()
TOPICS = PlanTopics.of(ROBOT)


def write_bag(path, with_cameras=ROBOT.cameras, plans=3, seed=0):
    """Cameras and per-arm feedback every 50 ms, an action chunk every 200 ms (from 100 ms on)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    rng = np.random.default_rng(seed)
    header = lambda ns: T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")  # noqa: E731
    dur = lambda s: T["builtin_interfaces/msg/Duration"](sec=int(s), nanosec=int((s % 1) * 1e9))  # noqa: E731
    chunks = []
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        cams = {c.topic: w.add_connection(c.topic, "sensor_msgs/msg/Image", typestore=ts) for c in with_cameras}
        arms = {a.feedback_topic: w.add_connection(a.feedback_topic, "sensor_msgs/msg/JointState", typestore=ts) for a in ROBOT.arms}
        chunk_conn = w.add_connection(TOPICS.chunk, "trajectory_msgs/msg/JointTrajectory", typestore=ts)
        for k in range(4 * plans + 2):
            ns = 10**9 + k * 50_000_000
            for topic, conn in cams.items():
                img = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
                msg = T["sensor_msgs/msg/Image"](header=header(ns), height=12, width=16, encoding="rgb8", is_bigendian=0,
                                                 step=48, data=img.reshape(-1))
                w.write(conn, ns, ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
            for a in ROBOT.arms:
                msg = T["sensor_msgs/msg/JointState"](header=header(ns), name=a.joint_names, position=np.full(7, 0.1),
                                                      velocity=np.zeros(0), effort=np.zeros(0))
                w.write(arms[a.feedback_topic], ns, ts.serialize_cdr(msg, "sensor_msgs/msg/JointState"))
            if k % 4 == 2:
                actions = rng.uniform(-0.5, 0.5, size=(8, 14))
                actions[:, [6, 13]] = 0.03  # gripper openings in metres
                chunks.append(actions)
                points = [T["trajectory_msgs/msg/JointTrajectoryPoint"](positions=q, velocities=np.zeros(0),
                          accelerations=np.zeros(0), effort=np.zeros(0), time_from_start=dur(h / 20)) for h, q in enumerate(actions)]
                msg = T["trajectory_msgs/msg/JointTrajectory"](header=header(ns), joint_names=ROBOT.joint_names, points=points)
                w.write(chunk_conn, ns + 1, ts.serialize_cdr(msg, "trajectory_msgs/msg/JointTrajectory"))
    return path, chunks


def test_without_markers_the_paths_are_recomputed_from_the_chunks(tmp_path):
    bag, chunks = write_bag(tmp_path / "old_run")
    frames = read_plan_frames(bag, lambda i, t: True)
    assert [f.index for f in frames] == [0, 1, 2]
    view = PlanView(ROBOT.joint_names, ["left", "right"])
    for f, actions in zip(frames, chunks):
        assert "action chunks" in f.path_source and f.arms == ["left", "right"]
        np.testing.assert_allclose(np.stack(f.paths), view.paths(actions))
        assert f.image_topics == {c.name: c.topic for c in ROBOT.cameras}  # no model_input: the raw cameras
        assert all(img.shape == (12, 16, 3) for img in f.images.values())
        assert f.measured["left_joint3"] == pytest.approx(0.1) and f.commanded == {}
    assert frames[1].time_s == pytest.approx(0.3 + 1e-9, abs=1e-6)  # 300 ms after the first message


def test_select_filters_by_plan_index_and_time(tmp_path):
    bag, _ = write_bag(tmp_path / "run")
    assert [f.index for f in read_plan_frames(bag, lambda i, t: i % 2 == 0)] == [0, 2]
    assert [f.index for f in read_plan_frames(bag, lambda i, t: t <= 0.35)] == [0, 1]


def test_a_missing_camera_is_named_with_both_topics_it_looked_for(tmp_path):
    bag, _ = write_bag(tmp_path / "two_cams", with_cameras=ROBOT.cameras[:2])
    with pytest.raises(BagError, match=r"two_cams: no images of camera cam_right_wrist: neither "
                                       r"/wav_policy/model_input/cam_right_wrist nor /camera_r/color/image_raw"):
        read_plan_frames(bag, lambda i, t: True)


def test_a_bag_without_plans_or_joint_states_is_refused(tmp_path):
    bag, _ = write_bag(tmp_path / "no_plans", plans=0)
    with pytest.raises(BagError, match=r"no_plans: no plans: neither /wav_policy/plan_markers .* nor /wav_policy/action_chunk"):
        read_plan_frames(bag, lambda i, t: True)
    robot = RobotConfig(joint_state_topic="/joint_states")
    bag, _ = write_bag(tmp_path / "feedback_per_arm")
    with pytest.raises(BagError, match=r"no measured joint states: /joint_states"):
        read_plan_frames(bag, lambda i, t: True, robot=robot)

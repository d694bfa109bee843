"""`wav sim record --workers W --jpeg Q`: parallel episodes, JPEG cameras the import reads unchanged."""

import dataclasses
import json

import h5py
import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from wav_core.cli.main import main
from wav_core.config.loader import load
from wav_core.config.robot import RobotConfig
from wav_core.data.bags import open_bag
from wav_core.data.dataset import decode_frame, load_dataset
from wav_core.data.errors import BagError
from wav_core.data.import_bags import import_bags
from wav_core.data.messages import compressed_to_rgb
from wav_core.data.replay import BagReplay
from wav_core.sim.bag import RigBagWriter
from wav_core.sim.record import record_dataset

SIM_YAML = "config/sim_drawer.yaml"
DURATION_S = 1.5


def _record(out, *extra):
    return main(["sim", "record", "--task", "drawer", "--episodes", "2", "--seed", "5", "--out", str(out),
                 "--config", SIM_YAML, "--max-duration", str(DURATION_S), *extra])


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """The same two episodes recorded serially as raw rgb8 and by two workers as JPEG."""
    root = tmp_path_factory.mktemp("record")
    assert _record(root / "raw") == 0
    assert _record(root / "jpeg", "--workers", "2", "--jpeg", "90") == 0
    return root / "raw", root / "jpeg"


def _messages(bag_dir):
    """Topic -> [(log time, raw CDR bytes)] and topic -> type."""
    msgs: dict[str, list] = {}
    with Reader(bag_dir) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        for conn, stamp, raw in reader.messages():
            msgs.setdefault(conn.topic, []).append((stamp, bytes(raw)))
    return types, msgs


def _bag_bytes(bag_dir):
    return sum(f.stat().st_size for f in bag_dir.iterdir())


def test_jpeg_bag_uses_image_transport_topics(recordings):
    raw, jpeg = recordings
    robot = load(RobotConfig, SIM_YAML, section="robot")
    types, msgs = _messages(jpeg / "episode_0000")
    for cam in robot.cameras:
        assert types[f"{cam.topic}/compressed"] == "sensor_msgs/msg/CompressedImage"
        assert cam.topic not in types
    ts = get_typestore(Stores.ROS2_KILTED)
    _, first = msgs[f"{robot.cameras[0].topic}/compressed"][0]
    msg = ts.deserialize_cdr(first, "sensor_msgs/msg/CompressedImage")
    assert msg.format == "rgb8; jpeg compressed bgr8"
    assert msg.header.frame_id == robot.cameras[0].name
    assert compressed_to_rgb(msg).shape == (robot.cameras[0].height, robot.cameras[0].width, 3)
    assert _bag_bytes(jpeg / "episode_0000") * 10 < _bag_bytes(raw / "episode_0000")
    assert json.loads((jpeg / "summary.json").read_text())["jpeg_quality"] == 90
    assert json.loads((raw / "summary.json").read_text())["jpeg_quality"] is None


def test_jpeg_bags_import_with_the_unchanged_rig_config(recordings, tmp_path):
    raw, jpeg = recordings
    for name, bags in (("raw", raw), ("jpeg", jpeg)):
        assert main(["data", "import", "--bags", str(bags), "--config", SIM_YAML, "--out", str(tmp_path / name),
                     "--no-progress"]) == 0
    ds_raw, ds_jpeg = load_dataset(tmp_path / "raw"), load_dataset(tmp_path / "jpeg")
    assert [e.ticks for e in ds_jpeg.episodes] == [e.ticks for e in ds_raw.episodes]
    assert ds_jpeg.episodes[0].ticks >= 25
    for ep_raw, ep_jpeg in zip(ds_raw.episodes, ds_jpeg.episodes):
        with h5py.File(ep_raw.path) as fr, h5py.File(ep_jpeg.path) as fj:
            for key in ("state", "action", "time"):
                np.testing.assert_array_equal(fj[key][:], fr[key][:])
            for cam in ds_raw.cameras:
                for a, b in zip(fr["images"][cam], fj["images"][cam]):
                    diff = np.abs(decode_frame(a).astype(np.int16) - decode_frame(b).astype(np.int16))
                    assert diff.mean() < 8, f"{cam}: mean abs difference {diff.mean():.2f}"


def test_parallel_recording_matches_serial(recordings):
    raw, jpeg = recordings
    serial = json.loads((raw / "summary.json").read_text())
    parallel = json.loads((jpeg / "summary.json").read_text())
    assert parallel["seeds"] == serial["seeds"] == [5, 6]
    assert {k: v for k, v in parallel.items() if k != "jpeg_quality"} == \
           {k: v for k, v in serial.items() if k != "jpeg_quality"}
    robot = load(RobotConfig, SIM_YAML, section="robot")
    joint_topics = [t for a in robot.arms for t in (a.feedback_topic, a.command_topic)]
    for ep in ("episode_0000", "episode_0001"):
        _, m_serial = _messages(raw / ep)
        _, m_parallel = _messages(jpeg / ep)
        for topic in joint_topics + [robot.instruction_topic]:
            assert m_parallel[topic] == m_serial[topic], f"{ep} {topic}"
        for cam in robot.cameras:
            assert [t for t, _ in m_parallel[f"{cam.topic}/compressed"]] == [t for t, _ in m_serial[cam.topic]]


def _bag_without_right_camera(path, robot):
    two_cams = dataclasses.replace(robot, cameras=robot.cameras[:2])
    with RigBagWriter(path, two_cams, jpeg_quality=80) as bag:
        for k in range(10):
            t = k / 30
            for cam in two_cams.cameras:
                bag.write_image(cam.name, t, np.full((cam.height, cam.width, 3), 8 * k, dtype=np.uint8))
            for arm in robot.arms:
                bag.write_feedback(arm.name, t, np.zeros(7), np.zeros(7))
                bag.write_command(arm.name, t, np.zeros(7))


def test_missing_camera_names_the_bag_the_camera_and_both_topics(tmp_path):
    robot = load(RobotConfig, SIM_YAML, section="robot")
    _bag_without_right_camera(tmp_path / "bags" / "episode_0000", robot)
    expected = (r"episode_0000: camera cam_right_wrist: tried /camera_r/color/image_raw and "
                r"/camera_r/color/image_raw/compressed \[sensor_msgs/msg/CompressedImage\]")
    with pytest.raises(BagError, match=expected):
        import_bags([tmp_path / "bags"], robot, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    with open_bag(tmp_path / "bags" / "episode_0000") as bag, pytest.raises(BagError, match=expected):
        BagReplay(bag, robot)  # the offline replay's reader


def test_bad_arguments_fail_before_any_episode_runs(tmp_path):
    with pytest.raises(ValueError, match="workers: got 0"):
        record_dataset("drawer", 1, 0, tmp_path / "a", workers=0)
    with pytest.raises(ValueError, match="jpeg_quality: got 101"):
        record_dataset("drawer", 1, 0, tmp_path / "a", jpeg_quality=101)
    with pytest.raises(ValueError, match="jpeg_quality: got 0"):
        RigBagWriter(tmp_path / "b", RobotConfig(), jpeg_quality=0)
    (tmp_path / "c" / "episode_0001").mkdir(parents=True)
    with pytest.raises(ValueError, match="episode_0001 already exists"):
        record_dataset("drawer", 2, 0, tmp_path / "c", workers=2)
    assert not (tmp_path / "c" / "episode_0000").exists()
    assert main(["sim", "record", "--episodes", "1", "--out", str(tmp_path / "d"), "--workers", "0"]) == 2
    assert main(["sim", "record", "--episodes", "1", "--out", str(tmp_path / "d"), "--jpeg", "0"]) == 2

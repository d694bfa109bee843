"""rosbag2 (MCAP and SQLite3) -> dataset, end to end with real bags written by rosbags."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from wav_test_support import small_robot

from wav_core.cli.main import main as wav
from wav_core.data.bags import open_bag
from wav_core.data.dataset import decode_frame, load_dataset
from wav_core.data.errors import BagError, DataError
from wav_core.data.import_bags import import_bags
from wav_core.data.synthetic import T0_NS, BagSpec, command_value, joint_trajectory, write_rig_bag

SIM_YAML = Path(__file__).resolve().parents[3] / "config" / "sim_drawer.yaml"
CAM_L = "/camera_l/color/image_raw"


@pytest.fixture(scope="module")
def mcap_import(tmp_path_factory):
    robot = small_robot()
    root = tmp_path_factory.mktemp("mcap")
    spec = BagSpec(seconds=2.0, camera_jitter_s=0.004, drop_frames={"cam_high": [20, 21, 22, 23]},
                   corrupt_frames={"cam_left_wrist": [30, 31]}, instruction="open the drawer", row_padding=4)
    bag = write_rig_bag(root / "bags" / "episode_0", robot, spec)
    summary = import_bags([root / "bags"], robot, root / "ds")
    return robot, bag, summary, load_dataset(root / "ds")


def test_ticks_kept_and_dropped_with_reasons(mcap_import):
    robot, bag, summary, ds = mcap_import
    ep = ds.episodes[0]
    dropped = ep.dropped
    assert set(dropped) <= {"camera_skew", "camera_stale:cam_high", f"bad_message:{CAM_L}"}
    # The top camera's 166 ms gap: first its frame is too far from the wrist frames (skew > 50 ms),
    # then older than its 100 ms max age.
    assert dropped["camera_stale:cam_high"] >= 1
    assert dropped.get("camera_skew", 0) + dropped["camera_stale:cam_high"] in (1, 2, 3)
    assert dropped[f"bad_message:{CAM_L}"] in (1, 2)  # two corrupt frames span 66 ms > one tick
    n_grid = ep.ticks + sum(dropped.values())
    assert 38 <= n_grid <= 40  # 2 s at 20 Hz, from the first complete tick to the last
    assert summary.ticks == ep.ticks and summary.dropped_ticks == dropped
    assert "camera_stale:cam_high" in summary.format()


def test_state_action_and_time_match_the_recording(mcap_import):
    robot, bag, summary, ds = mcap_import
    ep = ds.episodes[0]
    stamps = np.array([T0_NS + int(i / 200 * 1e9) for i in range(400)])
    with h5py.File(ep.path) as f:
        start = int(f.attrs["start_ns"])
        times = f["time"][:]
        state, action = f["state"][:], f["action"][:]
        assert f.attrs["instruction"] == "open the drawer" and bool(f.attrs["success"])
    ticks = start + np.rint(times * 1e9).astype(np.int64)
    assert np.all(np.diff(times) > 0) and times[0] == 0.0
    steps = np.diff(times) / 0.05  # whole tick periods (more than one where ticks were dropped)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    for k, t in enumerate(ticks):
        i_state = np.searchsorted(stamps, t, side="right") - 1  # newest feedback at or before the tick
        i_cmd = np.searchsorted(stamps, t + 50_000_000, side="left") - 1  # newest command before the next tick
        np.testing.assert_allclose(state[k], joint_trajectory((stamps[i_state] - T0_NS) / 1e9), atol=1e-6)
        np.testing.assert_allclose(action[k], command_value((stamps[i_cmd] - T0_NS) / 1e9), atol=1e-6)


def test_dataset_contents(mcap_import):
    robot, bag, summary, ds = mcap_import
    assert ds.fps == 20.0 and ds.joint_names == robot.joint_names
    assert ds.cameras == ["cam_high", "cam_left_wrist", "cam_right_wrist"]
    assert ds.meta["cameras"][0]["height"] == 48 and ds.meta["instructions"] == ["open the drawer"]
    assert ds.meta["episodes"][0]["action_source"] == "command" and ds.meta["episodes"][0]["success_source"] == "assumed"
    assert len(ds.meta["value_channels"]) == 17
    with h5py.File(ds.episodes[0].path) as f:
        n = f["state"].shape[0]
        assert f["reward"].shape == (n, 16) and f["value"].shape == (n, 17) and f["action"].shape == (n, 14)
        frame = decode_frame(f["images/cam_left_wrist"][n // 2])
        value = f["value"][:]
    assert frame.shape == (48, 64, 3) and frame.std() > 5  # the moving pattern, not a blank
    # Default value targets: per-step averages of reward-to-go, so the last step is r_T / T.
    assert value[-1, 0] == pytest.approx(1.0 / n, rel=1e-5)  # wrist MSE term is exp(0) at T
    stats = ds.stats
    assert set(stats) >= {"state", "action", "value"} and len(stats["value"]["q99"]) == 17
    assert stats["state"]["min"][0] <= stats["state"]["q01"][0] <= stats["state"]["mean"][0] <= stats["state"]["max"][0]


def test_sqlite3_bag_with_feedback_actions_and_summary_success(tmp_path, make_robot):
    robot = make_robot(action_source="feedback")
    for i in range(2):
        write_rig_bag(tmp_path / "bags" / f"ep_{i}", robot, BagSpec(seconds=1.0, storage="sqlite3", with_commands=False))
    (tmp_path / "bags" / "summary.json").write_text(json.dumps({"expert_success": [True, False]}))
    with open_bag(tmp_path / "bags" / "ep_0") as bag:
        assert bag.path.joinpath("ep_0.db3").exists()  # really SQLite3
    import_bags([tmp_path / "bags"], robot, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert [e.success for e in ds.episodes] == [True, False]
    assert ds.meta["episodes"][1]["success_source"] == "summary.json"
    with h5py.File(ds.episodes[0].path) as f:
        state, action = f["state"][:], f["action"][:]
    np.testing.assert_array_equal(action[:-1], state[1:])  # next tick's feedback
    np.testing.assert_array_equal(action[-1], state[-1])
    assert ds.meta["episodes"][0]["action_source"] == "feedback"


def test_summary_json_mapping_by_bag_name(tmp_path, make_robot):
    robot = make_robot()
    write_rig_bag(tmp_path / "bags" / "run_a", robot, BagSpec(seconds=0.6))
    (tmp_path / "bags" / "summary.json").write_text(json.dumps({"expert_success": {"run_a": False}}))
    import_bags([tmp_path / "bags" / "run_a"], robot, tmp_path / "ds")
    assert load_dataset(tmp_path / "ds").episodes[0].success is False


def assert_nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.tmp")]


def test_missing_topic_lists_the_bag_topics(tmp_path, make_robot):
    robot = make_robot()
    two_cams = make_robot(cameras=[{"name": c.name, "topic": c.topic, "width": 64, "height": 48} for c in robot.cameras[:2]])
    write_rig_bag(tmp_path / "bag", two_cams, BagSpec(seconds=0.5))
    with pytest.raises(BagError, match=r"topic /camera_r/color/image_raw not in the bag; the bag has: /camera_h/color/image_raw \[sensor_msgs/msg/Image\]"):
        import_bags([tmp_path / "bag"], robot, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")


def test_wrong_joint_names_fail_with_the_conversion_error(tmp_path, make_robot):
    robot = make_robot()
    write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=0.5))
    renamed = make_robot(arms=[{"name": a.name, "feedback_topic": a.feedback_topic, "command_topic": a.command_topic,
                                "joint_names": [f"{a.name}_j{i}" for i in range(7)]} for a in robot.arms])
    with pytest.raises(DataError, match=r"no tick was kept.*bad_message:/left/joint_states_single.*missing joints \['left_j0'"):
        import_bags([tmp_path / "bag"], renamed, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")


def test_unknown_encoding_fails_naming_topic_and_field(tmp_path, make_robot):
    robot = make_robot()
    write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=0.5, encoding="nv12"))
    with pytest.raises(DataError, match=r"/camera_h/color/image_raw: field 'encoding': got 'nv12'"):
        import_bags([tmp_path / "bag"], robot, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")


def test_image_size_differing_from_config_is_reported(tmp_path, make_robot):
    robot = make_robot()
    write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=0.5, image_size={"cam_high": (40, 64)}))
    with pytest.raises(DataError, match=r"got 40x64, expected 48x64"):
        import_bags([tmp_path / "bag"], robot, tmp_path / "ds")


def test_truncated_mcap_bag_names_the_file(tmp_path, make_robot):
    robot = make_robot()
    bag = write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=1.0))
    mcap = bag / "bag.mcap"
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError, match=rf"{bag}: cannot open as rosbag2 .*magic"):
        import_bags([bag], robot, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")


def test_corrupt_sqlite3_bag_names_the_file(tmp_path, make_robot):
    robot = make_robot()
    bag = write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=0.5, storage="sqlite3"))
    db = bag / "bag.db3"
    db.write_bytes(b"not a database" * 100)
    with pytest.raises(BagError, match=str(bag)):
        import_bags([bag], robot, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")


def test_failure_in_a_later_bag_leaves_nothing_and_keeps_an_existing_dataset(tmp_path, make_robot):
    robot = make_robot()
    good = write_rig_bag(tmp_path / "bags" / "a", robot, BagSpec(seconds=0.5))
    write_rig_bag(tmp_path / "bags" / "b", robot, BagSpec(seconds=0.5, encoding="bayer"))
    with pytest.raises(DataError):
        import_bags([tmp_path / "bags"], robot, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")
    import_bags([good], robot, tmp_path / "ds")
    with pytest.raises(DataError, match="already exists"):
        import_bags([good], robot, tmp_path / "ds")
    with pytest.raises(DataError):
        import_bags([tmp_path / "bags"], robot, tmp_path / "ds", overwrite=True)
    assert len(load_dataset(tmp_path / "ds").episodes) == 1  # the old dataset survives a failed overwrite


def test_not_a_bag(tmp_path, make_robot):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="no metadata.yaml"):
        import_bags([tmp_path / "empty"], make_robot(), tmp_path / "ds")


def test_cli_import_and_info(tmp_path, capsys):
    from wav_core.config.loader import load
    from wav_core.config.robot import RobotConfig

    robot = load(RobotConfig, SIM_YAML, section="robot")
    write_rig_bag(tmp_path / "bags" / "ep", robot, BagSpec(seconds=0.5))
    out = tmp_path / "ds"
    assert wav(["data", "import", "--bags", str(tmp_path / "bags"), "--config", str(SIM_YAML), "--out", str(out), "--no-progress"]) == 0
    assert "1 episodes" in capsys.readouterr().out
    assert wav(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cam_high 424x240" in text and "left_gripper" in text and "total" in text
    assert wav(["data", "info", str(tmp_path / "bags")]) == 2
    assert "meta.json: missing" in capsys.readouterr().err


def test_compressed_cameras_with_a_corrupt_jpeg(tmp_path, make_robot):
    base = make_robot()
    robot = make_robot(cameras=[{"name": c.name, "topic": c.topic.replace("image_raw", "compressed"), "width": 64, "height": 48,
                                 "msg_type": "compressed"} for c in base.cameras])
    write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=1.0, storage="sqlite3", corrupt_frames={"cam_right_wrist": [12, 13]}))
    summary = import_bags([tmp_path / "bag"], robot, tmp_path / "ds")
    assert set(summary.dropped_ticks) == {"bad_message:/camera_r/color/compressed"}
    assert summary.dropped_ticks["bad_message:/camera_r/color/compressed"] in (1, 2)
    assert summary.ticks + sum(summary.dropped_ticks.values()) >= 18


def test_parallel_import_writes_the_same_dataset(tmp_path, make_robot):
    """--workers imports bags in separate processes; episodes keep the bag order and their content."""
    robot = make_robot()
    for i in range(3):
        write_rig_bag(tmp_path / "bags" / f"ep_{i}", robot, BagSpec(seconds=0.6 + 0.2 * i, instruction=f"task {i}"))
    import_bags([tmp_path / "bags"], robot, tmp_path / "serial")
    import_bags([tmp_path / "bags"], robot, tmp_path / "parallel", workers=2)
    serial, parallel = load_dataset(tmp_path / "serial"), load_dataset(tmp_path / "parallel")
    assert [e["source"] for e in parallel.meta["episodes"]] == [e["source"] for e in serial.meta["episodes"]]
    assert [e.instruction for e in parallel.episodes] == ["task 0", "task 1", "task 2"]
    assert parallel.stats == serial.stats
    for a, b in zip(serial.episodes, parallel.episodes):
        with h5py.File(a.path) as fa, h5py.File(b.path) as fb:
            for key in ("state", "action", "value", "time"):
                np.testing.assert_array_equal(fa[key][:], fb[key][:])
            assert [bytes(x) for x in fa["images/cam_high"][:]] == [bytes(x) for x in fb["images/cam_high"][:]]
    # A failing bag fails the whole import, from a worker as from the importing process.
    write_rig_bag(tmp_path / "bags" / "ep_3", robot, BagSpec(seconds=0.5, encoding="bayer"))
    with pytest.raises(DataError, match="ep_3"):
        import_bags([tmp_path / "bags"], robot, tmp_path / "failed", workers=2)
    assert_nothing_written(tmp_path, tmp_path / "failed")
    with pytest.raises(ValueError, match="workers: got 0"):
        import_bags([tmp_path / "bags"], robot, tmp_path / "x", workers=0)


def test_failed_episodes_are_kept_with_value_targets_computed_like_successes(tmp_path, make_robot):
    """A mixed-quality recording's summary.json (success, sub-goals, quality per bag): the failure is
    imported whole, and both episodes' rewards and values are what the reward code gives for their ticks."""
    from wav_core.data.config import DataConfig
    from wav_core.data.replay import BagReplay
    from wav_core.data.rewards import REWARD_COMPONENTS, dense_rewards, reward_frame
    from wav_core.data.values import value_targets

    robot, cfg = make_robot(), DataConfig()
    for i in range(2):
        write_rig_bag(tmp_path / "bags" / f"episode_{i:04d}", robot, BagSpec(seconds=1.0, seed=i))
    drop = {"mode": "drop", "after_s": 0.3, "events": {"dropped_at_s": 0.5}}
    (tmp_path / "bags" / "summary.json").write_text(json.dumps({"per_episode": [
        {"seed": 0, "bag": "episode_0000", "success": False, "subgoals": {"grasped": True, "placed": False}, "quality": drop},
        {"seed": 1, "bag": "episode_0001", "success": True, "subgoals": {"grasped": True, "placed": True},
         "quality": {"mode": "expert"}},
    ]}))
    import_bags([tmp_path / "bags"], robot, tmp_path / "ds", cfg)
    ds = load_dataset(tmp_path / "ds")
    assert [e.success for e in ds.episodes] == [False, True]
    assert ds.episodes[0].quality == drop and ds.episodes[0].quality_mode == "drop"
    assert ds.episodes[0].subgoals == {"grasped": True, "placed": False}
    for i, ep in enumerate(ds.episodes):
        with open_bag(tmp_path / "bags" / f"episode_{i:04d}") as bag:
            ticks = list(BagReplay(bag, robot, cfg.lookahead_s))
        frames = {c: np.stack([reward_frame(t.observation.images[c], cfg.reward) for t in ticks]) for c in cfg.reward.cameras}
        state = np.stack([t.observation.state for t in ticks])
        reward = dense_rewards(frames, state, np.stack([t.action for t in ticks]), cfg.reward)
        with h5py.File(ep.path) as f:
            assert f["value"].shape[0] == len(ticks)
            np.testing.assert_array_equal(f["reward"][:], reward[:, :len(REWARD_COMPONENTS)].astype(np.float32))
            np.testing.assert_array_equal(f["value"][:], value_targets(reward, cfg.value, ep.success).astype(np.float32))


def write_failure_and_successes(bags: Path, robot) -> None:
    """episode_0000 fails: it repeats the first second of the 1.5 s success episode_0001 (same scene,
    same seed) and stops; episode_0002 succeeds in another scene."""
    for name, seconds, seed in (("episode_0000", 1.0, 1), ("episode_0001", 1.5, 1), ("episode_0002", 1.5, 7)):
        write_rig_bag(bags / name, robot, BagSpec(seconds=seconds, seed=seed))
    (bags / "summary.json").write_text(json.dumps({"per_episode": [
        {"bag": f"episode_000{i}", "success": i > 0, "subgoals": {}} for i in range(3)]}))


def test_failed_episodes_can_be_measured_against_the_nearest_success(tmp_path, make_robot):
    """`reward: {goal: success}`: a failure's rewards measure progress toward the ending of the
    success that starts in the same scene, not toward its own failed ending; successes keep theirs."""
    from wav_core.data.config import DataConfig
    from wav_core.data.replay import BagReplay
    from wav_core.data.rewards import REWARD_COMPONENTS, RewardConfig, RewardGoal, dense_rewards, reward_frame
    from wav_core.data.values import ValueTargetConfig, value_targets

    robot = make_robot()
    cfg = DataConfig(reward=RewardConfig(goal="success"), value=ValueTargetConfig(horizon=4, outcome_weight=0.0))
    write_failure_and_successes(tmp_path / "bags", robot)
    import_bags([tmp_path / "bags"], robot, tmp_path / "ds", cfg, workers=2)

    def ticks_of(i):
        with open_bag(tmp_path / "bags" / f"episode_000{i}") as bag:
            ticks = list(BagReplay(bag, robot, cfg.lookahead_s))
        frames = {c: np.stack([reward_frame(t.observation.images[c], cfg.reward) for t in ticks]) for c in cfg.reward.cameras}
        return frames, np.stack([t.observation.state for t in ticks]), np.stack([t.action for t in ticks])

    ds = load_dataset(tmp_path / "ds")
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["episodes"][0]["reward_goal"].endswith("episode_0001")
    assert "reward_goal" not in meta["episodes"][1] and not list((tmp_path / "ds").rglob("*.npz"))
    frames, state, action = ticks_of(0)
    success_frames, success_state, _ = ticks_of(1)
    goal = RewardGoal.last_tick(success_frames, success_state)
    expected = dense_rewards(frames, state, action, cfg.reward, goal)
    own = dense_rewards(frames, state, action, cfg.reward)
    with h5py.File(ds.episodes[0].path) as f:
        np.testing.assert_array_equal(f["reward"][:], expected[:, :len(REWARD_COMPONENTS)].astype(np.float32))
        np.testing.assert_array_equal(f["value"][:], value_targets(expected, cfg.value, False).astype(np.float32))
        assert f["value"][-1, -1] < value_targets(own, cfg.value, False)[-1, -1]
    frames, state, action = ticks_of(2)
    with h5py.File(ds.episodes[2].path) as f:
        own = dense_rewards(frames, state, action, cfg.reward)
        np.testing.assert_array_equal(f["value"][:], value_targets(own, cfg.value, True).astype(np.float32))
    values = np.concatenate([h5py.File(e.path)["value"][:] for e in ds.episodes])
    np.testing.assert_allclose(ds.stats["value"]["mean"], values.mean(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("grayscale", [False, True])
def test_progress_is_the_phase_reached_along_the_matched_success(tmp_path, make_robot, grayscale):
    """`reward: {goal: progress}`: the total channel is t / (T-1) along a success; a failure that
    repeats the first second of a 1.5 s success, then stops, reaches the phase of the ticks it repeats."""
    from wav_core.data.config import DataConfig
    from wav_core.data.rewards import RewardConfig
    from wav_core.data.values import ValueTargetConfig

    robot = make_robot()
    cfg = DataConfig(reward=RewardConfig(goal="progress", grayscale=grayscale), value=ValueTargetConfig(horizon=1, outcome_weight=0.0))
    write_failure_and_successes(tmp_path / "bags", robot)
    import_bags([tmp_path / "bags"], robot, tmp_path / "ds", cfg)
    ds = load_dataset(tmp_path / "ds")
    failed, success, other = (h5py.File(e.path)["value"][:, -1] for e in ds.episodes)
    np.testing.assert_allclose(success, np.linspace(0, 1, len(success)), atol=1e-6)
    np.testing.assert_allclose(other, np.linspace(0, 1, len(other)), atol=1e-6)
    assert len(failed) < len(success)
    np.testing.assert_allclose(failed, np.arange(len(failed)) / (len(success) - 1), atol=1e-6)


def test_bad_outcome_in_summary_names_the_entry(tmp_path, make_robot):
    robot = make_robot()
    write_rig_bag(tmp_path / "bags" / "episode_0000", robot, BagSpec(seconds=0.5))
    (tmp_path / "bags" / "summary.json").write_text(json.dumps({"per_episode": [
        {"bag": "episode_0000", "success": "yes", "subgoals": {}}]}))
    with pytest.raises(DataError, match=r"summary.json: per_episode\[0\].success: got 'yes', expected true or false"):
        import_bags([tmp_path / "bags"], robot, tmp_path / "ds")
    assert_nothing_written(tmp_path, tmp_path / "ds")


def test_the_summary_names_episodes_faster_than_the_safety_limits(mcap_import, tmp_path):
    from wav_core.runtime.config import SafetyConfig

    robot, bag, summary, ds = mcap_import
    assert len(summary.limits) == 1 and summary.limits[0].steps == ds.episodes[0].ticks - 1
    slow = import_bags([bag], robot, tmp_path / "ds", safety=SafetyConfig(max_joint_velocity=1e-3))
    assert slow.limits[0].over_speed > 0
    assert "policy.safety.max_joint_velocity 0.001 rad/s" in slow.format()

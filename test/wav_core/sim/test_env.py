"""SimEnv: the gym-style twin of the Piper rig (determinism, limits, action validation, kinematics)."""

import mujoco
import numpy as np
import pytest

from wav_core.config.robot import CameraConfig, RobotConfig
from wav_core.robot import piper
from wav_core.sim import SimEnv


@pytest.fixture(scope="module")
def small_env():
    with SimEnv("drawer", image_size=(32, 40)) as env:
        yield env


def test_observation_matches_robot_config_at_full_resolution():
    with SimEnv("bowl") as env:
        obs = env.reset(seed=0)
    robot = RobotConfig()
    assert set(obs["images"]) == set(robot.camera_names)
    for cam in robot.cameras:
        img = obs["images"][cam.name]
        assert img.shape == (cam.height, cam.width, 3) and img.dtype == np.uint8
        assert img.std() > 5, f"{cam.name} rendered a blank image"
    assert obs["state"].shape == (14,) and obs["state"].dtype == np.float64
    np.testing.assert_allclose(obs["state"], piper.HOME, atol=0.01)
    assert obs["instruction"] == "put the cup into the bowl"
    assert obs["time"] == 0.0


def test_same_seed_gives_identical_states_and_images(small_env):
    other = SimEnv("drawer", image_size=(32, 40))
    action = piper.HOME.copy()
    action[[1, 8]] += 0.3
    runs = []
    for env in (small_env, other):
        env.reset(seed=7)
        for _ in range(3):
            obs, _ = env.step(action)
        runs.append((obs, env.data.body("block").xpos.copy()))
    other.close()
    (a, block_a), (b, block_b) = runs
    np.testing.assert_array_equal(a["state"], b["state"])
    np.testing.assert_array_equal(block_a, block_b)
    for name in a["images"]:
        np.testing.assert_array_equal(a["images"][name], b["images"][name])


def test_different_seeds_move_the_objects(small_env):
    small_env.reset(seed=1)
    first = (small_env.data.body("block").xpos.copy(), small_env.model.body("cabinet").pos.copy())
    small_env.reset(seed=2)
    assert not np.allclose(first[0], small_env.data.body("block").xpos)
    assert not np.allclose(first[1], small_env.model.body("cabinet").pos)


def test_targets_beyond_limits_are_clipped_and_reported(small_env):
    small_env.reset(seed=0)
    action = piper.HOME.copy()
    action[1] = 4.0  # left joint2 above 3.14
    action[13] = 0.2  # right gripper beyond 0.07 m
    _, info = small_env.step(action)
    assert info["n_clipped"] == 2
    assert np.flatnonzero(info["clipped"]).tolist() == [1, 13]
    assert small_env.targets[1] == pytest.approx(piper.JOINT_UPPER[1])
    assert small_env.targets[13] == pytest.approx(piper.GRIPPER_MAX_M)
    _, info = small_env.step(piper.HOME)
    assert info["n_clipped"] == 0


@pytest.mark.parametrize("bad", [np.zeros(13), np.zeros((2, 7)), np.r_[np.zeros(13), np.nan],
                                 np.r_[np.inf, np.zeros(13)]])
def test_malformed_actions_raise_naming_the_action(small_env, bad):
    small_env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        small_env.step(bad)


def test_gripper_opening_is_the_distance_between_the_fingers(small_env):
    small_env.reset(seed=0)
    action = piper.HOME.copy()
    action[6], action[13] = 0.05, 0.02
    for _ in range(10):
        obs, _ = small_env.step(action)
    assert obs["state"][6] == pytest.approx(0.05, abs=1e-3)
    assert obs["state"][13] == pytest.approx(0.02, abs=1e-3)
    d = small_env.data
    pad_gap = np.linalg.norm(d.body("left_finger_a").xpos - d.body("left_finger_b").xpos)
    assert pad_gap == pytest.approx(0.05, abs=1e-3)


def test_joint_servos_track_targets(small_env):
    small_env.reset(seed=0)
    target = np.array([0.4, 1.2, -0.9, 0.3, -0.4, 0.5, 0.03, -0.4, 1.0, -1.1, -0.2, 0.5, -0.6, 0.06])
    for _ in range(40):
        obs, _ = small_env.step(target)
    np.testing.assert_allclose(obs["state"], target, atol=0.02)


def test_fine_stepping_for_a_ros_node(small_env):
    small_env.reset(seed=0)
    small_env.set_targets(piper.HOME)
    dt = small_env.model.opt.timestep
    small_env.step_physics(3)
    assert small_env.time == pytest.approx(3 * dt)
    small_env.advance(0.005)  # one 200 Hz joint period
    assert small_env.time == pytest.approx(6 * dt)
    imgs = small_env.render(["cam_high"], size=(24, 24))
    assert imgs["cam_high"].shape == (24, 24, 3)
    assert small_env.time == pytest.approx(6 * dt), "rendering must not advance time"


def _dh_flange(q: np.ndarray) -> np.ndarray:
    """Independent forward kinematics with the SDK's modified DH convention."""
    t = np.eye(4)
    for i in range(6):
        a, d = piper.DH_A_MM[i] / 1000, piper.DH_D_MM[i] / 1000
        al, th = piper.DH_ALPHA[i], q[i] + piper.DH_THETA_OFFSET[i]
        ca, sa, ct, st = np.cos(al), np.sin(al), np.cos(th), np.sin(th)
        t = t @ np.array([[ct, -st, 0, a], [st * ca, ct * ca, -sa, -sa * d],
                          [st * sa, ct * sa, ca, ca * d], [0, 0, 0, 1]])
    return t


def test_arm_kinematics_follow_the_sdk_dh_parameters(small_env):
    rng = np.random.default_rng(0)
    small_env.reset(seed=0)
    base = small_env.data.body("right_base").xpos.copy()
    for _ in range(5):
        q = rng.uniform(piper.JOINT_LOWER, piper.JOINT_UPPER)
        small_env.data.qpos[small_env._arm_qadr[6:]] = q
        mujoco.mj_kinematics(small_env.model, small_env.data)
        expected = _dh_flange(q)
        np.testing.assert_allclose(small_env.data.body("right_link6").xpos - base, expected[:3, 3], atol=1e-6)
        np.testing.assert_allclose(small_env.data.body("right_link6").xmat.reshape(3, 3), expected[:3, :3], atol=1e-6)


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="task"):
        SimEnv("sorting")
    robot = RobotConfig(cameras=[CameraConfig("cam_front", "/front", 64, 48)])
    with pytest.raises(ValueError, match="cam_front"):
        SimEnv("drawer", robot=robot)
    swapped = RobotConfig()
    swapped.arms.reverse()
    with pytest.raises(ValueError, match="robot.arms"):
        SimEnv("drawer", robot=swapped)


def test_a_saved_state_brings_the_episode_back_bit_for_bit():
    reach = piper.HOME.copy()
    reach[[1, 8]] += 0.3
    detour = reach + 0.2
    ends = []
    for detoured in (False, True):
        with SimEnv("drawer", render=False) as env:
            env.reset(8)
            for _ in range(3):
                env.step(reach)
            if detoured:
                saved = env.save_state()
                for _ in range(5):
                    env.step(detour)
                assert not np.allclose(env.joint_state(), reach, atol=0.05)
                env.restore_state(saved)
            for _ in range(5):
                env.step(reach)
            ends.append((env.joint_state(), env.time, env.targets, env.info()["success"]))
    assert np.array_equal(ends[0][0], ends[1][0]) and ends[0][1] == ends[1][1]
    assert np.array_equal(ends[0][2], ends[1][2]) and ends[0][3] == ends[1][3]


@pytest.mark.parametrize("task", ["drawer", "bowl"])
def test_each_reach_is_a_tool_and_an_object_its_progress_distance_apart(task):
    """`Task.reaches` gives the points behind the tool-to-object distances, for target_following."""
    with SimEnv(task, image_size=(24, 32)) as env:
        env.reset(seed=3)
        reaches = env.task.reaches(env.model, env.data)
        progress = env.task.progress(env.model, env.data)
        assert reaches and set(reaches) <= set(progress)
        for name, (tool, target) in reaches.items():
            assert tool.shape == target.shape == (3,)
            assert np.linalg.norm(tool - target) == pytest.approx(progress[name])
        # The object's point is where the object is, so it moves with the episode's placement.
        env.reset(seed=4)
        other = env.task.reaches(env.model, env.data)
        assert any(not np.allclose(reaches[n][1], other[n][1]) for n in reaches)

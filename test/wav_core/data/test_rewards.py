"""Dense rewards (FACTS section 3), SSIM against scikit-image, and value targets."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from wav_core.config.loader import ConfigError, from_dict
from wav_core.data.rewards import REWARD_CHANNELS, REWARD_COMPONENTS, REWARD_WEIGHTS, RewardConfig, RewardGoal, dense_rewards, reward_frame
from wav_core.data.ssim import ssim
from wav_core.data.values import ValueTargetConfig, value_targets


def sk_ssim(a, b):
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    if a.ndim == 3:
        kw["channel_axis"] = -1
    return structural_similarity(a, b, **kw)


@pytest.mark.parametrize("shape", [(32, 40, 3), (64, 64, 1), (24, 17)])
def test_ssim_matches_skimage(shape):
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, size=shape, dtype=np.uint8)
    noisy = np.clip(ref.astype(int) + rng.normal(0, 25, size=shape), 0, 255).astype(np.uint8)
    other = rng.integers(0, 256, size=shape, dtype=np.uint8)
    frames = np.stack([ref, noisy, other])
    ours = ssim(frames, ref)
    expected = [sk_ssim(f.squeeze(), ref.squeeze()) for f in frames]
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    assert ours[0] == pytest.approx(1.0)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((1, 8, 8, 3)), np.zeros((8, 8, 3)))


def const(values, size=16):
    return np.stack([np.full((size, size, 3), v, dtype=np.uint8) for v in values])


def ssim_const(a, b):
    c1 = (0.01 * 255) ** 2
    return (2 * a * b + c1) / (a * a + b * b + c1)


def test_channel_layout():
    assert len(REWARD_COMPONENTS) == 16 and len(REWARD_CHANNELS) == 17 and REWARD_CHANNELS[-1] == "total"
    assert REWARD_COMPONENTS[:7] == ("left_wrist_mse", "left_wrist_ssim", "left_joint_proximity", "left_joint_velocity",
                                     "left_joint_acceleration", "left_action_velocity", "left_action_acceleration")
    assert REWARD_COMPONENTS[-2:] == ("top_mse", "top_ssim")
    np.testing.assert_allclose(REWARD_WEIGHTS[:7] * 16, [1, 1, 1, -1, -1, -0.1, -0.1])
    assert REWARD_WEIGHTS[-2:].tolist() == [1 / 16, 1 / 16]


def test_rewards_on_a_hand_computed_episode():
    cfg = RewardConfig()
    frames = {"cam_left_wrist": const([0, 10, 20]), "cam_right_wrist": const([20, 20, 20]), "cam_high": const([5, 5, 15])}
    t = np.arange(3.0)
    state = np.zeros((3, 14))
    state[:, 0] = t  # left joint1 moves 0, 1, 2
    action = np.zeros((3, 14))
    action[:, 7] = t**2  # right joint1 command 0, 1, 4
    r = dense_rewards(frames, state, action, cfg)
    col = {name: r[:, i] for i, name in enumerate(REWARD_CHANNELS)}
    np.testing.assert_allclose(col["left_wrist_mse"], np.exp(-0.01 * np.array([400, 100, 0])))
    np.testing.assert_allclose(col["left_wrist_ssim"], np.exp(np.array([ssim_const(0, 20), ssim_const(10, 20), 1.0]) - 1))
    np.testing.assert_allclose(col["left_joint_proximity"], np.exp(-np.array([2.0, 1.0, 0.0])))
    np.testing.assert_allclose(col["left_joint_velocity"], [0, 1, 1])
    np.testing.assert_allclose(col["left_joint_acceleration"], [0, 0, 0])
    np.testing.assert_allclose(col["left_action_velocity"], [0, 0, 0])
    np.testing.assert_allclose(col["right_wrist_mse"], [1, 1, 1])
    np.testing.assert_allclose(col["right_wrist_ssim"], [1, 1, 1])
    np.testing.assert_allclose(col["right_joint_proximity"], [1, 1, 1])
    np.testing.assert_allclose(col["right_action_velocity"], [0, 1, 3])
    np.testing.assert_allclose(col["right_action_acceleration"], [0, 0, 2])
    np.testing.assert_allclose(col["top_mse"], np.exp(-0.01 * np.array([100, 100, 0])))
    np.testing.assert_allclose(col["top_ssim"], np.exp(np.array([ssim_const(5, 15), ssim_const(5, 15), 1.0]) - 1))
    np.testing.assert_allclose(col["total"], r[:, :16] @ REWARD_WEIGHTS)
    # At the final step the 8 similarity/proximity terms are 1; the left arm and right command still move.
    assert col["total"][-1] == pytest.approx((8 - 1 - 0.1 * (3 + 2)) / 16)


def test_reward_frame_resizes_and_grayscale():
    img = np.zeros((48, 64, 3), dtype=np.uint8)
    img[..., 1] = 200
    assert reward_frame(img, RewardConfig()).shape == (64, 64, 3)
    gray = reward_frame(img, RewardConfig(image_size=(16, 20), grayscale=True))
    assert gray.shape == (16, 20, 1) and gray[0, 0, 0] == round(0.587 * 200)


def test_reward_config_and_input_errors():
    with pytest.raises(ConfigError, match="image_size"):
        from_dict(RewardConfig, {"image_size": [8, 8]})
    with pytest.raises(ConfigError, match="wrist_cameras"):
        from_dict(RewardConfig, {"wrist_cameras": {"left": "a"}})
    frames = {"cam_left_wrist": const([0, 1]), "cam_right_wrist": const([0, 1])}
    with pytest.raises(ValueError, match="cam_high"):
        dense_rewards(frames, np.zeros((2, 14)), np.zeros((2, 14)), RewardConfig())
    with pytest.raises(ValueError, match=r"\[2, 14\]"):
        dense_rewards({**frames, "cam_high": const([0, 1])}, np.zeros((2, 12)), np.zeros((2, 14)), RewardConfig())


def test_value_targets_default_is_per_step_average_reward_to_go():
    r = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0], [4.0, 0.0]])
    v = value_targets(r, success=False)
    np.testing.assert_allclose(v[:, 0], np.array([10, 9, 7, 4]) / 4)
    np.testing.assert_allclose(v[:, 1], np.array([2, 2, 1, 0]) / 4)


def test_the_total_value_of_a_success_carries_the_outcome():
    r = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0], [4.0, 0.0]])
    won, lost = value_targets(r, success=True), value_targets(r, success=False)
    np.testing.assert_allclose(won[:, 0], lost[:, 0])  # components are unchanged
    np.testing.assert_allclose(won[:, 1] - lost[:, 1], 1.0)
    half = value_targets(r, ValueTargetConfig(discount=0.5, outcome_weight=2.0), success=True)
    np.testing.assert_allclose(half[:, 1] - value_targets(r, ValueTargetConfig(discount=0.5), success=False)[:, 1],
                               2.0 * 0.5 ** np.array([3, 2, 1, 0]))
    with pytest.raises(ConfigError, match="outcome_weight"):
        from_dict(ValueTargetConfig, {"outcome_weight": -1.0})


def test_a_value_horizon_averages_the_next_rewards_holding_the_last():
    r = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0], [4.0, 0.0]])
    cfg = ValueTargetConfig(horizon=2, outcome_weight=0.0)
    np.testing.assert_allclose(value_targets(r, cfg, success=True)[:, 0], [1.5, 2.5, 3.5, 4.0])
    gamma = value_targets(r, ValueTargetConfig(horizon=3, discount=0.5, outcome_weight=0.0), success=False)
    np.testing.assert_allclose(gamma[:, 1], [(0 + 0.5 + 0.25) / 3, (1 + 0.5 + 0) / 3, (1 + 0 + 0) / 3, 0.0])
    with pytest.raises(ConfigError, match="horizon: got -1"):
        from_dict(ValueTargetConfig, {"horizon": -1})


def test_rewards_can_measure_progress_toward_another_episodes_ending():
    """A goal other than the episode's own last tick: the image and joint terms compare with it."""
    cfg = RewardConfig(image_size=(12, 12))
    rng = np.random.default_rng(0)
    frames = {c: rng.integers(0, 256, (5, 12, 12, 3), dtype=np.uint8) for c in cfg.cameras}
    state, action = rng.normal(size=(5, 14)), rng.normal(size=(5, 14))
    own = dense_rewards(frames, state, action, cfg)
    np.testing.assert_array_equal(own, dense_rewards(frames, state, action, cfg, RewardGoal.last_tick(frames, state)))
    goal = RewardGoal({c: f[2] for c, f in frames.items()}, state[2])
    other = dense_rewards(frames, state, action, cfg, goal)
    at_goal = REWARD_COMPONENTS.index("left_joint_proximity")
    assert other[2, at_goal] == 1.0 and own[4, at_goal] == 1.0 and other[4, at_goal] < 1.0
    with pytest.raises(ValueError, match="goal frame of 'cam_high'"):
        dense_rewards(frames, state, action, cfg, RewardGoal({**goal.frames, "cam_high": goal.frames["cam_high"][:4]}, goal.state))


def test_value_targets_discount_and_no_scaling():
    r = np.array([[1.0], [1.0], [1.0]])
    v = value_targets(r, ValueTargetConfig(discount=0.5, scaling="none"), success=False)
    np.testing.assert_allclose(v[:, 0], [1.75, 1.5, 1.0])
    with pytest.raises(ConfigError, match="discount"):
        from_dict(ValueTargetConfig, {"discount": 1.5})
    with pytest.raises(ConfigError, match="scaling"):
        from_dict(ValueTargetConfig, {"scaling": "max"})

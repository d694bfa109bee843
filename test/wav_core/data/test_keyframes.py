"""Keyframes: each arm's target is its state at the next grasp or release, arm by arm."""

import numpy as np
import pytest

from wav_core.data.keyframes import approaching_grasp, gripper_thresholds, next_keyframe_states


def episode(left_closed, right_closed):
    """state row t = t in every channel (so a target names its tick); gripper commands 0 (closed)
    or 0.07 (open) on the ticks given."""
    n = 10
    state = np.repeat(np.arange(n, dtype=float)[:, None], 14, axis=1)
    action = np.full((n, 14), 0.07)
    action[list(left_closed), 6] = 0.0
    action[list(right_closed), 13] = 0.0
    return state, action


def test_each_arm_targets_its_own_next_gripper_change():
    state, action = episode(left_closed=range(3, 7), right_closed=range(5, 10))
    out = next_keyframe_states(state, action, np.array([0.035, 0.035]))
    # left closes at 3 and opens at 7, then holds to the last tick 9; right closes at 5.
    np.testing.assert_array_equal(out[:, 0], [3, 3, 3, 7, 7, 7, 7, 9, 9, 9])
    np.testing.assert_array_equal(out[:, 7], [5, 5, 5, 5, 5, 9, 9, 9, 9, 9])
    assert (out[:, :7] == out[:, :1]).all() and (out[:, 7:] == out[:, 7:8]).all()


def test_an_arm_that_never_grasps_targets_the_last_tick():
    state, action = episode(left_closed=(), right_closed=())
    out = next_keyframe_states(state, action, np.array([0.035, 0.035]))
    assert (out == 9).all()


def test_thresholds_lie_midway_between_the_gripper_quantiles():
    stats = {"q01": [0.0] * 6 + [0.01] + [0.0] * 6 + [0.0], "q99": [1.0] * 6 + [0.07] + [1.0] * 6 + [0.05]}
    np.testing.assert_allclose(gripper_thresholds(stats), [0.04, 0.025])


def test_mismatched_shapes_are_refused():
    state, action = episode((), ())
    with pytest.raises(ValueError, match="same arms"):
        next_keyframe_states(state, action[:, :7], np.array([0.035, 0.035]))


def test_an_arm_approaches_a_grasp_until_its_gripper_closes():
    _, action = episode(left_closed=range(3, 7), right_closed=range(5, 10))
    out = approaching_grasp(action, np.array([0.035, 0.035]))
    # left closes at 3 (approach before it), opens at 7 (holding), then nothing follows
    np.testing.assert_array_equal(out[:, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(out[:, 1], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    _, never = episode(left_closed=(), right_closed=())
    assert not approaching_grasp(never, np.array([0.035, 0.035])).any()
    with pytest.raises(ValueError, match="same arms"):
        approaching_grasp(action[:, :7], np.array([0.035, 0.035]))


def test_a_window_keeps_the_last_ticks_of_each_approach():
    _, action = episode(left_closed=[*range(2, 4), *range(8, 10)], right_closed=range(5, 10))
    out = approaching_grasp(action, np.array([0.035, 0.035]), window=2)
    # left: grasps at 2 and again at 8 (after opening at 4); only the two ticks before each close count
    np.testing.assert_array_equal(out[:, 0], [1, 1, 0, 0, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(out[:, 1], [0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    whole = approaching_grasp(action, np.array([0.035, 0.035]))
    np.testing.assert_array_equal(whole[:, 0], [1, 1, 0, 0, 1, 1, 1, 1, 0, 0])
    # one window per arm: the left arm's last two ticks, the right arm's whole approach
    per_arm = approaching_grasp(action, np.array([0.035, 0.035]), window=[2, 0])
    np.testing.assert_array_equal(per_arm[:, 0], out[:, 0])
    np.testing.assert_array_equal(per_arm[:, 1], whole[:, 1])
    with pytest.raises(ValueError, match="1 windows for 2 arms"):
        approaching_grasp(action, np.array([0.035, 0.035]), window=[2])

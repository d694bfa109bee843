"""The import says which demonstrations move faster than the control loop's safety filter lets a
policy move: imitating them, the arm lags the recording."""

import numpy as np
import pytest

from wav_core.data.executable import describe_excess, limit_excess
from wav_core.runtime.config import SafetyConfig

TICK_HZ = 20.0


def ramp(speed: float, ticks: int = 40, joint: int = 1) -> np.ndarray:
    a = np.zeros((ticks, 14))
    a[:, joint] = np.arange(ticks) * speed / TICK_HZ
    return a


def test_commands_within_the_limits_pass():
    e = limit_excess(ramp(1.0), TICK_HZ, SafetyConfig())
    assert not e.exceeds and e.max_speed == pytest.approx(1.0)
    assert describe_excess([e], SafetyConfig()) == []


def test_a_joint_faster_than_the_limit_is_counted_and_named():
    e = limit_excess(ramp(2.0), TICK_HZ, SafetyConfig(max_joint_velocity=1.5))
    assert e.over_speed == 39 and e.max_speed == pytest.approx(2.0)
    assert e.over_acceleration == 0, "a constant speed does not accelerate after the first step"
    text = "\n".join(describe_excess([e, limit_excess(ramp(1.0), TICK_HZ, SafetyConfig())], SafetyConfig()))
    assert "1 of 2 episodes" in text and "policy.safety.max_joint_velocity 1.5 rad/s" in text and "up to 2 rad/s" in text


def test_gripper_steps_and_accelerations_are_checked_separately():
    a = ramp(1.0)
    a[20:, 6] = 0.07  # the gripper opens in one tick: 1.4 m/s
    a[30:, 7] = np.arange(10) * 0.5 / TICK_HZ  # a joint starts at 0.5 rad/s within one tick: 10 rad/s^2
    e = limit_excess(a, TICK_HZ, SafetyConfig())
    assert e.over_gripper == 1 and e.max_gripper == pytest.approx(1.4)
    assert e.over_acceleration == 1 and e.max_acceleration == pytest.approx(10.0)
    assert e.over_speed == 0


def test_wrong_shape_names_the_expected_one():
    with pytest.raises(ValueError, match=r"expected \[ticks, 14\]"):
        limit_excess(np.zeros((5, 12)), TICK_HZ, SafetyConfig())

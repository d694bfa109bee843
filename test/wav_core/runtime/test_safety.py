"""The safety filter: limits, rates, NaN rejection, anchoring only on in-limit poses, holds that brake
within the acceleration limit; the watchdog: stale inputs hold the arm; the tracking monitor."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wav_core.config import ConfigError
from wav_core.robot.piper import DUAL_LOWER, DUAL_UPPER, HOME
from wav_core.runtime.config import SafetyConfig
from wav_core.runtime.safety import SafetyFilter, TrackingMonitor, Watchdog

DT = 1 / 200


def test_targets_outside_the_limits_are_clipped():
    f = SafetyFilter(SafetyConfig(max_joint_velocity=3.0, max_joint_acceleration=1e6, max_gripper_velocity=100))
    f.reset(HOME)
    far = DUAL_UPPER + 1.0
    for _ in range(2000):
        out = f.filter(far, DT)
    np.testing.assert_allclose(out.command, DUAL_UPPER)
    assert "clipped_position" in out.events


def test_velocity_and_acceleration_are_bounded():
    cfg = SafetyConfig(max_joint_velocity=1.0, max_joint_acceleration=5.0)
    f = SafetyFilter(cfg)
    f.reset(HOME)
    prev, prev_v = HOME.copy(), np.zeros(14)
    target = HOME.copy()
    target[0] += 1.0  # a jump of 1 rad
    for _ in range(100):
        cmd = f.filter(target, DT).command
        v = (cmd - prev) / DT
        assert np.all(np.abs(v[:6]) <= 1.0 + 1e-9)
        assert np.all(np.abs(v - prev_v)[:6] <= 5.0 * DT + 1e-9)
        prev, prev_v = cmd, v
    assert 0 < prev[0] - HOME[0] < 1.0  # still on its way, never jumped


def test_a_held_target_is_reached_without_overshoot_and_kept():
    # A pure rate limit heads for the target at full step, cannot brake in time and rings around it
    # (a 0.5 rad step: up to 0.63 rad, and still 0.06 rad off after 2 s).
    f = SafetyFilter(SafetyConfig())
    f.reset(HOME)
    target = HOME.copy()
    target[1] += 0.5
    out = np.array([f.filter(target, 0.005).command for _ in range(400)])
    assert out[:, 1].max() <= target[1] + 0.005
    assert np.all(np.abs(out[-100:] - target) < 1e-9)


def test_a_path_that_turns_at_the_acceleration_limit_is_followed_closely():
    # Set-points interpolated between 20 Hz steps turn at each step; the filter falls behind there
    # and must catch up without overshooting the path.
    v = np.tile(np.r_[np.arange(0, 1.21, 0.3), np.arange(0.9, -1.21, -0.3), np.arange(-0.9, 0.01, 0.3)], 3)
    steps = HOME[1] + np.cumsum(np.r_[0.0, v]) / 20
    f = SafetyFilter(SafetyConfig())
    f.reset(HOME)
    path, out = [], []
    for a, b in zip(steps[:-1], steps[1:]):
        for k in range(10):
            target = HOME.copy()
            target[1] = a + (b - a) * k / 10
            path.append(target[1])
            out.append(f.filter(target, 0.005).command[1])
    assert np.max(np.abs(np.array(out) - path)) < 0.03


def test_nonfinite_targets_are_a_braking_hold():
    f = SafetyFilter(SafetyConfig())
    f.reset(HOME)
    f.filter(HOME + 0.001, DT)
    bad = HOME.copy()
    bad[3] = np.nan
    out = f.filter(bad, DT)
    assert out.events == ["nonfinite_target"]
    assert np.all(np.isfinite(out.command)) and f.events["nonfinite_target"] == 1
    assert f.filter(np.zeros(13), DT).events == ["nonfinite_target"]


def test_limits_may_only_be_tightened():
    with pytest.raises(ConfigError, match="outside the arm's hardware range"):
        SafetyFilter(SafetyConfig(upper=(DUAL_UPPER + 0.5).tolist()))
    with pytest.raises(ConfigError, match="firmware limit"):
        SafetyFilter(SafetyConfig(max_joint_velocity=4.0))


def test_watchdog_reports_the_stale_input():
    w = Watchdog(SafetyConfig(camera_timeout_s=0.5, joint_timeout_s=0.2))
    assert w.check(10.0, {"cam_high": 9.9}, 9.95) is None
    assert w.check(10.0, {"cam_high": 9.4}, 9.95) == "camera_stale:cam_high"
    assert w.check(10.0, {"cam_high": 9.9}, 9.7) == "joint_feedback_stale"
    assert w.check(10.0, {"cam_high": None}, 9.95) == "camera_stale:cam_high"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=14, max_size=14),
                min_size=1, max_size=20))
def test_any_target_sequence_yields_commands_inside_every_limit(targets):
    cfg = SafetyConfig()
    f = SafetyFilter(cfg)
    f.reset(HOME)
    prev = HOME.copy()
    for t in targets:
        cmd = f.filter(np.asarray(t, dtype=np.float64), DT).command
        assert np.all(np.isfinite(cmd))
        assert np.all(cmd >= DUAL_LOWER - 1e-12) and np.all(cmd <= DUAL_UPPER + 1e-12)
        assert np.all(np.abs(cmd - prev)[:6] <= cfg.max_joint_velocity * DT + 1e-9)
        prev = cmd


def test_a_measured_pose_outside_the_limits_is_refused_not_clipped():
    f = SafetyFilter(SafetyConfig(measured_limit_tolerance=0.005))
    beyond = HOME.copy()
    beyond[1] = DUAL_LOWER[1] - 0.1
    with pytest.raises(ValueError, match=r"\[1\] -0.1000 not in \[0.0000"):
        f.reset(beyond)
    assert f.last is None
    noisy = HOME.copy()
    noisy[6] = -0.002  # a closed gripper read slightly below 0: anchored on the limit, and counted
    f.reset(noisy)
    assert f.last[6] == 0.0 and f.events["anchor_clipped"] == 1


def test_a_hold_brakes_at_the_acceleration_limit_instead_of_stopping_dead():
    cfg = SafetyConfig(max_joint_velocity=1.5, max_joint_acceleration=8.0)
    f = SafetyFilter(cfg)
    f.reset(HOME)
    target = HOME.copy()
    target[0] += 2.0
    q = [f.filter(target, DT).command for _ in range(60)]  # up to speed
    for _ in range(60):
        q.append(f.hold("plan_late", DT).command)
    v = np.diff(np.stack(q)[:, 0]) / DT
    assert v[58] > 1.0  # it was moving fast when the hold began
    assert np.all(np.abs(np.diff(v)) <= cfg.max_joint_acceleration * DT + 1e-9)
    assert v[-1] == 0.0 and f.events["plan_late"] == 60


def test_joints_slow_down_before_a_limit_instead_of_stopping_on_it():
    cfg = SafetyConfig(max_joint_velocity=3.0, max_joint_acceleration=8.0)
    f = SafetyFilter(cfg)
    f.reset(HOME)
    q = [f.filter(DUAL_UPPER + 1.0, DT).command for _ in range(400)]
    v = np.diff(np.stack(q), axis=0) / DT
    assert np.all(np.abs(np.diff(v[:, :6], axis=0)) <= cfg.max_joint_acceleration * DT + 1e-9)
    np.testing.assert_allclose(q[-1][:6], DUAL_UPPER[:6])


def test_tracking_error_is_reported_after_the_tolerance_time():
    m = TrackingMonitor(SafetyConfig(tracking_tolerance=0.2, tracking_time_s=0.5), [f"j{i}" for i in range(14)])
    cmd, off = HOME.copy(), HOME.copy()
    off[9] += 0.3
    assert m.check(0.0, cmd, off) is None and m.check(0.5, cmd, off) is None
    assert m.check(0.51, cmd, off).startswith("tracking_error: j9 is 0.300 rad")
    assert m.check(0.6, cmd, cmd) is None and m.check(1.0, cmd, off) is None  # back in tolerance: timer restarts
    grip = HOME.copy()
    grip[6] += 0.05  # a gripper holding a block never reaches its closed command
    assert m.check(0.0, cmd, grip) is None and m.check(9.0, cmd, grip) is None

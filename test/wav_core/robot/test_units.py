"""SI <-> Piper SDK unit conversions, clamping and by-name lookup."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wav_core.robot.piper import ARM_JOINT_NAMES, ARM_LOWER, ARM_UPPER
from wav_core.robot.units import (
    arm_to_sdk,
    check_gripper_effort,
    clamp_arm,
    m_to_microm,
    microm_to_m,
    millideg_to_rad,
    rad_to_millideg,
    sdk_to_arm,
)

in_limits = st.tuples(*[st.floats(float(lo), float(hi)) for lo, hi in zip(ARM_LOWER, ARM_UPPER)]).map(np.array)


def test_known_values():
    assert int(rad_to_millideg(np.pi)) == 180_000
    assert int(rad_to_millideg(-np.pi / 2)) == -90_000
    assert millideg_to_rad(90_000) == pytest.approx(np.pi / 2)
    assert int(m_to_microm(0.07)) == 70_000  # 70 mm in 0.001 mm
    assert microm_to_m(35_000) == pytest.approx(0.035)


@settings(max_examples=200, deadline=None)
@given(in_limits)
def test_sdk_round_trip_is_within_half_a_unit(q):
    cmd = arm_to_sdk(q)
    back = sdk_to_arm(cmd.joints, cmd.gripper)
    assert np.all(np.abs(back[:6] - q[:6]) <= 0.5 / rad_to_millideg(1.0) + 1e-12)
    assert abs(back[6] - q[6]) <= 0.5e-6 + 1e-12
    assert all(isinstance(v, int) for v in cmd.joints) and isinstance(cmd.gripper, int)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=7, max_size=7).map(np.array))
def test_clamp_lands_inside_and_names_what_it_changed(q):
    clipped, names = clamp_arm(q)
    assert np.all(clipped >= ARM_LOWER) and np.all(clipped <= ARM_UPPER)
    changed = [n for n, a, b in zip(ARM_JOINT_NAMES, q, clipped) if a != b]
    assert names == changed


def test_clamp_examples():
    clipped, names = clamp_arm(np.array([5.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.2]))
    np.testing.assert_allclose(clipped, [ARM_UPPER[0], 0.0, 0.0, 0.0, 0.0, 0.0, ARM_UPPER[6]])
    assert names == ["joint1", "joint2", "joint3", "gripper"]


def test_bad_vectors_are_rejected_with_names():
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        arm_to_sdk(np.zeros(6))
    with pytest.raises(ValueError, match=r"non-finite value for \['joint4'\]"):
        clamp_arm(np.array([0, 0, 0, np.inf, 0, 0, 0.0]))
    with pytest.raises(ValueError, match="0..5000"):
        check_gripper_effort(6000)
    assert check_gripper_effort(1000) == 1000

"""Scoring predicted chunks against a recording: gripper agreement counts only clearly open or
closed recorded grippers, so the idle arm of a one-arm task (gripper held half open) is not scored."""

from __future__ import annotations

import numpy as np

from wav_core.replay.metrics import Decision, Recording, score
from wav_core.robot.piper import DUAL_JOINT_NAMES

THRESHOLD = 0.035
LEFT, RIGHT = DUAL_JOINT_NAMES.index("left_gripper"), DUAL_JOINT_NAMES.index("right_gripper")


def test_a_gripper_held_half_open_is_not_scored_and_the_working_one_is():
    # Recorded: the right gripper open for 4 ticks then closed; the left held half open throughout.
    commands = {}
    for k in range(8):
        c = np.zeros(14)
        c[RIGHT] = 0.07 if k < 4 else 0.0
        c[LEFT] = THRESHOLD
        commands[k] = c
    predicted = np.zeros((8, 14))
    predicted[:, RIGHT] = [0.06, 0.06, 0.06, 0.01, 0.01, 0.01, 0.01, 0.01]  # closes one tick early
    predicted[:, LEFT] = [0.03, 0.04] * 4  # noise around the threshold
    decision = Decision(0, 0, 0, 0, predicted, 0.0, 0.0, 0.0, 0)
    m = score([decision], Recording(commands=commands), "command", list(DUAL_JOINT_NAMES), 8, THRESHOLD)
    assert m["gripper_agreement"]["left_gripper"] is None
    assert m["gripper_agreement"]["right_gripper"] == 7 / 8
    assert m["gripper_agreement"]["all"] == 7 / 8
    assert abs(m["per_joint_mae"]["left_gripper"] - 0.005) < 1e-12

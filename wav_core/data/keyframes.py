"""Keyframes: the pose each arm holds at its next gripper change (a grasp or a release).

Where an arm must go next is decided by the scene (where the block lies, where the handle is), while
a 16-tick chunk of a demonstration mostly says how fast it moves. The pose at the arm's next grasp
or release names that goal in joint space, from the recorded state and commands alone, so any
recording (simulated or real) has it. The action stage can supervise a readout of the current frame
with it (`ModelConfig.keyframe_weight`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..robot.piper import ARM_JOINT_NAMES

ARM_DIM = len(ARM_JOINT_NAMES)
GRIPPER = ARM_JOINT_NAMES.index("gripper")


def gripper_thresholds(action_stats: dict) -> np.ndarray:
    """[arms] the gripper command that separates closed from open: midway between the 1 % and 99 %
    quantiles of each arm's gripper commands in the dataset (stats.json's `action` block)."""
    q01, q99 = np.asarray(action_stats["q01"], float), np.asarray(action_stats["q99"], float)
    cols = np.arange(GRIPPER, len(q01), ARM_DIM)
    return 0.5 * (q01[cols] + q99[cols])


def next_keyframe_states(state: np.ndarray, action: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """[T, D] float32: for each tick t and each arm, the arm's state at the first tick k > t where its
    gripper command crosses its threshold (closed <-> open); the episode's last tick when no change
    follows. state and action are [T, D] with D = arms x 7 in the project's joint order."""
    state, action = np.asarray(state), np.asarray(action)
    n, dim = state.shape
    if action.shape != state.shape or dim % ARM_DIM or len(thresholds) != dim // ARM_DIM:
        raise ValueError(f"keyframes: state {state.shape}, action {action.shape} and {len(thresholds)} gripper "
                         f"thresholds do not describe the same arms of {ARM_DIM} channels")
    out = np.empty((n, dim), np.float32)
    ticks = np.arange(n)
    for arm, threshold in enumerate(thresholds):
        cols = slice(arm * ARM_DIM, (arm + 1) * ARM_DIM)
        closed = action[:, arm * ARM_DIM + GRIPPER] < threshold
        changes = np.flatnonzero(closed[1:] != closed[:-1]) + 1
        keys = np.append(changes, n - 1)
        # First keyframe strictly after t; the last tick for t at or past the last change.
        nxt = keys[np.minimum(np.searchsorted(keys, ticks, side="right"), len(keys) - 1)]
        out[:, cols] = state[nxt, cols]
    return out


def approaching_grasp(action: np.ndarray, thresholds: np.ndarray, window: int | Sequence[int] = 0) -> np.ndarray:
    """[T, arms] float32: 1 where the arm's next gripper change (first tick k > t where its command
    crosses the threshold) closes the gripper, i.e. the arm is on its way to a grasp; 0 where the
    next change opens it or none follows. The approach is where a reach must be precise
    (`ModelConfig.action_prior_gate`). window > 0 keeps only its last `window` ticks (k - t <= window):
    the final reach, without the wait that may come before it; a list gives each arm its own."""
    action = np.asarray(action)
    n, dim = action.shape
    if dim % ARM_DIM or len(thresholds) != dim // ARM_DIM:
        raise ValueError(f"approach labels: action of shape {action.shape} and {len(thresholds)} gripper thresholds "
                         f"do not describe the same arms of {ARM_DIM} channels")
    windows = [window] * len(thresholds) if isinstance(window, int) else list(window)
    if len(windows) != len(thresholds):
        raise ValueError(f"approach labels: {len(windows)} windows for {len(thresholds)} arms")
    out = np.zeros((n, len(thresholds)), np.float32)
    ticks = np.arange(n)
    for arm, (threshold, window) in enumerate(zip(thresholds, windows)):
        closed = action[:, arm * ARM_DIM + GRIPPER] < threshold
        changes = np.flatnonzero(closed[1:] != closed[:-1]) + 1
        if not len(changes):
            continue
        k = np.searchsorted(changes, ticks, side="right")
        ahead = k < len(changes)
        if window > 0:
            ahead &= changes[np.minimum(k, len(changes) - 1)] - ticks <= window
        out[ahead, arm] = closed[changes[k[ahead]]]
    return out

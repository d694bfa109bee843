"""The plan view: each arm's tool-point path over a planned chunk, from the rig's URDF."""

import numpy as np
import pytest

from wav_core.config.robot import RobotConfig
from wav_core.robot.piper import HOME
from wav_core.runtime.plan_view import PlanView, value_colours


def test_paths_follow_the_chunk_inside_the_workspace():
    robot = RobotConfig()
    view = PlanView(robot.joint_names, [a.name for a in robot.arms])
    chunk = np.stack([HOME + 0.02 * k for k in range(8)])
    paths = view.paths(chunk)
    assert paths.shape == (2, 8, 3) and np.all(np.isfinite(paths))
    assert np.all(np.abs(paths[..., :2]) < 1.2) and np.all(paths[..., 2] > -0.1)
    assert paths[0, 0, 1] > paths[1, 0, 1]  # the left arm's tool point is on the left
    assert np.linalg.norm(paths[0, -1] - paths[0, 0]) > 0.01  # the path moves with the joints
    with pytest.raises(ValueError, match=r"actions: got shape \(8, 7\), expected \[H, 14\]"):
        view.paths(chunk[:, :7])
    with pytest.raises(ValueError, match=r"not joints of the rig's URDF"):
        PlanView(["elbow"] * 14, ["left", "right"])


def test_value_colours_go_from_red_to_green():
    c = value_colours(np.array([0.0, 1.0, 2.0]))
    assert c.shape == (3, 4) and c[0, 0] == 1.0 and c[-1, 1] == 1.0
    assert np.all(value_colours(np.ones(4))[:, :2] == 0.5)

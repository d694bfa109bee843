"""Planned paths drawn over the top camera, as the demo's GIF shows them."""

import numpy as np
import pytest

from wav_core.sim.env import SimEnv
from wav_core.sim.projection import camera_matrix, project
from wav_core.viz.overlay import draw_paths


@pytest.fixture(scope="module")
def top_camera():
    """A drawer scene, its top-camera frame and that camera's projection."""
    env = SimEnv("drawer")
    env.reset(3)
    size = env.camera_size("cam_high")
    return env, env.render(["cam_high"])["cam_high"], camera_matrix(env.model, env.data, "cam_high", size)


def test_a_path_is_drawn_in_its_colours_where_its_points_project(top_camera):
    env, frame, matrix = top_camera
    block = env.data.body("block").xpos
    path = np.stack([block, block + [0.1, 0.1, 0.05], block + [0.2, 0.25, 0.1]])
    colours = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    out = draw_paths(frame, matrix, [path], [colours])
    assert out.shape == frame.shape and not np.shares_memory(out, frame)
    uv, _ = project(matrix, path)
    for k, rgb in ((0, (0, 255, 0)), (1, (255, 0, 255))):  # each segment in its first point's colour
        u, v = np.round(uv[k]).astype(int)
        assert tuple(out[v, u]) == rgb, (k, out[v, u])
    changed = np.any(out != frame, axis=-1)
    assert 0 < changed.sum() < 0.05 * changed.size


def test_a_path_behind_the_camera_draws_nothing(top_camera):
    env, frame, matrix = top_camera
    c = env.model.camera("cam_high").id
    behind = env.data.cam_xpos[c] + env.data.cam_xmat[c].reshape(3, 3)[:, 2] * np.array([[1.0], [2.0]])
    out = draw_paths(frame, matrix, [behind], [np.ones((2, 4))])
    np.testing.assert_array_equal(out, frame)

"""A point of the base frame lands on the pixel where MuJoCo renders it."""

import numpy as np
import pytest

from wav_core.sim.env import SimEnv
from wav_core.sim.projection import camera_matrix, project


@pytest.fixture(scope="module")
def scene():
    env = SimEnv("drawer")
    env.reset(3)
    size = env.camera_size("cam_high")
    return env, size, env.render(["cam_high"])["cam_high"], camera_matrix(env.model, env.data, "cam_high", size)


def test_the_red_block_projects_onto_red_pixels(scene):
    env, (h, w), image, matrix = scene
    uv, front = project(matrix, env.data.body("block").xpos[None])
    assert front[0]
    u, v = np.round(uv[0]).astype(int)
    assert 0 <= u < w and 0 <= v < h
    r, g, b = image[v - 1:v + 2, u - 1:u + 2].reshape(-1, 3).mean(axis=0)
    assert r > 150 and g < 90 and b < 90, (u, v, r, g, b)
    # a table point beside the block is not red: the match is not an accident of a red image
    uv_off, _ = project(matrix, (env.data.body("block").xpos + [0.0, 0.15, 0.0])[None])
    u2, v2 = np.round(uv_off[0]).astype(int)
    assert not (image[v2, u2, 0] > 150 and image[v2, u2, 1] < 90)


def test_points_behind_the_camera_are_flagged(scene):
    env, _, _, matrix = scene
    c = env.model.camera("cam_high").id
    behind = env.data.cam_xpos[c] + env.data.cam_xmat[c].reshape(3, 3)[:, 2]  # MuJoCo cameras look along -z
    uv, front = project(matrix, behind[None])
    assert not front[0] and np.isnan(uv[0]).all()


def test_an_unknown_camera_is_named():
    env = SimEnv("drawer")
    with pytest.raises(ValueError, match="camera 'cam_top': not in the simulator's model"):
        camera_matrix(env.model, env.data, "cam_top", (48, 64))

"""`resize_image`: the one filter between a camera frame and the model (training and live)."""

from __future__ import annotations

import numpy as np
import pytest

from wav_core.data.resize import model_frame, resize_image
from wav_core.model.presets import preset

RIG = {"cam_high": (240, 424), "cam_left_wrist": (240, 320), "cam_right_wrist": (240, 320)}


def test_integer_downscale_averages_each_block():
    # 2x2 blocks with values 0, 10, 20, 30 -> their mean, 15, in every channel.
    img = np.zeros((4, 6, 3), dtype=np.uint8)
    img[0::2, 0::2], img[0::2, 1::2], img[1::2, 0::2], img[1::2, 1::2] = 0, 10, 20, 30
    np.testing.assert_array_equal(resize_image(img, (2, 3)), np.full((2, 3, 3), 15, np.uint8))


@pytest.mark.parametrize("size", [(64, 64), (256, 256)])
def test_fine_stripes_average_out_instead_of_aliasing(size):
    # One-pixel black/white stripes on the top camera: an area filter gives mid-grey everywhere;
    # point sampling (INTER_LINEAR when shrinking) would return whole black or white columns.
    # 256x256 shrinks the width and grows the height, the paper preset's case.
    img = np.zeros((240, 424, 3), dtype=np.uint8)
    img[:, ::2] = 255
    out = resize_image(img, size).astype(float)
    assert out.shape == (*size, 3)
    assert abs(out.mean() - 127.5) < 1.0
    assert np.abs(out - 127.5).max() <= 32


def test_upscale_interpolates_linearly():
    img = np.zeros((1, 2, 3), dtype=np.uint8)
    img[0, 1] = 200
    out = resize_image(img, (1, 4))
    np.testing.assert_array_equal(out[0, :, 0], [0, 50, 150, 200])


@pytest.mark.parametrize("camera", sorted(RIG))
def test_rig_cameras_to_the_sim_model_size(camera):
    size = tuple(preset("sim").image_size)
    img = np.empty((*RIG[camera], 3), dtype=np.uint8)
    img[:] = (12, 130, 250)
    out = resize_image(img, size)
    assert out.shape == (*size, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.broadcast_to(np.array((12, 130, 250), np.uint8), out.shape))
    x = model_frame(img, size)
    assert x.shape == (3, *size) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 0], np.array([12, 130, 250]) / 255.0, rtol=1e-6)


def test_non_contiguous_views_resize_like_copies():
    img = np.random.default_rng(0).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    flipped = img[:, ::-1]
    np.testing.assert_array_equal(resize_image(flipped, (24, 32)), resize_image(flipped.copy(), (24, 32)))


def test_same_size_is_returned_as_is_and_bad_input_is_rejected():
    img = np.zeros((48, 64, 3), dtype=np.uint8)
    assert resize_image(img, (48, 64)) is img
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        resize_image(np.zeros((4, 4), np.uint8), (2, 2))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        resize_image(np.zeros((4, 4, 3), np.float32), (2, 2))
    with pytest.raises(ValueError, match="positive"):
        resize_image(img, (0, 5))

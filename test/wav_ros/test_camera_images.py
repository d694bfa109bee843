"""rclpy camera images in every supported encoding, built as a camera would send them and
serialized as DDS carries them, come back as the RGB frame they were made from."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from wav_core.data.image_encodings import SUPPORTED_ENCODINGS
from wav_core.data.messages import camera_to_rgb
from wav_ros.messages import camera_image, rgb_image

H, W = 6, 8


def scene() -> np.ndarray:
    """A linear colour ramp: bilinear demosaicing restores it exactly away from the border, and
    4:2:2 chroma averaged over a pixel pair stays within a few levels."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([40 + 4 * x, 60 + 3 * y, 200 - 3 * x - 2 * y], axis=2).astype(np.uint8)


def over_the_wire(msg: Image) -> Image:
    return deserialize_message(serialize_message(msg), Image)


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_every_encoding_round_trips(encoding):
    img = scene()
    msg = over_the_wire(camera_image(img, Time(sec=3, nanosec=7), "cam_high", encoding))
    assert msg.encoding == encoding and msg.header.frame_id == "cam_high" and msg.header.stamp.nanosec == 7
    out = camera_to_rgb(msg, "image", "/camera_h/color/image_raw")
    if encoding.startswith("mono"):
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))
    elif encoding.startswith("bayer_"):
        np.testing.assert_array_equal(out[1:-1, 1:-1], img[1:-1, 1:-1])
    elif encoding in ("rgb8", "bgr8", "rgba8", "bgra8"):
        np.testing.assert_array_equal(out, img)
    else:
        assert np.abs(out.astype(int) - img).max() <= 4


def test_rgb_image_is_rgb8():
    img = scene()
    msg = rgb_image(img, Time(sec=1), "cam")
    assert (msg.encoding, msg.step, msg.height, msg.width) == ("rgb8", 3 * W, H, W)
    np.testing.assert_array_equal(camera_to_rgb(over_the_wire(msg), "image", "/cam"), img)


def test_unknown_encodings_are_refused_by_the_builder():
    with pytest.raises(ValueError, match="encoding '16UC1'"):
        camera_image(scene(), Time(), "cam", "16UC1")

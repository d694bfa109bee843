"""Message -> numpy conversion on real message classes (rosbags typestore and rclpy)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from rosbags.typesys import Stores, get_typestore

from wav_core.data.errors import MessageError
from wav_core.data.messages import compressed_to_rgb, image_to_rgb, joint_positions, stamp_ns

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types


def header(sec=5, nanosec=250):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id="cam")


def ros_image(pixels: np.ndarray, encoding: str, pad: int = 0):
    h, w = pixels.shape[:2]
    flat = pixels.reshape(h, -1)
    rows = np.zeros((h, flat.shape[1] + pad), dtype=np.uint8)
    rows[:, : flat.shape[1]] = flat
    msg = T["sensor_msgs/msg/Image"](header=header(), height=h, width=w, encoding=encoding, is_bigendian=0, step=rows.shape[1], data=rows.reshape(-1))
    # Round-trip through CDR so the test uses what a bag reader hands over.
    return TS.deserialize_cdr(TS.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


RGB = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)


def test_stamp_in_nanoseconds():
    assert stamp_ns(ros_image(RGB, "rgb8")) == 5_000_000_250


@pytest.mark.parametrize("pad", [0, 3])
def test_rgb8_with_and_without_row_padding(pad):
    out = image_to_rgb(ros_image(RGB, "rgb8", pad), "/cam")
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out, RGB)


def test_bgr8_is_returned_as_rgb():
    np.testing.assert_array_equal(image_to_rgb(ros_image(RGB[:, :, ::-1].copy(), "bgr8", 2)), RGB)


def test_mono8_is_replicated_to_three_channels():
    mono = np.arange(20, dtype=np.uint8).reshape(4, 5)
    out = image_to_rgb(ros_image(mono, "mono8", 1))
    assert out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out[:, :, 1], mono)


def test_rclpy_messages_convert_the_same_way():
    from sensor_msgs.msg import Image, JointState

    m = Image()
    m.height, m.width, m.encoding, m.step = 4, 5, "rgb8", 15
    m.data = RGB.tobytes()
    np.testing.assert_array_equal(image_to_rgb(m, "/cam"), RGB)
    j = JointState()
    j.name = ["gripper", "joint1"]
    j.position = [0.03, 1.5]
    np.testing.assert_array_equal(joint_positions(j, ["joint1", "gripper"], "/left"), [1.5, 0.03])


@pytest.mark.parametrize(
    "encoding, pixels, pad, cut, field",
    [
        ("rgb16", RGB, 0, 0, "encoding"),
        ("rgb8", RGB, 0, 7, "data"),  # truncated data
        ("rgb8", RGB, 0, 60, "data"),  # empty
    ],
)
def test_bad_images_name_topic_and_field(encoding, pixels, pad, cut, field):
    msg = ros_image(pixels, "rgb8", pad)
    msg.encoding = encoding
    if cut:
        msg.data = msg.data[: len(msg.data) - cut]
    with pytest.raises(MessageError) as err:
        image_to_rgb(msg, "/camera_h/color/image_raw")
    assert err.value.topic == "/camera_h/color/image_raw" and err.value.field == field
    assert "/camera_h/color/image_raw" in str(err.value)


def test_step_smaller_than_a_row_is_rejected():
    msg = ros_image(RGB, "rgb8")
    msg.step = 10
    with pytest.raises(MessageError, match="step"):
        image_to_rgb(msg, "/cam")


def compressed(fmt: str, payload: bytes):
    return T["sensor_msgs/msg/CompressedImage"](header=header(), format=fmt, data=np.frombuffer(payload, dtype=np.uint8))


@pytest.mark.parametrize("fmt, pil", [("jpeg", "JPEG"), ("rgb8; png compressed bgr8", "PNG")])
def test_compressed_jpeg_and_png(fmt, pil):
    img = np.full((8, 8, 3), (200, 40, 90), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(img).save(buf, format=pil)
    out = compressed_to_rgb(compressed(fmt, buf.getvalue()), "/cam")
    assert out.shape == (8, 8, 3)
    assert np.abs(out.astype(int) - img).max() <= 3


def test_compressed_errors():
    with pytest.raises(MessageError, match="format"):
        compressed_to_rgb(compressed("tiff", b"\x00" * 10), "/cam")
    with pytest.raises(MessageError, match="empty"):
        compressed_to_rgb(compressed("jpeg", b""), "/cam")
    with pytest.raises(MessageError, match="cannot decode"):
        compressed_to_rgb(compressed("jpeg", b"\xff\xd8\xff\xe0garbage"), "/cam")


def joint_state(names, position):
    return T["sensor_msgs/msg/JointState"](header=header(), name=list(names), position=np.asarray(position, dtype=np.float64), velocity=np.zeros(0), effort=np.zeros(0))


ARM = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper"]


def test_joint_lookup_by_name_reorders():
    msg = joint_state(list(reversed(ARM)), [7, 6, 5, 4, 3, 2, 1])
    np.testing.assert_array_equal(joint_positions(msg, ARM, "/left"), [1, 2, 3, 4, 5, 6, 7])


def test_joint_errors():
    with pytest.raises(MessageError, match=r"missing joints \['gripper'\]"):
        joint_positions(joint_state(ARM[:6], range(6)), ARM, "/left/joint_states_single")
    with pytest.raises(MessageError, match="7 names"):
        joint_positions(joint_state(ARM, range(6)), ARM, "/left")
    with pytest.raises(MessageError, match="non-finite.*joint3"):
        joint_positions(joint_state(ARM, [0, 0, np.nan, 0, 0, 0, 0]), ARM, "/left")

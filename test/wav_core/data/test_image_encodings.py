"""Every camera encoding the rig may send -> the RGB pixels the model sees.

Messages are hand-made with known pixel values and round-tripped through CDR (what a bag reader or
the live subscription hands over). `camera_to_rgb` is the observation pipeline's function: it uses
cv_bridge where a system ROS 2 provides it, our OpenCV converter elsewhere; both must give the
pixels asserted here.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rosbags.typesys import Stores, get_typestore

from wav_core.data.errors import MessageError
from wav_core.data.image_encodings import LAYOUTS, SUPPORTED_ENCODINGS, to_rgb
from wav_core.data.messages import camera_to_rgb, image_backend

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
TOPIC = "/camera_h/color/image_raw"


def image(encoding: str, values: np.ndarray, width: int, pad: int = 0, bigendian: bool = False):
    """A sensor_msgs/Image whose rows are the bytes of `values` ([H, row bytes] uint8) plus `pad`."""
    h = values.shape[0]
    rows = np.full((h, values.shape[1] + pad), 0xAB, dtype=np.uint8)  # padding must be ignored
    rows[:, : values.shape[1]] = values
    msg = T["sensor_msgs/msg/Image"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="cam"),
        height=h, width=width, encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1], data=rows.reshape(-1))
    return TS.deserialize_cdr(TS.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def convert(msg) -> np.ndarray:
    out = camera_to_rgb(msg, "image", TOPIC)
    assert out.dtype == np.uint8 and out.shape == (msg.height, msg.width, 3) and out.flags.c_contiguous
    return out


RGB = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(3, 4, 3) * 7


@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings(pad):
    alpha = np.full((3, 4, 1), 9, dtype=np.uint8)
    bgr = RGB[:, :, ::-1]
    cases = {"rgb8": RGB, "bgr8": bgr, "rgba8": np.concatenate([RGB, alpha], 2), "bgra8": np.concatenate([bgr, alpha], 2)}
    for encoding, pixels in cases.items():
        out = convert(image(encoding, pixels.reshape(3, -1), 4, pad))
        np.testing.assert_array_equal(out, RGB, err_msg=encoding)


def test_mono8_is_grey():
    mono = np.array([[0, 17, 128, 255], [1, 2, 3, 4]], dtype=np.uint8)
    np.testing.assert_array_equal(convert(image("mono8", mono, 4, pad=3)), np.repeat(mono[:, :, None], 3, axis=2))


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono16_is_scaled_to_8_bit_in_either_byte_order(bigendian):
    # v -> round(v * 255 / 65535): full scale stays full scale, 385 = 1.498 -> 1, 386 = 1.502 -> 2.
    values = np.array([[0, 257, 385, 386, 65535, 32896]], dtype=np.uint16)
    expected = np.array([[0, 1, 1, 2, 255, 128]], dtype=np.uint8)
    raw = values.astype(">u2" if bigendian else "<u2").view(np.uint8).reshape(1, -1)
    out = convert(image("mono16", raw, 6, pad=2, bigendian=bigendian))
    np.testing.assert_array_equal(out, np.repeat(expected[:, :, None], 3, axis=2))


# BT.601 video-range colour bars (Y, U, V) -> RGB, what every camera driver means by YUV 4:2:2.
BARS = [((235, 128, 128), (255, 255, 255)), ((16, 128, 128), (0, 0, 0)), ((81, 90, 240), (255, 0, 0)),
        ((145, 54, 34), (0, 255, 0)), ((41, 240, 110), (0, 0, 255))]


@pytest.mark.parametrize("encoding, order", [("yuv422", "UYVY"), ("uyvy", "UYVY"), ("yuv422_yuy2", "YUYV"), ("yuyv", "YUYV")])
def test_yuv422_byte_orders(encoding, order):
    # Row 0: one colour bar per pixel pair. Row 1: a pair with different lumas (white, black), so a
    # swapped luma/chroma order cannot pass.
    quads, expected = [], []
    for (y, u, v), rgb in BARS:
        quads.append({"y0": y, "y1": y, "u": u, "v": v})
        expected += [rgb, rgb]
    row1 = [{"y0": 235, "y1": 16, "u": 128, "v": 128}] * len(BARS)
    exp1 = [(255, 255, 255), (0, 0, 0)] * len(BARS)
    keys = ["u", "y0", "v", "y1"] if order == "UYVY" else ["y0", "u", "y1", "v"]
    raw = np.array([[q[k] for q in row for k in keys] for row in (quads, row1)], dtype=np.uint8)
    out = convert(image(encoding, raw, 2 * len(BARS), pad=4))
    want = np.array([expected, exp1], dtype=int)
    assert np.abs(out.astype(int) - want).max() <= 2, f"{encoding}: got {out.tolist()}"


def bayer_mosaic(pattern: str, rgb: tuple[int, int, int], h: int = 6, w: int = 8) -> np.ndarray:
    """The raw sensor values of a uniformly coloured scene under the 2x2 colour filter `pattern`."""
    value = dict(zip("RGB", rgb))
    out = np.zeros((h, w), dtype=np.uint8)
    for k, colour in enumerate(pattern.upper()):
        out[k // 2::2, k % 2::2] = value[colour]
    return out


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_patterns_demosaic_to_the_scene_colour(pattern):
    # A uniform scene demosaics exactly, borders included; reading the pattern wrongly swaps red
    # and blue or mixes green into them.
    scene = (200, 100, 30)
    out = convert(image(f"bayer_{pattern}8", bayer_mosaic(pattern, scene), 8, pad=3))
    np.testing.assert_array_equal(out, np.broadcast_to(np.array(scene, np.uint8), out.shape))


@pytest.mark.parametrize("encoding", ["rgb16", "16UC1", "nv12", "RGB8", "32FC1", ""])
def test_unsupported_encodings_name_the_topic_and_the_supported_list(encoding):
    msg = image("rgb8", RGB.reshape(3, -1), 4)
    msg.encoding = encoding
    with pytest.raises(MessageError) as err:
        camera_to_rgb(msg, "image", TOPIC)
    text = str(err.value)
    assert err.value.topic == TOPIC and err.value.field == "encoding"
    assert TOPIC in text and repr(encoding) in text
    assert all(e in text for e in SUPPORTED_ENCODINGS)


def test_malformed_images_name_the_field():
    with pytest.raises(MessageError, match="even width"):
        convert(image("yuyv", np.zeros((2, 6), np.uint8), 3))
    short = image("mono16", np.zeros((2, 8), np.uint8), 4)
    short.step = 6  # fewer bytes than 4 pixels of 2 bytes
    with pytest.raises(MessageError, match=r"step.*>= width\*bytes per pixel = 8"):
        convert(short)
    cut = image("bayer_rggb8", np.zeros((4, 4), np.uint8), 4)
    cut.data = cut.data[:-1]
    with pytest.raises(MessageError, match="expected step\\*height = 4\\*4 = 16"):
        convert(cut)


def test_the_pipeline_agrees_with_our_converter_on_every_encoding():
    """Where cv_bridge is importable this compares cv_bridge with our converter; elsewhere the
    pipeline IS our converter, and the backend reported says so."""
    expected = "cv_bridge" if importlib.util.find_spec("cv_bridge") else "opencv"
    assert image_backend() == expected
    rng = np.random.default_rng(0)
    for encoding in SUPPORTED_ENCODINGS:
        layout = LAYOUTS[encoding]
        bytes_per_pixel = layout.channels * layout.bytes_per_value
        raw = rng.integers(0, 256, size=(6, 8 * bytes_per_pixel), dtype=np.uint8)
        for bigendian in ([False, True] if encoding == "mono16" else [False]):
            msg = image(encoding, raw, 8, pad=2, bigendian=bigendian)
            np.testing.assert_array_equal(camera_to_rgb(msg, "image", TOPIC), to_rgb(msg, TOPIC), err_msg=encoding)


@settings(max_examples=300, deadline=None)
@given(encoding=st.sampled_from(list(SUPPORTED_ENCODINGS) + ["16UC1", "rgb16", ""]),
       height=st.integers(0, 5), width=st.integers(0, 7), extra_step=st.integers(-3, 3), cut=st.integers(-2, 2),
       bigendian=st.booleans())
def test_malformed_messages_raise_message_errors_only(encoding, height, width, extra_step, cut, bigendian):
    """Whatever a broken driver sends, the pipeline returns an RGB frame or names the bad field;
    it never lets an OpenCV or numpy error escape."""
    layout = LAYOUTS.get(encoding, LAYOUTS["rgb8"])
    step = max(0, width * layout.channels * layout.bytes_per_value + extra_step)
    data = np.arange(max(0, step * height + cut), dtype=np.uint64).astype(np.uint8)
    msg = T["sensor_msgs/msg/Image"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""),
        height=height, width=width, encoding=encoding, is_bigendian=int(bigendian), step=step, data=data)
    try:
        out = camera_to_rgb(msg, "image", TOPIC)
    except MessageError as err:
        assert err.topic == TOPIC
    else:
        assert out.shape == (height, width, 3) and out.dtype == np.uint8


def test_cut_off_compressed_frames_are_refused():
    import io

    from PIL import Image as PILImage

    from wav_core.data.messages import compressed_to_rgb

    img = np.random.default_rng(1).integers(0, 256, size=(32, 40, 3), dtype=np.uint8)
    for fmt, pil in (("jpeg", "JPEG"), ("png", "PNG")):
        buf = io.BytesIO()
        PILImage.fromarray(img).save(buf, format=pil)
        whole = np.frombuffer(buf.getvalue(), dtype=np.uint8)
        msg = T["sensor_msgs/msg/CompressedImage"](header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""),
                                                   format=fmt, data=whole)
        assert compressed_to_rgb(msg, TOPIC).shape == (32, 40, 3)
        msg.data = whole[: whole.size * 2 // 3]
        with pytest.raises(MessageError, match=r"truncated|cannot decode") as err:
            compressed_to_rgb(msg, TOPIC)
        assert err.value.topic == TOPIC

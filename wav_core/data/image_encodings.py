"""`sensor_msgs/Image` pixel layouts -> HxWx3 uint8 RGB with OpenCV, without ROS.

This is the converter for machines without a system ROS 2 (pip installs, CI). Every conversion
is the OpenCV call cv_bridge makes for `desired_encoding="rgb8"`, so both give the same pixels:
Bayer patterns use OpenCV's bilinear demosaicing, YUV 4:2:2 OpenCV's BT.601 video-range
conversion, and mono16 is scaled by 255/65535 and rounded, as cv_bridge's depth conversion does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import MessageError


@dataclass(frozen=True)
class Layout:
    channels: int
    """Values per pixel in `data` (2 for YUV 4:2:2: one luma and one alternating chroma byte)."""
    bytes_per_value: int
    code: int | None
    """cv2.cvtColor code to RGB; None when the values already are RGB."""


# OpenCV names a Bayer conversion after the 2x2 block that starts at the second row and column,
# so the ROS pattern RGGB is OpenCV's "BG" (the pattern-named aliases are missing from OpenCV 4.5).
LAYOUTS: dict[str, Layout] = {
    "rgb8": Layout(3, 1, None),
    "bgr8": Layout(3, 1, cv2.COLOR_BGR2RGB),
    "rgba8": Layout(4, 1, cv2.COLOR_RGBA2RGB),
    "bgra8": Layout(4, 1, cv2.COLOR_BGRA2RGB),
    "mono8": Layout(1, 1, cv2.COLOR_GRAY2RGB),
    "mono16": Layout(1, 2, cv2.COLOR_GRAY2RGB),
    "yuv422": Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),  # ROS's name for U Y0 V Y1 byte order
    "uyvy": Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),
    "yuv422_yuy2": Layout(2, 1, cv2.COLOR_YUV2RGB_YUY2),  # Y0 U Y1 V byte order
    "yuyv": Layout(2, 1, cv2.COLOR_YUV2RGB_YUY2),
    "bayer_rggb8": Layout(1, 1, cv2.COLOR_BayerBG2RGB),
    "bayer_bggr8": Layout(1, 1, cv2.COLOR_BayerRG2RGB),
    "bayer_gbrg8": Layout(1, 1, cv2.COLOR_BayerGR2RGB),
    "bayer_grbg8": Layout(1, 1, cv2.COLOR_BayerGB2RGB),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(LAYOUTS)


def as_bytes(data: object) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8) if data.dtype != np.uint8 else data.reshape(-1)
    try:
        # bytes, memoryview and rclpy's array.array('B') all expose the buffer protocol.
        return np.frombuffer(memoryview(data), dtype=np.uint8)  # type: ignore[arg-type]
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def check_image(msg: object, topic: str = "") -> Layout:
    """The layout of a supported, well-formed `sensor_msgs/Image`; otherwise a MessageError that
    names the topic, the field and what was expected."""
    encoding = str(getattr(msg, "encoding", ""))
    layout = LAYOUTS.get(encoding)
    if layout is None:
        raise MessageError(topic, "encoding", f"got {encoding!r}, expected one of {list(SUPPORTED_ENCODINGS)}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)  # type: ignore[attr-defined]
    if height <= 0 or width <= 0:
        raise MessageError(topic, "height/width", f"got {height}x{width}, expected a non-empty image")
    if layout.channels == 2 and width % 2:
        raise MessageError(topic, "width", f"got {width}, expected an even width for {encoding} (two pixels share one chroma pair)")
    if encoding.startswith("bayer_") and (width < 2 or height < 2):
        raise MessageError(topic, "height/width", f"got {height}x{width}, expected at least 2x2 for {encoding}")
    row = width * layout.channels * layout.bytes_per_value
    if step < row:
        raise MessageError(topic, "step", f"got {step}, expected >= width*bytes per pixel = {row} for {encoding}")
    size = len(as_bytes(msg.data))  # type: ignore[attr-defined]
    if size != step * height:
        raise MessageError(topic, "data", f"got {size} bytes, expected step*height = {step}*{height} = {step * height}")
    return layout


def rows(msg: object, layout: Layout) -> np.ndarray:
    """The pixel values without row padding: HxWxC (HxW for one channel) uint8, or uint16 in host
    byte order for 16-bit encodings (`is_bigendian` says how the message stores them)."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)  # type: ignore[attr-defined]
    row = width * layout.channels * layout.bytes_per_value
    data = as_bytes(msg.data).reshape(height, step)[:, :row]  # type: ignore[attr-defined]
    if layout.bytes_per_value == 2:
        order = ">" if int(getattr(msg, "is_bigendian", 0)) else "<"
        data = np.ascontiguousarray(data).view(np.dtype(order + "u2")).astype(np.uint16)
    shape = (height, width) if layout.channels == 1 else (height, width, layout.channels)
    return np.ascontiguousarray(data).reshape(shape)


def to_rgb(msg: object, topic: str = "") -> np.ndarray:
    """A supported `sensor_msgs/Image` -> HxWx3 uint8 RGB (row padding in `step` is skipped)."""
    layout = check_image(msg, topic)
    pixels = rows(msg, layout)
    if pixels.dtype == np.uint16:
        # round(v * 255 / 65535) without float: v / 257 never falls exactly on .5.
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if layout.code is None:
        return pixels
    return cv2.cvtColor(pixels, layout.code)


def _yuv422(img: np.ndarray, luma_first: bool) -> np.ndarray:
    """HxWx3 RGB (W even) -> HxWx2 BT.601 video-range 4:2:2, chroma averaged over each pixel pair."""
    rgb = img.astype(np.float64)
    y = 16 + rgb @ np.array([65.481, 128.553, 24.966]) / 255
    u = 128 + rgb @ np.array([-37.797, -74.203, 112.0]) / 255
    v = 128 + rgb @ np.array([112.0, -93.786, -18.214]) / 255
    u = np.repeat((u[:, 0::2] + u[:, 1::2]) / 2, 2, axis=1)
    v = np.repeat((v[:, 0::2] + v[:, 1::2]) / 2, 2, axis=1)
    chroma = np.where(np.arange(img.shape[1]) % 2 == 0, u, v)
    planes = (y, chroma) if luma_first else (chroma, y)
    return np.clip(np.rint(np.stack(planes, axis=2)), 0, 255).astype(np.uint8)


def from_rgb(img: np.ndarray, encoding: str) -> np.ndarray:
    """HxWx3 uint8 RGB -> the rows a camera sending `encoding` puts in `data` ([H, row bytes] uint8,
    no padding, 16-bit values little-endian), for publishers that mimic a given camera."""
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"from_rgb: expected an HxWx3 uint8 image, got shape {img.shape} dtype {img.dtype}")
    if encoding not in LAYOUTS:
        raise ValueError(f"from_rgb: got encoding {encoding!r}, expected one of {list(SUPPORTED_ENCODINGS)}")
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    if encoding in ("rgb8", "bgr8", "rgba8", "bgra8"):
        out = img if encoding == "rgb8" else cv2.cvtColor(img, {"bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA, "bgra8": cv2.COLOR_RGB2BGRA}[encoding])
    elif encoding == "mono8":
        out = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    elif encoding == "mono16":
        out = (cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257).astype("<u2").view(np.uint8)
    elif LAYOUTS[encoding].channels == 2:
        if w % 2:
            raise ValueError(f"from_rgb: {encoding} needs an even width, got {w}")
        out = _yuv422(img, luma_first=encoding in ("yuv422_yuy2", "yuyv"))
    else:
        pattern = encoding[len("bayer_"):-1]
        out = np.empty((h, w), dtype=np.uint8)
        for k, colour in enumerate(pattern):
            out[k // 2::2, k % 2::2] = img[k // 2::2, k % 2::2, "rgb".index(colour)]
    return np.ascontiguousarray(out).reshape(h, -1)

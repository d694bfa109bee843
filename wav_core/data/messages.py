"""ROS message -> numpy conversion, shared by bag import, offline replay and the live node.

Duck-typed on the ROS field names (`header.stamp.sec/nanosec`, `encoding`, `height`, `width`,
`step`, `data`, `format`, `name`, `position`), so the same code accepts messages deserialized by
the `rosbags` typestore and rclpy messages without importing either.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image as PILImage

from .errors import MessageError

_CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_CHANNELS)
SUPPORTED_COMPRESSED: tuple[str, ...] = ("jpeg", "png")


def stamp_ns(msg: object) -> int:
    """Header stamp in integer nanoseconds (0 when the message carries an unset stamp)."""
    stamp = msg.header.stamp  # type: ignore[attr-defined]
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _as_bytes(data: object) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8) if data.dtype != np.uint8 else data.reshape(-1)
    try:
        # bytes, memoryview and rclpy's array.array('B') all expose the buffer protocol.
        return np.frombuffer(memoryview(data), dtype=np.uint8)  # type: ignore[arg-type]
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def image_to_rgb(msg: object, topic: str = "") -> np.ndarray:
    """`sensor_msgs/Image` (rgb8, bgr8, mono8; rows may be padded to `step`) -> HxWx3 uint8 RGB."""
    encoding = str(getattr(msg, "encoding", "")).lower()
    if encoding not in _CHANNELS:
        raise MessageError(topic, "encoding", f"got {encoding!r}, expected one of {list(SUPPORTED_ENCODINGS)}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)  # type: ignore[attr-defined]
    if height <= 0 or width <= 0:
        raise MessageError(topic, "height/width", f"got {height}x{width}, expected a non-empty image")
    channels = _CHANNELS[encoding]
    row = width * channels
    if step < row:
        raise MessageError(topic, "step", f"got {step}, expected >= width*channels = {row}")
    data = _as_bytes(msg.data)  # type: ignore[attr-defined]
    if data.size != step * height:
        raise MessageError(topic, "data", f"got {data.size} bytes, expected step*height = {step}*{height} = {step * height}")
    pixels = data.reshape(height, step)[:, :row].reshape(height, width, channels)
    if encoding == "rgb8":
        return np.ascontiguousarray(pixels)
    if encoding == "bgr8":
        return np.ascontiguousarray(pixels[:, :, ::-1])
    return np.repeat(pixels, 3, axis=2)


def decode_compressed(data: bytes | np.ndarray, topic: str = "", field: str = "data") -> np.ndarray:
    """JPEG/PNG bytes -> HxWx3 uint8 RGB; corrupt or truncated bytes raise MessageError."""
    buf = _as_bytes(data)
    if buf.size == 0:
        raise MessageError(topic, field, "empty image data, expected JPEG or PNG bytes")
    try:
        with PILImage.open(io.BytesIO(buf.tobytes())) as img:
            img.load()
            if img.mode != "RGB":
                img = img.convert("RGB")
            return np.array(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        raise MessageError(topic, field, f"cannot decode the compressed image ({exc})") from None


def compressed_to_rgb(msg: object, topic: str = "") -> np.ndarray:
    """`sensor_msgs/CompressedImage` (format mentioning jpeg/png) -> HxWx3 uint8 RGB."""
    fmt = str(getattr(msg, "format", "")).lower()
    if not any(kind in fmt for kind in ("jpeg", "jpg", "png")):
        raise MessageError(topic, "format", f"got {fmt!r}, expected a format naming one of {list(SUPPORTED_COMPRESSED)}")
    return decode_compressed(msg.data, topic)  # type: ignore[attr-defined]


def camera_to_rgb(msg: object, msg_type: str, topic: str = "") -> np.ndarray:
    """Dispatch on the configured camera message type ('image' or 'compressed')."""
    if msg_type == "image":
        return image_to_rgb(msg, topic)
    if msg_type == "compressed":
        return compressed_to_rgb(msg, topic)
    raise MessageError(topic, "msg_type", f"got {msg_type!r}, expected 'image' or 'compressed'")


def joint_positions(msg: object, names: Sequence[str], topic: str = "") -> np.ndarray:
    """`sensor_msgs/JointState` positions looked up BY NAME into `names` order (float64).

    The message may carry more joints than asked for; missing names, a name/position length
    mismatch and non-finite values are errors, because silently substituting 0 rad would teach or
    command a pose nobody recorded.
    """
    msg_names = [str(n) for n in msg.name]  # type: ignore[attr-defined]
    position = np.asarray(msg.position, dtype=np.float64).reshape(-1)  # type: ignore[attr-defined]
    if len(msg_names) != position.size:
        raise MessageError(topic, "position", f"got {position.size} positions for {len(msg_names)} names, expected one per name")
    index = {n: i for i, n in enumerate(msg_names)}
    missing = [n for n in names if n not in index]
    if missing:
        raise MessageError(topic, "name", f"missing joints {missing}; the message has {msg_names}, expected {list(names)}")
    out = position[[index[n] for n in names]]
    if not np.all(np.isfinite(out)):
        bad = [n for n, v in zip(names, out) if not np.isfinite(v)]
        raise MessageError(topic, "position", f"non-finite values for {bad}")
    return out

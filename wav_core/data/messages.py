"""ROS message -> numpy conversion, shared by bag import, offline replay and the live node.

Duck-typed on the ROS field names (`header.stamp.sec/nanosec`, `encoding`, `height`, `width`,
`step`, `is_bigendian`, `data`, `format`, `name`, `position`), so the same code accepts messages
deserialized by the `rosbags` typestore and rclpy messages without importing either.

Raw images go through cv_bridge where a system ROS 2 provides it and through our OpenCV converter
(`image_encodings`) elsewhere; both make the same OpenCV calls, so training data recorded on one
machine and frames seen live on another get identical pixels.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np

from .errors import MessageError
from .image_encodings import SUPPORTED_ENCODINGS, as_bytes, check_image, to_rgb

SUPPORTED_COMPRESSED: tuple[str, ...] = ("jpeg", "png")
BACKENDS: tuple[str, ...] = ("cv_bridge", "opencv")

__all__ = ["BACKENDS", "SUPPORTED_COMPRESSED", "SUPPORTED_ENCODINGS", "camera_to_rgb", "compressed_to_rgb",
           "decode_compressed", "image_backend", "image_to_rgb", "joint_positions", "stamp_ns"]


def stamp_ns(msg: object) -> int:
    """Header stamp in integer nanoseconds (0 when the message carries an unset stamp)."""
    stamp = msg.header.stamp  # type: ignore[attr-defined]
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


@functools.cache
def _bridge() -> object | None:
    try:
        from cv_bridge import CvBridge
    except ImportError:
        return None
    return CvBridge()


def image_backend() -> str:
    """'cv_bridge' where a system ROS 2 provides it, else 'opencv' (our converter)."""
    return "cv_bridge" if _bridge() is not None else "opencv"


# Encodings the installed cv_bridge turned down (older releases lack e.g. 'uyvy'/'yuyv'): those
# go through our converter, which makes the same OpenCV call.
_bridge_refused: set[str] = set()


def image_to_rgb(msg: object, topic: str = "", backend: str | None = None) -> np.ndarray:
    """`sensor_msgs/Image` in any of SUPPORTED_ENCODINGS -> HxWx3 uint8 RGB.

    Rows may be padded to `step`; 16-bit data follows `is_bigendian`. `backend` is 'cv_bridge' or
    'opencv'; None picks cv_bridge when it is importable. Either way the message is checked first,
    so a bad one raises the same MessageError (topic, field, expectation) on every machine.
    """
    if backend not in (None, *BACKENDS):
        raise ValueError(f"backend: got {backend!r}, expected None or one of {list(BACKENDS)}")
    check_image(msg, topic)
    bridge = _bridge() if backend in (None, "cv_bridge") else None
    if backend == "cv_bridge" and bridge is None:
        raise RuntimeError("image_to_rgb: backend 'cv_bridge' requested but cv_bridge cannot be imported (source a ROS 2 that has it)")
    encoding = str(msg.encoding)  # type: ignore[attr-defined]
    if bridge is not None and encoding not in _bridge_refused:
        try:
            out = bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8")  # type: ignore[attr-defined]
        except Exception:
            # The message passed check_image, so only an encoding this cv_bridge lacks fails here.
            if backend == "cv_bridge":
                raise
            _bridge_refused.add(encoding)
        else:
            return np.ascontiguousarray(out, dtype=np.uint8)
    return to_rgb(msg, topic)


def decode_compressed(data: bytes | np.ndarray, topic: str = "", field: str = "data") -> np.ndarray:
    """JPEG/PNG bytes -> HxWx3 uint8 RGB (OpenCV, as cv_bridge decodes); corrupt or truncated
    bytes raise MessageError."""
    buf = as_bytes(data)
    if buf.size == 0:
        raise MessageError(topic, field, "empty image data, expected JPEG or PNG bytes")
    if buf[:2].tobytes() == b"\xff\xd8" and b"\xff\xd9" not in buf.tobytes():
        # Older OpenCV releases (Ubuntu 22.04's 4.5) fill a cut-off JPEG with grey instead of failing.
        # (Anything may follow the end marker: ALOHA files zero-pad their fixed-size JPEG slots.)
        raise MessageError(topic, field, f"cannot decode the compressed image: truncated JPEG ({buf.size} bytes, no end-of-image marker)")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise MessageError(topic, field, f"cannot decode the compressed image ({buf.size} bytes, expected JPEG or PNG)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def compressed_to_rgb(msg: object, topic: str = "") -> np.ndarray:
    """`sensor_msgs/CompressedImage` (format mentioning jpeg/png) -> HxWx3 uint8 RGB."""
    fmt = str(getattr(msg, "format", "")).lower()
    if "compresseddepth" in fmt or not any(kind in fmt for kind in ("jpeg", "jpg", "png")):
        raise MessageError(topic, "format", f"got {fmt!r}, expected a colour image format naming one of {list(SUPPORTED_COMPRESSED)}")
    return decode_compressed(msg.data, topic)  # type: ignore[attr-defined]


def camera_to_rgb(msg: object, msg_type: str, topic: str = "") -> np.ndarray:
    """The observation pipeline's one image conversion: dispatch on the configured camera message
    type ('image' or 'compressed')."""
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

"""Message builders shared by the nodes: the per-arm `joint_ctrl_single` command, the action chunk,
camera images in the encodings real cameras send."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from wav_core.config.robot import RobotConfig
from wav_core.data.image_encodings import from_rgb


def arm_commands(robot: RobotConfig, q14: np.ndarray, stamp) -> list[JointState]:
    """One JointState per arm with every name filled (the driver sends a missing name as 0 rad)."""
    out = []
    for k, arm in enumerate(robot.arms):
        msg = JointState()
        msg.header.stamp = stamp
        msg.name = list(arm.joint_names)
        msg.position = [float(x) for x in q14[7 * k:7 * k + 7]]
        out.append(msg)
    return out


def action_chunk(robot: RobotConfig, actions: np.ndarray, tick_hz: float, stamp, frame_id: str = "") -> JointTrajectory:
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.joint_names = robot.joint_names
    for h, q in enumerate(actions):
        pt = JointTrajectoryPoint()
        pt.positions = [float(x) for x in q]
        t = h / tick_hz
        pt.time_from_start = Duration(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)))
        msg.points.append(pt)
    return msg


def camera_image(img: np.ndarray, stamp, frame_id: str = "", encoding: str = "rgb8") -> Image:
    """An HxWx3 uint8 RGB array as the `sensor_msgs/Image` a camera sending `encoding` publishes
    (any of wav_core's SUPPORTED_ENCODINGS; 16-bit data little-endian)."""
    rows = from_rgb(img, encoding)
    msg = Image(height=img.shape[0], width=img.shape[1], encoding=encoding, is_bigendian=0, step=rows.shape[1], data=rows.tobytes())
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def rgb_image(img: np.ndarray, stamp, frame_id: str = "") -> Image:
    """An HxWx3 uint8 array as a `sensor_msgs/Image` in rgb8."""
    return camera_image(img, stamp, frame_id, "rgb8")

"""rosbag2 (MCAP) writing of the rig's topics with the message types the real drivers publish."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from wav_core.config.robot import RobotConfig
from wav_core.data.dataset import encode_jpeg

EPOCH_NS = 1_767_225_600 * 10**9
"""Sim time 0 maps to 2026-01-01T00:00:00Z: realistic, non-zero header stamps."""

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
JPEG_FORMAT = "rgb8; jpeg compressed bgr8"
"""image_transport's format string for a JPEG of an rgb8 image (what `compressed_image_transport` writes)."""
JOINT_STATE = "sensor_msgs/msg/JointState"
STRING = "std_msgs/msg/String"


def check_jpeg_quality(quality: int | None) -> None:
    """None (raw rgb8) or a Pillow JPEG quality 1..100."""
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100):
        raise ValueError(f"jpeg_quality: got {quality!r}, expected an integer 1..100 (or None for raw rgb8 images)")


class RigBagWriter:
    """One episode's bag: camera images, per-arm feedback and commands, the instruction.

    Metadata version 8 (the oldest rosbags writes) keeps the bags readable by the widest range of
    `ros2 bag` releases; the .mcap file itself opens in Foxglove and the mcap tools directly.

    With `jpeg_quality` the cameras are written the way image_transport republishes them on a real
    rig, as `sensor_msgs/CompressedImage` JPEGs on `<camera topic>/compressed`: about 20x smaller
    than raw rgb8, which is what makes hundreds of episodes fit on one disk.
    """

    def __init__(self, path: Path, robot: RobotConfig, jpeg_quality: int | None = None):
        check_jpeg_quality(jpeg_quality)
        self.robot = robot
        self.jpeg_quality = jpeg_quality
        self.ts = get_typestore(Stores.ROS2_KILTED)
        self._t = self.ts.types
        self.writer = Writer(Path(path), version=8, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        if jpeg_quality is None:
            self.cam = {c.name: self.writer.add_connection(c.topic, IMAGE, typestore=self.ts) for c in robot.cameras}
        else:
            self.cam = {c.name: self.writer.add_connection(f"{c.topic}/compressed", COMPRESSED_IMAGE, typestore=self.ts)
                        for c in robot.cameras}
        self.feedback = {a.name: self.writer.add_connection(a.feedback_topic, JOINT_STATE, typestore=self.ts)
                         for a in robot.arms}
        self.command = {a.name: self.writer.add_connection(a.command_topic, JOINT_STATE, typestore=self.ts)
                        for a in robot.arms}
        self.instruction = self.writer.add_connection(robot.instruction_topic, STRING, typestore=self.ts)

    def _header(self, t_s: float, frame_id: str):
        ns = EPOCH_NS + int(round(t_s * 1e9))
        stamp = self._t["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
        return self._t["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id), ns

    def _write(self, conn, ns: int, msg, msgtype: str) -> None:
        self.writer.write(conn, ns, self.ts.serialize_cdr(msg, msgtype))

    def write_image(self, camera: str, t_s: float, rgb: np.ndarray) -> None:
        header, ns = self._header(t_s, camera)
        if self.jpeg_quality is not None:
            msg = self._t[COMPRESSED_IMAGE](header=header, format=JPEG_FORMAT,
                                            data=encode_jpeg(np.ascontiguousarray(rgb, dtype=np.uint8), self.jpeg_quality))
            self._write(self.cam[camera], ns, msg, COMPRESSED_IMAGE)
            return
        h, w, _ = rgb.shape
        msg = self._t[IMAGE](header=header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
                             data=np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1))
        self._write(self.cam[camera], ns, msg, IMAGE)

    def _joint_state(self, arm: str, t_s: float, position: np.ndarray, velocity: np.ndarray | None):
        names = next(a.joint_names for a in self.robot.arms if a.name == arm)
        header, ns = self._header(t_s, f"{arm}_base_link")
        vel = np.zeros(0) if velocity is None else np.asarray(velocity, dtype=np.float64)
        msg = self._t[JOINT_STATE](header=header, name=list(names), position=np.asarray(position, dtype=np.float64),
                                   velocity=vel, effort=np.zeros(0))
        return msg, ns

    def write_feedback(self, arm: str, t_s: float, position: np.ndarray, velocity: np.ndarray) -> None:
        msg, ns = self._joint_state(arm, t_s, position, velocity)
        self._write(self.feedback[arm], ns, msg, JOINT_STATE)

    def write_command(self, arm: str, t_s: float, position: np.ndarray) -> None:
        msg, ns = self._joint_state(arm, t_s, position, None)
        self._write(self.command[arm], ns, msg, JOINT_STATE)

    def write_instruction(self, t_s: float, text: str) -> None:
        _, ns = self._header(t_s, "")
        self._write(self.instruction, ns, self._t[STRING](data=text), STRING)

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "RigBagWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Writes rosbag2 recordings of a rig with known contents, for the import benchmark and tests.

Joint feedback follows `joint_trajectory(t)` and commands `command_value(t)` exactly, so an import
can be checked value by value; frames are a smooth pattern moving with the frame index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from ..config.robot import RobotConfig
from ..robot.piper import HOME

T0_NS = 1_700_000_000 * 1_000_000_000


def joint_trajectory(t_s: float) -> np.ndarray:
    """[14] feedback position at `t_s` seconds after the recording start: 0.2 rad around HOME for the
    joints, 0.03 m for the grippers, inside the Piper's limits throughout."""
    k = np.arange(14)
    amplitude = np.where(k % 7 == 6, 0.03, 0.2)
    return HOME + amplitude * np.sin(0.5 * t_s + 0.3 * k)


def command_value(t_s: float) -> np.ndarray:
    """[14] command published at `t_s`: the feedback trajectory 50 ms ahead."""
    return joint_trajectory(t_s + 0.05)


@dataclass
class BagSpec:
    seconds: float = 2.0
    storage: str = "mcap"  # or "sqlite3"
    image_size: dict[str, tuple[int, int]] | None = None
    """Camera name -> (h, w) actually written (default: the config's sizes)."""
    camera_jitter_s: float = 0.0
    """Uniform +- jitter of camera header stamps around the nominal frame times."""
    latency_s: float = 0.002
    drop_frames: dict[str, list[int]] = field(default_factory=dict)
    corrupt_frames: dict[str, list[int]] = field(default_factory=dict)
    with_commands: bool = True
    command_hz: float | None = None
    instruction: str | None = None
    encoding: str = "rgb8"
    """Encoding label written on raw images (the pixels are RGB; other labels make bad messages)."""
    row_padding: int = 0
    """Extra bytes per image row (exercises `step`)."""
    seed: int = 0


def _pattern(h: int, w: int, index: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    base = np.asarray(PILImage.fromarray(small).resize((w + 64, h), PILImage.Resampling.BILINEAR))
    shift = (2 * index) % 64
    return np.ascontiguousarray(base[:, shift : shift + w])


def write_rig_bag(path: str | Path, robot: RobotConfig, spec: BagSpec | None = None, typestore_name: str = "ros2_humble") -> Path:
    """Write a bag with every camera, per-arm feedback and (optionally) command topics."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    spec = spec or BagSpec()
    ts = get_typestore(Stores(typestore_name))
    T = ts.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    rng = np.random.default_rng(spec.seed)

    def header(ns: int, frame: str = "") -> object:
        return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id=frame)

    events: list[tuple[int, int, str, object]] = []  # (log_ns, stamp_ns, kind, payload)
    latency = int(spec.latency_s * 1e9)
    n_frames = int(spec.seconds * robot.camera_hz)
    for ci, cam in enumerate(robot.cameras):
        for i in range(n_frames):
            if i in spec.drop_frames.get(cam.name, []):
                continue
            jitter = rng.uniform(-spec.camera_jitter_s, spec.camera_jitter_s) if spec.camera_jitter_s else 0.0
            stamp = T0_NS + int((i / robot.camera_hz + jitter) * 1e9)
            events.append((stamp + latency, stamp, "camera", (ci, i)))
    n_joint = int(spec.seconds * robot.joint_hz)
    for i in range(n_joint):
        stamp = T0_NS + int(i / robot.joint_hz * 1e9)
        events.append((stamp + latency, stamp, "feedback", i))
    if spec.with_commands:
        hz = spec.command_hz or robot.joint_hz
        for i in range(int(spec.seconds * hz)):
            stamp = T0_NS + int(i / hz * 1e9)
            events.append((stamp + latency, stamp, "command", i))
    if spec.instruction is not None:
        events.append((T0_NS, T0_NS, "instruction", 0))
    events.sort(key=lambda e: (e[0], e[1]))

    plugin = StoragePlugin.MCAP if spec.storage == "mcap" else StoragePlugin.SQLITE3
    path = Path(path)
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns = {}
        for cam in robot.cameras:
            msgtype = "sensor_msgs/msg/Image" if cam.msg_type == "image" else "sensor_msgs/msg/CompressedImage"
            conns[cam.topic] = writer.add_connection(cam.topic, msgtype, typestore=ts)
        for arm in robot.arms:
            conns[arm.feedback_topic] = writer.add_connection(arm.feedback_topic, "sensor_msgs/msg/JointState", typestore=ts)
            if spec.with_commands:
                conns[arm.command_topic] = writer.add_connection(arm.command_topic, "sensor_msgs/msg/JointState", typestore=ts)
        if spec.instruction is not None:
            conns[robot.instruction_topic] = writer.add_connection(robot.instruction_topic, "std_msgs/msg/String", typestore=ts)

        def write(topic: str, log_ns: int, msg: object) -> None:
            writer.write(conns[topic], log_ns, ts.serialize_cdr(msg, msg.__msgtype__))  # type: ignore[attr-defined]

        for log_ns, stamp, kind, payload in events:
            t_s = (stamp - T0_NS) / 1e9
            if kind == "camera":
                ci, i = payload  # type: ignore[misc]
                cam = robot.cameras[ci]
                h, w = (spec.image_size or {}).get(cam.name, (cam.height, cam.width))
                img = _pattern(h, w, i, spec.seed + ci)
                corrupt = i in spec.corrupt_frames.get(cam.name, [])
                if cam.msg_type == "image":
                    step = w * 3 + spec.row_padding
                    rows = np.zeros((h, step), dtype=np.uint8)
                    rows[:, : w * 3] = img.reshape(h, w * 3)
                    data = rows.reshape(-1)
                    if corrupt:
                        data = data[: len(data) // 2]
                    msg = T["sensor_msgs/msg/Image"](header=header(stamp, cam.name), height=h, width=w, encoding=spec.encoding, is_bigendian=0, step=step, data=data)
                else:
                    import io

                    buf = io.BytesIO()
                    PILImage.fromarray(img).save(buf, format="JPEG", quality=90)
                    raw = np.frombuffer(buf.getvalue(), dtype=np.uint8)
                    if corrupt:
                        raw = raw[:20].copy()
                    msg = T["sensor_msgs/msg/CompressedImage"](header=header(stamp, cam.name), format="jpeg", data=raw)
                write(cam.topic, log_ns, msg)
            elif kind in ("feedback", "command"):
                q = joint_trajectory(t_s) if kind == "feedback" else command_value(t_s)
                for b, arm in enumerate(robot.arms):
                    topic = arm.feedback_topic if kind == "feedback" else arm.command_topic
                    msg = T["sensor_msgs/msg/JointState"](
                        header=header(stamp), name=list(arm.joint_names), position=q[7 * b : 7 * b + 7].astype(np.float64), velocity=np.zeros(0), effort=np.zeros(0)
                    )
                    write(topic, log_ns, msg)
            else:
                write(robot.instruction_topic, log_ns, T["std_msgs/msg/String"](data=spec.instruction))
    return path

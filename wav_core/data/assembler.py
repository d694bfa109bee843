"""The per-tick observation rule, the one implementation shared by import, replay and the live node.

At each tick the newest message at or before the tick is taken from every stream (each camera,
each arm's joint feedback or the single 14-D joint topic). The tick is dropped, and the reason
counted, when a stream has nothing yet (`camera_missing:<name>`, `joint_missing:<arm>`), its newest
message is older than the stream's maximum age (`camera_stale:<name>`, `joint_stale:<arm>`), the
camera stamps spread more than `max_camera_skew_s` (`camera_skew`) or a chosen message cannot be
converted (`bad_message:<topic>`; the bad message stays the
newest of its stream, so later ticks drop for the same reason until a good one arrives). Messages are decoded lazily, only when a tick uses them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..config.robot import RobotConfig
from .errors import MessageError
from .messages import camera_to_rgb, joint_positions, stamp_ns
from .streams import Entry, Stream

NS = 1_000_000_000


def seconds_to_ns(seconds: float) -> int:
    return int(round(seconds * NS))


@dataclass
class Observation:
    """What the policy sees at one tick."""

    time_ns: int
    images: dict[str, np.ndarray]
    """Camera name -> HxWx3 uint8 RGB at the camera's native size, in config camera order."""
    state: np.ndarray
    """[14] float64 joint positions in `RobotConfig.joint_names` order."""
    stamps_ns: dict[str, int] = field(default_factory=dict)
    """Stream name (camera name or arm name, or 'joints') -> stamp of the message used."""


@dataclass
class _Source:
    kind: str  # "camera" | "arm" | "joints"
    name: str
    max_age_ns: int
    stream: Stream


class ObservationAssembler:
    """Buffers messages per stream and turns tick times into observations or counted drops."""

    def __init__(self, robot: RobotConfig, max_buffer: int = 512):
        self.robot = robot
        self._by_topic: dict[str, _Source] = {}
        self._cameras: list[_Source] = []
        self._joints: list[_Source] = []
        for cam in robot.cameras:
            src = _Source("camera", cam.name, seconds_to_ns(cam.max_age_s), Stream(cam.topic, max_buffer))
            self._add(src)
            self._cameras.append(src)
        joint_age = seconds_to_ns(robot.joint_max_age_s)
        if robot.joint_state_topic:
            src = _Source("joints", "joints", joint_age, Stream(robot.joint_state_topic, max_buffer))
            self._add(src)
            self._joints.append(src)
        else:
            for arm in robot.arms:
                src = _Source("arm", arm.name, joint_age, Stream(arm.feedback_topic, max_buffer))
                self._add(src)
                self._joints.append(src)
        self._camera_cfg = {c.name: c for c in robot.cameras}
        self._arm_cfg = {a.name: a for a in robot.arms}
        self._skew_ns = seconds_to_ns(robot.max_camera_skew_s)
        self._last_tick_ns: int | None = None
        self.ticks_kept = 0
        self.dropped_ticks: Counter[str] = Counter()
        """Reason -> number of ticks dropped for it."""
        self.dropped_messages: Counter[str] = Counter()
        """`out_of_order:<topic>` / `overflow:<topic>` -> messages not buffered."""
        self.last_drop_reason: str | None = None
        self.last_error: str | None = None
        """Text of the last conversion error behind a `bad_message` drop."""

    def _add(self, src: _Source) -> None:
        if src.stream.topic in self._by_topic:
            raise ValueError(f"robot config: topic {src.stream.topic} is used by two streams")
        self._by_topic[src.stream.topic] = src

    @property
    def topics(self) -> list[str]:
        """Every topic the assembler needs, cameras first."""
        return list(self._by_topic)

    def first_complete_ns(self) -> int | None:
        """Earliest time at which every stream has a message (None until then)."""
        firsts = [s.stream.first_stamp_ns for s in self._by_topic.values()]
        return None if any(f is None for f in firsts) else max(firsts)  # type: ignore[type-var]

    def last_complete_ns(self) -> int | None:
        """Latest time up to which every stream has messages."""
        lasts = [s.stream.last_stamp_ns for s in self._by_topic.values()]
        return None if any(t is None for t in lasts) else min(lasts)  # type: ignore[type-var]

    def push(self, topic: str, msg: object, stamp: int | None = None, receive_ns: int | None = None) -> bool:
        """Buffer one message; False when the topic is not an input or the message was not kept.

        The stamp is `stamp` when given, else the header stamp, else (unset header) `receive_ns`.
        """
        src = self._by_topic.get(topic)
        if src is None:
            return False
        if stamp is None:
            stamp = stamp_ns(msg)
            if stamp == 0 and receive_ns is not None:
                stamp = int(receive_ns)
        reason = src.stream.push(int(stamp), msg)
        if reason is not None:
            self.dropped_messages[f"{reason}:{topic}"] += 1
            return reason == "overflow"
        return True

    def _drop(self, reason: str, tick_ns: int) -> None:
        self.dropped_ticks[reason] += 1
        self.last_drop_reason = reason
        self._prune(tick_ns)

    def _prune(self, tick_ns: int) -> None:
        for src in self._by_topic.values():
            src.stream.prune(tick_ns)

    def _decode(self, src: _Source, entry: Entry) -> np.ndarray:
        if isinstance(entry.decoded, MessageError):
            raise entry.decoded
        if entry.decoded is None:
            topic = src.stream.topic
            if src.kind == "camera":
                cam = self._camera_cfg[src.name]
                img = camera_to_rgb(entry.msg, cam.msg_type, topic)
                if img.shape[:2] != (cam.height, cam.width):
                    raise MessageError(topic, "height/width", f"got {img.shape[0]}x{img.shape[1]}, expected {cam.height}x{cam.width} (camera {cam.name} in the robot config)")
                entry.decoded = img
            elif src.kind == "arm":
                entry.decoded = joint_positions(entry.msg, self._arm_cfg[src.name].joint_names, topic)
            else:
                entry.decoded = joint_positions(entry.msg, self.robot.joint_names, topic)
        return entry.decoded

    def assemble(self, tick_ns: int) -> Observation | None:
        """The observation at `tick_ns`, or None with the reason added to `dropped_ticks`.

        Ticks must not go backwards: buffers are pruned to what later ticks can still use.
        """
        tick_ns = int(tick_ns)
        if self._last_tick_ns is not None and tick_ns < self._last_tick_ns:
            raise ValueError(f"assemble: tick {tick_ns} ns is before the previous tick {self._last_tick_ns} ns")
        self._last_tick_ns = tick_ns
        self.last_drop_reason = None
        chosen: list[tuple[_Source, Entry]] = []
        for src in self._cameras + self._joints:
            entry = src.stream.latest_before(tick_ns)
            prefix = "camera" if src.kind == "camera" else "joint"
            if entry is None:
                self._drop(f"{prefix}_missing:{src.name}", tick_ns)
                return None
            if tick_ns - entry.stamp_ns > src.max_age_ns:
                self._drop(f"{prefix}_stale:{src.name}", tick_ns)
                return None
            chosen.append((src, entry))
        cam_stamps = [e.stamp_ns for s, e in chosen if s.kind == "camera"]
        if max(cam_stamps) - min(cam_stamps) > self._skew_ns:
            self._drop("camera_skew", tick_ns)
            return None
        decoded = []
        for src, entry in chosen:
            try:
                decoded.append(self._decode(src, entry))
            except MessageError as exc:
                # Kept (marked bad) so every tick whose newest frame it is reports the same reason.
                entry.decoded = exc
                self.last_error = str(exc)
                self._drop(f"bad_message:{src.stream.topic}", tick_ns)
                return None
        n_cam = len(self._cameras)
        images = {s.name: img for (s, _), img in zip(chosen[:n_cam], decoded[:n_cam])}
        state = np.concatenate(decoded[n_cam:])
        stamps = {s.name: e.stamp_ns for s, e in chosen}
        self.ticks_kept += 1
        self._prune(tick_ns)
        return Observation(tick_ns, images, state, stamps)

    def diagnostics(self) -> dict[str, object]:
        """Counters for logs and diagnostics topics."""
        return {
            "ticks_kept": self.ticks_kept,
            "dropped_ticks": dict(self.dropped_ticks),
            "dropped_messages": dict(self.dropped_messages),
            "buffered": {s.stream.topic: len(s.stream.entries) for s in self._by_topic.values()},
        }

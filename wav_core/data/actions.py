"""The training action at a tick, from the recorded per-arm command topics.

The action of tick t is the newest command stamped before the next tick (t + 1/tick_hz): the
set-point the robot was driven to during the interval that follows the observation. It must be
no older than `joint_max_age_s` before t (`action_stale:<arm>`), and exist (`action_missing:<arm>`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..config.robot import RobotConfig
from .assembler import seconds_to_ns
from .errors import MessageError
from .messages import joint_positions, stamp_ns
from .streams import Stream


class CommandSampler:
    def __init__(self, robot: RobotConfig, max_buffer: int = 512):
        self.robot = robot
        self.streams = {a.command_topic: (a, Stream(a.command_topic, max_buffer)) for a in robot.arms}
        self.period_ns = seconds_to_ns(1.0 / robot.tick_hz)
        self.max_age_ns = seconds_to_ns(robot.joint_max_age_s)
        self.dropped_ticks: Counter[str] = Counter()
        self.dropped_messages: Counter[str] = Counter()
        self.last_error: str | None = None

    @property
    def topics(self) -> list[str]:
        return list(self.streams)

    def push(self, topic: str, msg: object, stamp: int | None = None, receive_ns: int | None = None) -> bool:
        if topic not in self.streams:
            return False
        if stamp is None:
            stamp = stamp_ns(msg)
            if stamp == 0 and receive_ns is not None:
                stamp = int(receive_ns)
        reason = self.streams[topic][1].push(int(stamp), msg)
        if reason is not None:
            self.dropped_messages[f"{reason}:{topic}"] += 1
        return reason is None

    def sample(self, tick_ns: int) -> np.ndarray | None:
        """[14] action at `tick_ns`, or None with the reason counted in `dropped_ticks`."""
        parts = []
        reason = None
        for topic, (arm, stream) in self.streams.items():
            entry = stream.latest_before(tick_ns + self.period_ns, strict=True)
            if entry is None:
                reason = f"action_missing:{arm.name}"
            elif entry.stamp_ns < tick_ns - self.max_age_ns:
                reason = f"action_stale:{arm.name}"
            else:
                try:
                    if isinstance(entry.decoded, MessageError):
                        raise entry.decoded
                    if entry.decoded is None:
                        entry.decoded = joint_positions(entry.msg, arm.joint_names, topic)
                    parts.append(entry.decoded)
                    continue
                except MessageError as exc:
                    entry.decoded = exc
                    self.last_error = str(exc)
                    reason = f"bad_message:{topic}"
            break
        for _, stream in self.streams.values():
            stream.prune(tick_ns)
        if reason is not None:
            self.dropped_ticks[reason] += 1
            return None
        return np.concatenate(parts)

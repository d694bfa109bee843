"""Streams a rosbag2 recording through the ObservationAssembler on the tick grid.

Used by the dataset import and by offline replay of recorded runs. Ticks lie on a grid at
`tick_hz` starting when every input stream has a message and ending when the first stream ends.
A tick is assembled once the bag's receive time has passed it by `lookahead_s`, so every message
stamped at or before it (header stamps precede log times by the transport latency) is buffered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..config.robot import RobotConfig
from .actions import CommandSampler
from .assembler import Observation, ObservationAssembler, seconds_to_ns
from .bags import IMAGE_TYPES, JOINT_STATE_TYPE, STRING_TYPE, Bag
from .errors import BagError


@dataclass
class Tick:
    observation: Observation
    action: np.ndarray | None
    """[14] recorded command action, or None when the bag is replayed without commands."""


def robot_topics(robot: RobotConfig) -> dict[str, str]:
    """Observation topics of the rig and their message types."""
    topics = {c.topic: IMAGE_TYPES[c.msg_type] for c in robot.cameras}
    if robot.joint_state_topic:
        topics[robot.joint_state_topic] = JOINT_STATE_TYPE
    else:
        topics.update({a.feedback_topic: JOINT_STATE_TYPE for a in robot.arms})
    return topics


def recorded_cameras(bag: Bag, robot: RobotConfig) -> RobotConfig:
    """`robot` with each camera on the topic and message type `bag` actually has it.

    A rig config names the raw camera topics (what the live node subscribes to), while recordings are
    often made of image_transport's `<topic>/compressed` republication to save disk. So each camera
    uses its configured topic when the bag has it, else `<topic>/compressed` when that is a
    CompressedImage topic; either way it is decoded as the type recorded, whatever `msg_type` says.
    """
    by_type = {msgtype: kind for kind, msgtype in IMAGE_TYPES.items()}
    cameras = []
    for cam in robot.cameras:
        compressed = f"{cam.topic}/compressed"
        if cam.topic in bag.topics:
            topic = cam.topic
        elif bag.topics.get(compressed) == IMAGE_TYPES["compressed"]:
            topic = compressed
        else:
            have = ", ".join(f"{t} [{m}]" for t, m in sorted(bag.topics.items())) or "none"
            raise BagError(f"{bag.path}: camera {cam.name}: tried {cam.topic} and {compressed} "
                           f"[{IMAGE_TYPES['compressed']}]: topic {cam.topic} not in the bag; the bag has: {have}")
        msgtype = bag.topics[topic]
        if msgtype not in by_type:
            raise BagError(f"{bag.path}: camera {cam.name}: topic {topic} has type {msgtype}, "
                           f"expected one of {sorted(by_type)}")
        cameras.append(replace(cam, topic=topic, msg_type=by_type[msgtype]))
    return replace(robot, cameras=cameras)


class BagReplay:
    """Iterate to get the kept ticks; drop counters and the instruction fill in as it streams."""

    def __init__(self, bag: Bag, robot: RobotConfig, lookahead_s: float = 0.5, use_commands: bool | None = None, progress: bool = False):
        robot = recorded_cameras(bag, robot)
        bag.require(robot_topics(robot))
        self.bag = bag
        self.robot = robot
        self.assembler = ObservationAssembler(robot)
        if use_commands is None:
            use_commands = robot.action_source == "command" and all(a.command_topic in bag.topics for a in robot.arms)
        self.sampler = CommandSampler(robot) if use_commands else None
        if self.sampler is not None:
            bag.require({t: JOINT_STATE_TYPE for t in self.sampler.topics})
        self.action_source = "command" if self.sampler else "feedback"
        self.instruction: str | None = None
        self.start_ns: int | None = None
        self._lookahead = seconds_to_ns(lookahead_s)
        self._period = seconds_to_ns(1.0 / robot.tick_hz)
        self._progress = progress

    @property
    def dropped_ticks(self) -> Counter:
        out = Counter(self.assembler.dropped_ticks)
        if self.sampler is not None:
            out.update(self.sampler.dropped_ticks)
        return out

    @property
    def dropped_messages(self) -> Counter:
        out = Counter(self.assembler.dropped_messages)
        if self.sampler is not None:
            out.update(self.sampler.dropped_messages)
        return out

    @property
    def last_error(self) -> str | None:
        errors = [e for e in (self.assembler.last_error, self.sampler.last_error if self.sampler else None) if e]
        return errors[-1] if errors else None

    def _tick(self, t: int) -> Tick | None:
        obs = self.assembler.assemble(t)
        if obs is None:
            return None
        action = None
        if self.sampler is not None:
            action = self.sampler.sample(t)
            if action is None:
                return None
        return Tick(obs, action)

    def __iter__(self) -> Iterator[Tick]:
        robot, bag = self.robot, self.bag
        topics = list(self.assembler.topics) + (self.sampler.topics if self.sampler else [])
        if bag.topics.get(robot.instruction_topic) == STRING_TYPE:
            topics.append(robot.instruction_topic)
        bar = None
        if self._progress:
            from tqdm import tqdm

            bar = tqdm(total=sum(bag.counts.get(t, 0) for t in topics), desc=bag.path.name, unit="msg", leave=False)
        next_tick: int | None = None
        count = 0
        for m in bag.messages(topics):
            count += 1
            if bar is not None and count % 256 == 0:
                bar.update(256)
            if m.topic == robot.instruction_topic:
                self.instruction = str(m.msg.data)
                continue
            if self.sampler is not None:
                self.sampler.push(m.topic, m.msg, receive_ns=m.log_ns)
            self.assembler.push(m.topic, m.msg, receive_ns=m.log_ns)
            if next_tick is None:
                self.start_ns = next_tick = self.assembler.first_complete_ns()
            while next_tick is not None and next_tick + self._lookahead <= m.log_ns:
                tick = self._tick(next_tick)
                next_tick += self._period
                if tick is not None:
                    yield tick
        if bar is not None:
            bar.close()
        end = self.assembler.last_complete_ns()
        while next_tick is not None and end is not None and next_tick <= end:
            tick = self._tick(next_tick)
            next_tick += self._period
            if tick is not None:
                yield tick

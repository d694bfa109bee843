"""The plan view at the moments the policy planned, read back from a recorded run: the frames the
model saw, each arm's planned tool-point path with its value colours, and the measured and commanded
joint positions at that moment.

Messages are read once in log-time order and only the newest of each topic is kept, so a long bag
needs no more memory than one frame per camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config.robot import RobotConfig
from ..data.bags import IMAGE_TYPES, JOINT_STATE_TYPE, Bag, open_bag
from ..data.errors import BagError
from ..data.messages import camera_to_rgb
from ..runtime.plan_view import BASE_FRAME, PlanView

MARKER_ARRAY_TYPE = "visualization_msgs/msg/MarkerArray"
TRAJECTORY_TYPE = "trajectory_msgs/msg/JointTrajectory"
POLICY_NODE = "wav_policy"
"""The policy node's name in the launch files and `wav run`: its topics are /wav_policy/..."""


@dataclass(frozen=True)
class PlanTopics:
    """Where a recorded run keeps each part of the plan view."""

    markers: str
    chunk: str
    commanded: str
    model_input: dict[str, str]
    cameras: dict[str, tuple[str, str]]
    """camera name -> (topic, 'image' or 'compressed')."""
    measured: dict[str, str | None]
    """feedback topic -> arm prefix for its bare joint names (None: names already carry it)."""

    @classmethod
    def of(cls, robot: RobotConfig, node: str = POLICY_NODE) -> "PlanTopics":
        if robot.joint_state_topic:
            measured = {robot.joint_state_topic: None}
        else:
            measured = {a.feedback_topic: a.name for a in robot.arms}
        return cls(markers=f"/{node}/plan_markers", chunk=f"/{node}/action_chunk",
                   commanded=f"/{node}/commanded_joint_states",
                   model_input={c.name: f"/{node}/model_input/{c.name}" for c in robot.cameras},
                   cameras={c.name: (c.topic, c.msg_type) for c in robot.cameras}, measured=measured)


@dataclass
class PlanFrame:
    """The plan view at one plan."""

    index: int
    """Which plan of the bag (0: the first)."""
    time_s: float
    """Seconds after the bag's first message."""
    images: dict[str, np.ndarray]
    """camera -> HxWx3 uint8 RGB."""
    image_topics: dict[str, str]
    arms: list[str]
    paths: list[np.ndarray]
    """Per arm: [H, 3] tool-point positions (m, base_link)."""
    colours: list[np.ndarray]
    """Per arm: [H, 4] RGBA per step (the value colours of wav_core.runtime.plan_view)."""
    path_source: str
    measured: dict[str, float]
    commanded: dict[str, float] = field(default_factory=dict)
    """Empty when the bag has no commanded joint states."""


class _Sources:
    """Which topics of this bag the frames come from, checked up front with errors naming them."""

    def __init__(self, bag: Bag, topics: PlanTopics):
        have = ", ".join(sorted(bag.topics)) or "none"
        self.bag = bag

        def present(topic: str, msgtype: str | tuple[str, ...]) -> bool:
            types = (msgtype,) if isinstance(msgtype, str) else msgtype
            if topic not in bag.topics or bag.counts.get(topic, 0) == 0:
                return False
            if bag.topics[topic] not in types:
                raise BagError(f"{bag.path}: topic {topic} has type {bag.topics[topic]}, expected {' or '.join(types)}")
            return True

        if present(topics.markers, MARKER_ARRAY_TYPE):
            self.plan, self.path_source = topics.markers, "plan markers"
        elif present(topics.chunk, TRAJECTORY_TYPE):
            self.plan, self.path_source = topics.chunk, "action chunks (no value colours recorded)"
        else:
            raise BagError(f"{bag.path}: no plans: neither {topics.markers} ({MARKER_ARRAY_TYPE}) nor {topics.chunk} "
                           f"({TRAJECTORY_TYPE}) has messages; the bag has: {have}")
        self.images: dict[str, tuple[str, str]] = {}
        for cam, (topic, msg_type) in topics.cameras.items():
            if present(topics.model_input[cam], IMAGE_TYPES["image"]):
                self.images[cam] = (topics.model_input[cam], "image")
            elif present(topic, IMAGE_TYPES[msg_type]):
                self.images[cam] = (topic, msg_type)
            else:
                raise BagError(f"{bag.path}: no images of camera {cam}: neither {topics.model_input[cam]} nor {topic} "
                               f"has messages; the bag has: {have}")
        self.measured = {}
        for topic, prefix in topics.measured.items():
            if not present(topic, JOINT_STATE_TYPE):
                raise BagError(f"{bag.path}: no measured joint states: {topic} ({JOINT_STATE_TYPE}) has no messages; "
                               f"the bag has: {have}")
            self.measured[topic] = prefix
        self.commanded = topics.commanded if present(topics.commanded, JOINT_STATE_TYPE) else None

    def topic_list(self) -> list[str]:
        out = [self.plan] + [t for t, _ in self.images.values()] + list(self.measured)
        return out + ([self.commanded] if self.commanded else [])


def count_plans(bag_path: str | Path, robot: RobotConfig | None = None, node: str = POLICY_NODE) -> int:
    """How many plans the bag holds (messages on the marker topic, else on the chunk topic)."""
    with open_bag(bag_path) as bag:
        return bag.counts[_Sources(bag, PlanTopics.of(robot or RobotConfig(), node)).plan]


def read_plan_frames(bag_path: str | Path, select, robot: RobotConfig | None = None, node: str = POLICY_NODE,
                     view: PlanView | None = None) -> list[PlanFrame]:
    """PlanFrames of the plans for which `select(index, time_s)` is true, in bag order.

    Images and joint states are the newest recorded at or before each plan (in log time); a plan
    before the first image of every camera and the first measured joint state is skipped."""
    robot = robot or RobotConfig()
    view = view or PlanView(robot.joint_names, [a.name for a in robot.arms])
    with open_bag(bag_path) as bag:
        src = _Sources(bag, PlanTopics.of(robot, node))
        image_of = {topic: (cam, msg_type) for cam, (topic, msg_type) in src.images.items()}
        latest_images: dict[str, np.ndarray] = {}
        latest_raw: dict[str, object] = {}
        measured: dict[str, float] = {}
        commanded: dict[str, float] = {}
        frames: list[PlanFrame] = []
        start_ns = None
        index = -1
        for m in bag.messages(src.topic_list()):
            start_ns = m.log_ns if start_ns is None else start_ns
            if m.topic in image_of:
                latest_raw[m.topic] = m.msg  # decoded only when a selected plan needs it
                latest_images.pop(m.topic, None)
            elif m.topic in src.measured:
                measured.update(_positions(m.msg, src.measured[m.topic], m.topic, bag.path))
            elif m.topic == src.commanded:
                commanded = _positions(m.msg, None, m.topic, bag.path)
            elif m.topic == src.plan:
                index += 1
                time_s = (m.log_ns - start_ns) / 1e9
                if not select(index, time_s):
                    continue
                if len(latest_raw) < len(image_of) or not all(j in measured for j in robot.joint_names):
                    continue
                for topic, msg in latest_raw.items():
                    if topic not in latest_images:
                        cam, msg_type = image_of[topic]
                        latest_images[topic] = camera_to_rgb(msg, msg_type, topic)
                if src.plan.endswith("plan_markers"):
                    arms, paths, colours = _from_markers(m.msg, robot, m.topic, bag.path)
                else:
                    arms, paths, colours = _from_chunk(m.msg, view, m.topic, bag.path)
                frames.append(PlanFrame(
                    index=index, time_s=time_s,
                    images={cam: latest_images[topic] for cam, (topic, _) in src.images.items()},
                    image_topics={cam: topic for cam, (topic, _) in src.images.items()},
                    arms=arms, paths=paths, colours=colours, path_source=src.path_source,
                    measured=dict(measured), commanded=dict(commanded)))
        return frames


def _positions(msg, prefix: str | None, topic: str, bag: Path) -> dict[str, float]:
    names, pos = list(msg.name), np.asarray(msg.position, dtype=np.float64)
    if len(names) != len(pos):
        raise BagError(f"{bag}: {topic}: {len(names)} names but {len(pos)} positions")
    return {(f"{prefix}_{n}" if prefix else n): float(p) for n, p in zip(names, pos)}


def _from_markers(msg, robot: RobotConfig, topic: str, bag: Path):
    arms, paths, colours = [], [], []
    for marker in msg.markers:
        if marker.header.frame_id != BASE_FRAME:
            raise BagError(f"{bag}: {topic}: marker {marker.ns!r} is in frame {marker.header.frame_id!r}, "
                           f"expected {BASE_FRAME!r}")
        arm = marker.ns.rsplit("/", 1)[-1]
        pts = np.array([[p.x, p.y, p.z] for p in marker.points], dtype=np.float64).reshape(-1, 3)
        cols = np.array([[c.r, c.g, c.b, c.a] for c in marker.colors], dtype=np.float64).reshape(-1, 4)
        if len(cols) != len(pts):
            cols = np.tile([marker.color.r, marker.color.g, marker.color.b, marker.color.a], (len(pts), 1))
        arms.append(arm)
        paths.append(pts)
        colours.append(cols)
    if not arms:
        raise BagError(f"{bag}: {topic}: a MarkerArray without markers")
    return arms, paths, colours


def _from_chunk(msg, view: PlanView, topic: str, bag: Path):
    names = list(msg.joint_names)
    missing = [n for n in view.joint_names if n not in names]
    if missing:
        raise BagError(f"{bag}: {topic}: joint_names lack {missing}")
    cols = [names.index(n) for n in view.joint_names]
    actions = np.array([[p.positions[c] for c in cols] for p in msg.points], dtype=np.float64)
    if len(actions) == 0:
        raise BagError(f"{bag}: {topic}: an action chunk without points")
    paths = view.paths(actions)
    flat = np.tile([0.2, 0.4, 1.0, 1.0], (len(actions), 1))
    return list(view.arms), list(paths), [flat] * len(view.arms)

"""Settings of live replay (playing a bag over ROS 2), shared by `wav replay --live` and `bag_player`.

Kept free of ROS imports so the CLI can describe them without loading rclpy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ..config.loader import ConfigError


@dataclass
class LiveConfig:
    bag: str = ""
    rate: float = 1.0
    """Playback speed factor: 2.0 plays twice as fast as recorded."""
    loop: bool = False
    """Start over at the end (the bag's stamps and /clock start over too, as with `ros2 bag play --loop`)."""
    topics: list[str] = field(default_factory=list)
    """Topics to play (empty: all)."""
    clock: bool = False
    """Publish /clock (rosgraph_msgs/Clock) in bag time, for nodes run with use_sim_time."""
    clock_hz: float = 100.0
    start_delay_s: float = 0.0
    wait_for_subscribers_s: float = 0.0
    """Before playing, wait up to this long until every publisher has a subscriber (none lost at start)."""
    qos_depth: int = 100
    """Publisher and recorder queue depth (raise it for fast rates: a slow subscriber loses messages)."""
    record: str = ""
    """Output MCAP bag of `record_topics` (empty: no recording)."""
    record_topics: list[str] = field(default_factory=list)
    record_grace_s: float = 0.5
    """After playback ends and the recorder holds every played message it records, recording stops
    once nothing has arrived for this long (answers in flight and a subscriber's backlog are kept) ..."""
    record_max_grace_s: float = 3.0
    """... or this long after the end, for nodes that keep publishing (e.g. holding commands)."""
    typestore: str = "ros2_humble"

    def validate(self) -> None:
        if not self.bag:
            raise ConfigError("bag: expected the path of a rosbag2 directory to play")
        if self.rate <= 0:
            raise ConfigError(f"rate: got {self.rate}, expected > 0")
        if self.clock_hz <= 0:
            raise ConfigError(f"clock_hz: got {self.clock_hz}, expected > 0")
        if self.qos_depth < 1:
            raise ConfigError(f"qos_depth: got {self.qos_depth}, expected >= 1")
        if self.start_delay_s < 0 or self.wait_for_subscribers_s < 0 or self.record_grace_s < 0:
            raise ConfigError("start_delay_s, wait_for_subscribers_s and record_grace_s must be >= 0")
        if self.record_max_grace_s < self.record_grace_s:
            raise ConfigError(f"record_max_grace_s: got {self.record_max_grace_s}, expected >= record_grace_s ({self.record_grace_s})")
        if self.record and not self.record_topics:
            raise ConfigError(f"record: {self.record} given without record_topics (the topics to record)")
        if self.record_topics and not self.record:
            raise ConfigError("record_topics: given without record (the output bag path)")


def add_live_arguments(p: argparse.ArgumentParser, bag_required: bool = False) -> None:
    p.add_argument("--bag", required=bag_required, help="rosbag2 directory (MCAP or SQLite3)")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="start over at the end")
    p.add_argument("--topics", nargs="+", default=[], help="topics to play (default: all)")
    p.add_argument("--clock", action="store_true", help="publish /clock in bag time (use_sim_time)")
    p.add_argument("--clock-hz", type=float, default=100.0)
    p.add_argument("--start-delay", type=float, default=0.0, help="seconds to wait before playing")
    p.add_argument("--wait-for-subscribers", type=float, default=0.0,
                   help="wait up to this many seconds for a subscriber on every played topic")
    p.add_argument("--record", default="", help="record --record-topics to this new MCAP bag")
    p.add_argument("--record-topics", nargs="+", default=[], help="topics to record (the node's outputs)")
    p.add_argument("--record-grace", type=float, default=0.5,
                   help="after the end, stop recording once nothing arrived for this many seconds")
    p.add_argument("--record-max-grace", type=float, default=3.0, help="... or this many seconds after the end")
    p.add_argument("--qos-depth", type=int, default=100, help="queue depth of the publishers and the recorder")
    p.add_argument("--typestore", default="ros2_humble")


def live_config(args: argparse.Namespace) -> LiveConfig:
    cfg = LiveConfig(bag=args.bag or "", rate=args.rate, loop=args.loop, topics=list(args.topics), clock=args.clock,
                     clock_hz=args.clock_hz, start_delay_s=args.start_delay, wait_for_subscribers_s=args.wait_for_subscribers,
                     qos_depth=args.qos_depth, record_grace_s=args.record_grace,
                     record_max_grace_s=args.record_max_grace, record=args.record, record_topics=list(args.record_topics),
                     typestore=args.typestore)
    cfg.validate()
    return cfg

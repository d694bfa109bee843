"""Records topics of a live ROS 2 graph into a rosbag2 MCAP file, as the serialized bytes received,
so replay runs can keep what the node under test answered."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import QoSProfile

from .bag_player import message_class


class BagRecorder(Node):
    """Records topics (as serialized bytes) into a new MCAP bag; each topic is subscribed once it
    appears on the graph, with the type it is published with."""

    def __init__(self, path: str | Path, topics: list[str], time_ns: Callable[[], int] | None = None,
                 node_name: str = "bag_recorder", context: Context | None = None, qos_depth: int = 100,
                 typestore_name: str = "ros2_humble"):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        if not topics:
            raise ValueError("record topics: expected at least one topic to record")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path}: already exists; choose a new path for the recording")
        super().__init__(node_name, context=context)
        self._typestore = get_typestore(Stores(typestore_name))
        self._time_ns = time_ns or (lambda: self.get_clock().now().nanoseconds)
        self._writer = Writer(self.path, version=8, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._lock = threading.Lock()
        self._conns: dict = {}
        self._subs: dict = {}
        self._qos = QoSProfile(depth=qos_depth)
        self.pending = list(dict.fromkeys(topics))
        self.recorded: Counter[str] = Counter()
        self.last_message_at: float | None = None
        """time.monotonic() of the newest recorded message."""
        self.closed = False
        self._discover()
        self._timer = self.create_timer(0.05, self._discover)

    def _discover(self) -> None:
        if not self.pending or self.closed:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in list(self.pending):
            types = graph.get(topic)
            if not types:
                continue
            msgtype = types[0]
            cls = message_class(msgtype, topic)
            if msgtype not in self._typestore.fielddefs:
                self.get_logger().error(f"{topic}: type {msgtype} unknown to the {self._typestore} typestore; not recorded")
                self.pending.remove(topic)
                continue
            with self._lock:
                self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self._typestore)
            self._subs[topic] = self.create_subscription(cls, topic, lambda raw, t=topic: self._on_message(t, raw),
                                                         self._qos, raw=True)
            self.pending.remove(topic)

    @property
    def subscribed(self) -> set[str]:
        """Topics being recorded (found on the graph with a known type)."""
        return set(self._subs)

    def matched(self) -> bool:
        """Every topic subscribed, and matched with every publisher the graph knows of."""
        return not self.pending and all(0 < s.get_publisher_count() >= self.count_publishers(t)
                                        for t, s in self._subs.items())

    def _on_message(self, topic: str, raw: bytes) -> None:
        with self._lock:
            if self.closed:
                return
            self._writer.write(self._conns[topic], int(self._time_ns()), bytes(raw))
            self.recorded[topic] += 1
            self.last_message_at = time.monotonic()

    def close(self) -> Path:
        """Stop recording and finish the bag file (idempotent)."""
        with self._lock:
            if self.closed:
                return self.path
            self.closed = True
            self._writer.close()
        self.destroy_timer(self._timer)
        for sub in self._subs.values():
            self.destroy_subscription(sub)
        return self.path

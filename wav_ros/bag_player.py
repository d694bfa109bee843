"""Plays a rosbag2 recording over ROS 2 at its recorded timing, and records a node's answers.

The bag's CDR bytes are deserialized straight into the rclpy message classes of the recorded types,
so a policy node under test receives exactly what the rig published. Playback runs in its own
thread on the wall clock: message i goes out `(log_i - log_0) / rate` seconds after the start;
with `clock`, /clock carries the bag time at `clock_hz` for nodes using use_sim_time.

Console entry `bag_player` (`main`): the options of `wav replay --live`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock

from wav_core.data.errors import BagError
from wav_core.replay.live import LiveConfig, add_live_arguments, live_config

NS = 1_000_000_000


def message_class(type_name: str, topic: str = "") -> type:
    """The rclpy class of a ROS type name such as `sensor_msgs/msg/Image`."""
    parts = type_name.split("/")
    if len(parts) != 3:
        raise ValueError(f"{topic or 'type'}: got type name {type_name!r}, expected <package>/msg/<Type>")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])
    except (ImportError, AttributeError):
        raise ValueError(f"{topic or 'type'}: message type {type_name} is not installed in this ROS environment") from None


def _open_reader(path: Path):
    from rosbags.rosbag2 import Reader

    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:
        raise BagError(f"{path}: cannot open as rosbag2 ({type(exc).__name__}: {exc})") from None
    return reader


class BagPlayer(Node):
    """Publishers for the chosen topics; `start()` plays in a thread, `finished` is set at the end."""

    def __init__(self, cfg: LiveConfig, node_name: str = "bag_player", context: Context | None = None):
        cfg.validate()
        self.cfg = cfg
        self.path = Path(cfg.bag)
        reader = _open_reader(self.path)
        try:
            types = {c.topic: c.msgtype for c in reader.connections}
            self.start_ns, self.end_ns = int(reader.start_time), int(reader.end_time)
        finally:
            reader.close()
        have = ", ".join(f"{t} [{m}]" for t, m in sorted(types.items())) or "none"
        unknown = [t for t in cfg.topics if t not in types]
        if unknown:
            raise BagError(f"{self.path}: topics {unknown} not in the bag; the bag has: {have}")
        self.topics: dict[str, str] = {}
        self.classes: dict[str, type] = {}
        self.skipped: dict[str, str] = {}
        """Topics left out (all topics requested) because their type is not installed here."""
        for topic in cfg.topics or sorted(types):
            try:
                self.classes[topic] = message_class(types[topic], topic)
                self.topics[topic] = types[topic]
            except ValueError as exc:
                if cfg.topics:
                    raise
                self.skipped[topic] = str(exc)
        if not self.topics:
            raise BagError(f"{self.path}: no topic with an installed message type to play; the bag has: {have}")
        super().__init__(node_name, context=context)
        for reason in self.skipped.values():
            self.get_logger().warning(f"not played: {reason}")
        qos = QoSProfile(depth=cfg.qos_depth)
        self.publishers_by_topic = {t: self.create_publisher(c, t, qos) for t, c in self.classes.items()}
        self.clock_publisher = self.create_publisher(Clock, "/clock", QoSProfile(depth=10)) if cfg.clock else None
        self.published: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.loops = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0: float | None = None
        self.started_at: float | None = None
        """time.monotonic() when the first pass over the bag began."""
        self._first_ns = self.start_ns

    # -- time ------------------------------------------------------------------------------
    def bag_time_ns(self) -> int:
        """The bag time being played now (the bag start before playback, its end after)."""
        if self._t0 is None:
            return self._first_ns
        ns = self._first_ns + int((time.monotonic() - self._t0) * self.cfg.rate * NS)
        return min(ns, self.end_ns)

    def _publish_clock(self, ns: int) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = ns // NS, ns % NS
        self.clock_publisher.publish(msg)

    def _wait_until(self, wall: float) -> bool:
        """Sleep until `wall` (monotonic), publishing /clock on the way; False when stopped."""
        period = 1.0 / self.cfg.clock_hz
        next_clock = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if self.clock_publisher is not None and now >= next_clock:
                self._publish_clock(self.bag_time_ns())
                next_clock = now + period
            if now >= wall:
                return True
            self._stop.wait(min(wall - now, next_clock - now) if self.clock_publisher is not None else wall - now)
        return False

    # -- playback --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("bag_player: already started")
        self._thread = threading.Thread(target=self._run, name="bag_player", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    def matched(self) -> bool:
        """Every played topic has a subscriber, and every subscriber on the graph is matched
        (a subscriber that is known but not yet matched would miss the first messages)."""
        return all(0 < p.get_subscription_count() >= self.count_subscribers(t)
                   for t, p in self.publishers_by_topic.items())

    def _wait_for_subscribers(self) -> None:
        deadline = time.monotonic() + self.cfg.wait_for_subscribers_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if self.matched():
                return
            self._stop.wait(0.02)
        missing = [t for t, p in self.publishers_by_topic.items() if p.get_subscription_count() == 0]
        if missing and self.cfg.wait_for_subscribers_s > 0:
            self.get_logger().warning(f"playing without subscribers on {missing}")

    def _run(self) -> None:
        try:
            if self.cfg.start_delay_s > 0:
                self._stop.wait(self.cfg.start_delay_s)
            self._wait_for_subscribers()
            while not self._stop.is_set():
                self._play_once()
                self.loops += 1
                if not self.cfg.loop:
                    break
        except BaseException as exc:  # reported through `error` to whoever waits on `finished`
            self.error = exc
            self.get_logger().error(f"playback stopped: {exc}")
        finally:
            self.finished.set()

    def _play_once(self) -> None:
        reader = _open_reader(self.path)
        try:
            conns = [c for c in reader.connections if c.topic in self.topics]
            self._t0 = time.monotonic()
            if self.started_at is None:
                self.started_at = self._t0
            it = reader.messages(connections=conns)
            while not self._stop.is_set():
                try:
                    conn, log_ns, raw = next(it)
                except StopIteration:
                    return
                except Exception as exc:
                    raise BagError(f"{self.path}: corrupt or truncated bag at t={(self.bag_time_ns()) / NS:.3f}s "
                                   f"({type(exc).__name__}: {exc})") from None
                if not self._wait_until(self._t0 + (log_ns - self._first_ns) / NS / self.cfg.rate):
                    return
                try:
                    msg = deserialize_message(bytes(raw), self.classes[conn.topic])
                except Exception as exc:
                    self.failed[conn.topic] += 1
                    self.get_logger().error(f"{conn.topic}: cannot deserialize a {conn.msgtype} at log time {log_ns} ({exc})")
                    continue
                self.publishers_by_topic[conn.topic].publish(msg)
                self.published[conn.topic] += 1
        finally:
            reader.close()


def _drain(recorder, player: BagPlayer, cfg: LiveConfig) -> None:
    """Keep recording after playback until the recorder holds every played message of the topics it
    records (a busy machine delays its callbacks, not the player) and then nothing has arrived for
    `record_grace_s`; `record_max_grace_s` after the end at most."""
    ended = time.monotonic()
    played = {t: n for t, n in player.published.items() if t in recorder.subscribed}
    caught_up_at = None
    while True:
        now = time.monotonic()
        if now - ended >= cfg.record_max_grace_s:
            return
        if caught_up_at is None and all(recorder.recorded[t] >= n for t, n in played.items()):
            caught_up_at = now
        if caught_up_at is not None and now - max(caught_up_at, recorder.last_message_at or 0.0) >= cfg.record_grace_s:
            return
        time.sleep(0.02)


def run_live(cfg: LiveConfig, context: Context | None = None) -> dict:
    """Play `cfg.bag` (and record) until the end, or forever with `loop` (Ctrl-C stops)."""
    from rclpy.executors import MultiThreadedExecutor

    from .bag_recorder import BagRecorder

    own = context is None
    if own:
        context = Context()
        rclpy.init(context=context)
    player = recorder = None
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    try:
        player = BagPlayer(cfg, context=context)
        executor.add_node(player)
        if cfg.record:
            recorder = BagRecorder(cfg.record, cfg.record_topics, time_ns=player.bag_time_ns, context=context,
                                   qos_depth=cfg.qos_depth, typestore_name=cfg.typestore)
            executor.add_node(recorder)
        spinner = threading.Thread(target=executor.spin, name="bag_player_spin", daemon=True)
        spinner.start()
        if recorder is not None:  # outputs are subscribed before the first input goes out
            deadline = time.monotonic() + max(cfg.wait_for_subscribers_s, 1.0)
            while not recorder.matched() and time.monotonic() < deadline:
                time.sleep(0.02)
        player.start()
        try:
            while not player.finished.wait(0.1):
                pass
            if recorder is not None:
                _drain(recorder, player, cfg)
        except KeyboardInterrupt:
            pass
        if player.error is not None:
            raise player.error
        return {"published": dict(player.published), "failed": dict(player.failed), "skipped": dict(player.skipped),
                "loops": player.loops,
                "recorded": dict(recorder.recorded) if recorder is not None else {},
                "not_seen": list(recorder.pending) if recorder is not None else []}
    finally:
        if player is not None:
            player.stop()
        if recorder is not None:
            recorder.close()
        executor.shutdown()
        for node in (recorder, player):
            if node is not None:
                node.destroy_node()
        if own:
            rclpy.shutdown(context=context)


def main(argv: list[str] | None = None) -> int:
    from rclpy.utilities import remove_ros_args

    argv = remove_ros_args(sys.argv if argv is None else ["bag_player", *argv])[1:]
    parser = argparse.ArgumentParser(prog="bag_player",
                                     description="Play a rosbag2 recording over ROS 2 (and record a node's outputs).")
    add_live_arguments(parser, bag_required=True)
    args = parser.parse_args(argv)
    try:
        summary = run_live(live_config(args))
    except (ValueError, FileExistsError) as exc:
        print(f"bag_player: error: {exc}", file=sys.stderr)
        return 2
    print(f"published {sum(summary['published'].values())} messages on {len(summary['published'])} topics"
          + (f"; recorded {summary['recorded']}" if args.record else ""))
    if summary["not_seen"]:
        print(f"never published (not recorded): {summary['not_seen']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

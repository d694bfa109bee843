"""Streaming rosbag2 (MCAP or SQLite3) reading with the `rosbags` library, with clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BagError, DataError

IMAGE_TYPES = {"image": "sensor_msgs/msg/Image", "compressed": "sensor_msgs/msg/CompressedImage"}
JOINT_STATE_TYPE = "sensor_msgs/msg/JointState"
STRING_TYPE = "std_msgs/msg/String"


def is_bag(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.yaml").is_file()


def find_bags(paths: list[str | Path]) -> list[Path]:
    """Bag directories from the arguments: a bag itself, or a folder of bags (sorted by name)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if is_bag(path):
            found.append(path)
        elif path.is_dir():
            inner = sorted(p for p in path.iterdir() if is_bag(p))
            if not inner:
                raise BagError(f"{path}: neither a rosbag2 directory (no metadata.yaml) nor a folder containing any")
            found.extend(inner)
        else:
            raise BagError(f"{path}: no such rosbag2 directory")
    if not found:
        raise BagError("no bags given")
    return found


@dataclass
class BagMessage:
    topic: str
    log_ns: int
    msg: Any


class Bag:
    """An open bag: its topics and types, and a streaming iterator of deserialized messages."""

    def __init__(self, path: Path, reader: Any, typestore: Any):
        self.path = path
        self._reader = reader
        self._typestore = typestore
        self.topics: dict[str, str] = {c.topic: c.msgtype for c in reader.connections}
        self.counts: dict[str, int] = {}
        for c in reader.connections:
            self.counts[c.topic] = self.counts.get(c.topic, 0) + int(c.msgcount)

    def require(self, topics: dict[str, str]) -> None:
        """Every topic present with the expected type, else an error listing what the bag has."""
        have = ", ".join(f"{t} [{m}]" for t, m in sorted(self.topics.items())) or "none"
        for topic, msgtype in topics.items():
            if topic not in self.topics:
                raise BagError(f"{self.path}: topic {topic} not in the bag; the bag has: {have}")
            if self.topics[topic] != msgtype:
                raise BagError(f"{self.path}: topic {topic} has type {self.topics[topic]}, expected {msgtype}")
            if self.counts.get(topic, 0) == 0:
                raise BagError(f"{self.path}: topic {topic} has no messages")

    def messages(self, topics: list[str]) -> Iterator[BagMessage]:
        """Messages of `topics` in log-time order, deserialized one at a time (bounded memory)."""
        conns = [c for c in self._reader.connections if c.topic in topics]
        last_ns: int | None = None
        it = self._reader.messages(connections=conns)
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except Exception as exc:  # rosbags/sqlite/mcap parsing errors: the file is damaged
                raise BagError(f"{self.path}: corrupt or truncated bag after t={_fmt(last_ns)} ({type(exc).__name__}: {exc})") from None
            conn, log_ns, raw = item
            try:
                msg = self._typestore.deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:
                raise BagError(f"{self.path}: cannot deserialize a {conn.msgtype} on {conn.topic} at t={_fmt(log_ns)} ({exc})") from None
            last_ns = log_ns
            yield BagMessage(conn.topic, int(log_ns), msg)


def _fmt(ns: int | None) -> str:
    return "start" if ns is None else f"{ns / 1e9:.3f}s"


@contextmanager
def open_bag(path: str | Path, typestore_name: str = "ros2_humble") -> Iterator[Bag]:
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    try:
        store = get_typestore(Stores(typestore_name))
    except ValueError:
        raise DataError(f"typestore: got {typestore_name!r}, expected one of {[s.value for s in Stores]}") from None
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:
        raise BagError(f"{path}: cannot open as rosbag2 ({type(exc).__name__}: {exc})") from None
    try:
        yield Bag(path, reader, store)
    finally:
        try:
            reader.close()
        except Exception:
            pass


def read_summary(bag: Path) -> tuple[Path, object] | None:
    """The `summary.json` beside a bag and its content, or None when there is none."""
    summary = Path(bag).parent / "summary.json"
    if not summary.is_file():
        return None
    try:
        return summary, json.loads(summary.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{summary}: not readable JSON ({exc})") from None


def episode_success(bag: Path) -> bool | None:
    """Success of a bag's episode from `summary.json` beside it (None when there is none).

    Accepted layouts: {"expert_success": [bool per bag in sorted name order]},
    {"expert_success": {"<bag dir name>": bool}}, or {"per_episode"|"episodes": [{"name"|"bag": ..., "expert_success": bool}]}
    (older `wav sim record` summaries; `outcomes.episode_outcome` reads the current layout first).
    """
    found = read_summary(bag)
    if found is None:
        return None
    summary, data = found
    keys = {bag.name, bag.stem}
    if isinstance(data, dict) and isinstance(data.get("expert_success"), list):
        names = sorted(p.name for p in bag.parent.iterdir() if is_bag(p))
        values = data["expert_success"]
        if len(values) != len(names):
            raise DataError(f"{summary}: expert_success has {len(values)} entries for {len(names)} bags {names}")
        return bool(values[names.index(bag.name)])
    if isinstance(data, dict) and isinstance(data.get("expert_success"), dict):
        for key in keys:
            if key in data["expert_success"]:
                return bool(data["expert_success"][key])
    entries = data.get("per_episode", data.get("episodes")) if isinstance(data, dict) else None
    if isinstance(entries, list):
        for ep in entries:
            if isinstance(ep, dict) and "expert_success" in ep and ({str(ep.get("name")), str(ep.get("bag")), Path(str(ep.get("bag"))).name} & keys):
                return bool(ep["expert_success"])
    raise DataError(f"{summary}: no expert_success entry for bag '{bag.name}'")

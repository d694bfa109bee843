"""A per-stream buffer of stamped messages: ordered, bounded, pruned as ticks advance."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Entry:
    stamp_ns: int
    msg: Any
    decoded: Any = None


@dataclass
class Stream:
    """Messages of one topic in stamp order.

    Only entries a future tick can still use are kept: everything older than the newest entry at or
    before the last queried time is pruned, and at most `max_len` entries are buffered.
    """

    topic: str
    max_len: int = 512
    entries: deque = field(default_factory=deque)
    last_stamp_ns: int | None = None
    first_stamp_ns: int | None = None

    def push(self, stamp_ns: int, msg: Any) -> str | None:
        """Append; returns a drop reason ('out_of_order' / 'overflow') or None when accepted as is."""
        if self.last_stamp_ns is not None and stamp_ns <= self.last_stamp_ns:
            return "out_of_order"
        self.entries.append(Entry(stamp_ns, msg))
        self.last_stamp_ns = stamp_ns
        if self.first_stamp_ns is None:
            self.first_stamp_ns = stamp_ns
        if len(self.entries) > self.max_len:
            self.entries.popleft()
            return "overflow"
        return None

    def latest_before(self, t_ns: int, strict: bool = False) -> Entry | None:
        """Newest entry with stamp <= t_ns (< t_ns when strict)."""
        found = None
        for entry in self.entries:
            if entry.stamp_ns < t_ns or (not strict and entry.stamp_ns == t_ns):
                found = entry
            else:
                break
        return found

    def prune(self, t_ns: int) -> None:
        """Drop entries that no query at time >= t_ns can return."""
        while len(self.entries) >= 2 and self.entries[1].stamp_ns <= t_ns:
            self.entries.popleft()

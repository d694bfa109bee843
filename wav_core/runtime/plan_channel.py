"""Request/reply over a socket with a deadline: the node's side of the planner connection.

Every wait is bounded, so a hung planner costs the caller its timeout and no more; replies whose
request id is not the one asked for (a late answer to an earlier request) are dropped."""

from __future__ import annotations

import socket
import time

import numpy as np

from .wire import MAX_FRAME_BYTES, Message, WireError, pack, read_message


class PlannerTimeout(TimeoutError):
    """No reply before the deadline."""


class Channel:
    def __init__(self, sock: socket.socket, max_bytes: int = MAX_FRAME_BYTES):
        self.sock = sock
        self.max_bytes = max_bytes
        self.stale_replies = 0
        """Replies dropped because they answered an earlier request."""
        self._next_id = 1

    def request(self, header: dict, arrays: list[np.ndarray] | None, timeout_s: float) -> Message:
        """Send one request and return its reply; PlannerTimeout past `timeout_s`, EOFError if the
        other side closed, WireError for a broken reply, ValueError for a request over the size cap."""
        deadline = time.monotonic() + timeout_s
        request_id, self._next_id = self._next_id, self._next_id % 0xFFFF_FFFF + 1
        try:
            frame = pack(header, arrays, request_id, self.max_bytes)
        except WireError as exc:  # the request's own fault: nothing was sent, the connection is fine
            raise ValueError(str(exc)) from None
        self._set_timeout(deadline, timeout_s)
        try:
            self.sock.sendall(frame)
        except socket.timeout:
            raise PlannerTimeout(f"could not send the request within {timeout_s:g} s") from None
        except OSError as exc:
            raise EOFError(f"planner connection closed ({exc.strerror or exc})") from None
        while True:
            reply = read_message(lambda n: self._recv(n, deadline, timeout_s), self.max_bytes)
            if reply.request_id == request_id:
                return reply
            self.stale_replies += 1

    def _set_timeout(self, deadline: float, timeout_s: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise PlannerTimeout(f"no reply within {timeout_s:g} s")
        self.sock.settimeout(left)

    def _recv(self, n: int, deadline: float, timeout_s: float) -> bytes:
        self._set_timeout(deadline, timeout_s)
        try:
            return self.sock.recv(min(n, 1 << 20))
        except socket.timeout:
            raise PlannerTimeout(f"no reply within {timeout_s:g} s") from None
        except OSError:
            return b""

    def shutdown(self) -> None:
        """Wake any thread blocked on this connection (it sees the connection closed)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

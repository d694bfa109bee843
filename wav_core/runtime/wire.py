"""Framed messages between the node and its planner process: a JSON header plus raw array bytes.

A frame is `magic, request id, header length, payload length`, then the JSON header, then the
arrays' bytes; the header names each array's dtype and shape, so nothing is pickled. The magic
catches a stream that is out of step (or something else writing to it), the size cap stops a
garbled length from allocating gigabytes, and the request id pairs each reply with its request."""

from __future__ import annotations

import json
import struct
from typing import BinaryIO, Callable, NamedTuple

import numpy as np

MAGIC = b"WAVp"
_PREFIX = struct.Struct("<4sIII")  # magic, request id, header bytes, payload bytes
MAX_HEADER_BYTES = 1 << 20
MAX_FRAME_BYTES = 256 << 20
"""Default cap on header + payload: far above any observation (three 240x424 cameras x 8 frames
is 7 MB), far below a length read from garbage."""


class WireError(ValueError):
    """A frame that cannot be trusted: wrong magic, over the size cap, or an unreadable header."""


class Message(NamedTuple):
    request_id: int
    header: dict
    arrays: list[np.ndarray]


def pack(header: dict, arrays: list[np.ndarray] | None = None, request_id: int = 0,
         max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """One frame as bytes; refuses a frame the reader would reject for its size."""
    arrays = [np.ascontiguousarray(a) for a in (arrays or [])]
    for a in arrays:
        if a.dtype.hasobject:
            raise WireError("planner message: object arrays are not allowed")
    header = dict(header, arrays=[{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays])
    head = json.dumps(header, default=_plain).encode()
    n_payload = sum(a.nbytes for a in arrays)
    _check_sizes(len(head), n_payload, max_bytes, "outgoing")
    return b"".join([_PREFIX.pack(MAGIC, request_id, len(head), n_payload), head, *(a.tobytes() for a in arrays)])


def _plain(value):
    """numpy scalars (a float32 SNR, an int64 count) as the Python numbers JSON knows."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"planner message: {type(value).__name__} is not JSON serializable")


def write_message(stream: BinaryIO, header: dict, arrays: list[np.ndarray] | None = None, request_id: int = 0,
                  max_bytes: int = MAX_FRAME_BYTES) -> None:
    stream.write(pack(header, arrays, request_id, max_bytes))
    stream.flush()


def _check_sizes(n_head: int, n_payload: int, max_bytes: int, what: str) -> None:
    if n_head > MAX_HEADER_BYTES:
        raise WireError(f"planner message: {what} header of {n_head} bytes exceeds the cap of {MAX_HEADER_BYTES} bytes")
    if n_head + n_payload > max_bytes:
        raise WireError(f"planner message: {what} frame of {n_head + n_payload} bytes exceeds the cap of "
                        f"{max_bytes} bytes")


def read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    """n bytes from `read` (a file's or socket's read); EOFError if the other side closed first."""
    parts, got = [], 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            raise EOFError("planner connection closed")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_message(source: BinaryIO | Callable[[int], bytes], max_bytes: int = MAX_FRAME_BYTES) -> Message:
    """The next frame from a binary stream or a `read(n)` callable; WireError for a frame that breaks
    the format (the stream is then out of step and must be dropped)."""
    read = source if callable(source) else source.read
    magic, request_id, n_head, n_payload = _PREFIX.unpack(read_exact(read, _PREFIX.size))
    if magic != MAGIC:
        raise WireError(f"planner message: bad magic {magic!r}, expected {MAGIC!r} (the stream is out of step "
                        "or something else wrote to it)")
    _check_sizes(n_head, n_payload, max_bytes, "incoming")
    try:
        header = json.loads(read_exact(read, n_head))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"planner message: header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WireError(f"planner message: header is a {type(header).__name__}, expected a JSON object")
    payload = read_exact(read, n_payload)
    return Message(request_id, header, _arrays(header.pop("arrays", []), payload))


def _arrays(specs, payload: bytes) -> list[np.ndarray]:
    arrays, offset = [], 0
    for spec in specs:
        try:
            dtype, shape = np.dtype(spec["dtype"]), [int(s) for s in spec["shape"]]
        except (TypeError, KeyError, ValueError) as exc:
            raise WireError(f"planner message: bad array description {spec!r} ({exc})") from None
        if dtype.hasobject or dtype.itemsize == 0:
            raise WireError(f"planner message: dtype {dtype} is not allowed (plain numeric arrays only)")
        count = int(np.prod(shape, dtype=np.int64))
        if min(shape, default=0) < 0 or offset + count * dtype.itemsize > len(payload):
            raise WireError(f"planner message: array {spec} does not fit the {len(payload)}-byte payload")
        arrays.append(np.frombuffer(payload, dtype, count, offset).reshape(shape).copy())
        offset += count * dtype.itemsize
    if offset != len(payload):
        raise WireError(f"planner message: arrays take {offset} bytes but the payload has {len(payload)}")
    return arrays

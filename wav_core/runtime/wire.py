"""Framed messages between the node and its planner process: a JSON header plus raw array bytes.

Arrays travel as bytes with their dtype and shape in the header, so nothing is pickled."""

from __future__ import annotations

import json
import struct
from typing import BinaryIO

import numpy as np

_LEN = struct.Struct("<II")  # header bytes, payload bytes


def write_message(stream: BinaryIO, header: dict, arrays: list[np.ndarray] | None = None) -> None:
    arrays = [np.ascontiguousarray(a) for a in (arrays or [])]
    header = dict(header, arrays=[{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays])
    head = json.dumps(header).encode()
    payload = b"".join(a.tobytes() for a in arrays)
    stream.write(_LEN.pack(len(head), len(payload)) + head + payload)
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError("planner process closed the connection")
        buf += chunk
    return buf


def read_message(stream: BinaryIO) -> tuple[dict, list[np.ndarray]]:
    n_head, n_payload = _LEN.unpack(_read_exact(stream, _LEN.size))
    header = json.loads(_read_exact(stream, n_head))
    payload = _read_exact(stream, n_payload)
    arrays, offset = [], 0
    for spec in header.pop("arrays", []):
        dtype = np.dtype(spec["dtype"])
        if dtype.hasobject:
            raise ValueError("planner message: object arrays are not allowed")
        count = int(np.prod(spec["shape"])) if spec["shape"] else 1
        nbytes = count * dtype.itemsize
        arrays.append(np.frombuffer(payload[offset:offset + nbytes], dtype=dtype).reshape(spec["shape"]).copy())
        offset += nbytes
    return header, arrays

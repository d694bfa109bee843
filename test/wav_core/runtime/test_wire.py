"""Frames carry a JSON header and raw arrays (no pickle); anything that breaks the format is refused by name."""

import io
import json
import struct

import numpy as np
import pytest

from wav_core.runtime.wire import MAGIC, WireError, pack, read_message, write_message


def test_messages_round_trip_without_pickle():
    buf = io.BytesIO()
    a, b = np.arange(6, dtype=np.uint8).reshape(2, 3), np.linspace(0, 1, 4)
    write_message(buf, {"cmd": "plan", "seed": 3}, [a, b], request_id=7)
    buf.seek(0)
    msg = read_message(buf)
    assert msg.request_id == 7 and msg.header == {"cmd": "plan", "seed": 3}
    np.testing.assert_array_equal(msg.arrays[0], a)
    np.testing.assert_array_equal(msg.arrays[1], b)
    assert msg.arrays[1].dtype == np.float64 and msg.arrays[0].flags.writeable
    assert read_message(io.BytesIO(pack({"snr": np.float32(0.5), "n": np.int64(3)}))).header == {"snr": 0.5, "n": 3}


def test_a_closed_stream_is_end_of_file():
    with pytest.raises(EOFError):
        read_message(io.BytesIO(pack({"cmd": "plan"})[:-1]))
    with pytest.raises(EOFError):
        read_message(io.BytesIO(b""))


def test_text_in_the_stream_is_refused_as_out_of_step():
    with pytest.raises(WireError, match=r"bad magic b'load'.*expected b'WAVp'"):
        read_message(io.BytesIO(b"loading model weights...\n" + pack({"ok": True})))


def test_a_frame_over_the_cap_is_refused_before_it_is_read():
    declared = struct.pack("<4sIII", MAGIC, 1, 10, 1 << 31)  # a garbled length: 2 GiB of payload
    with pytest.raises(WireError, match=r"incoming frame of 2147483658 bytes exceeds the cap of 1000 bytes"):
        read_message(io.BytesIO(declared), max_bytes=1000)
    with pytest.raises(WireError, match=r"outgoing frame of \d+ bytes exceeds the cap of 1000 bytes"):
        pack({"cmd": "plan"}, [np.zeros(1000, np.uint8)], max_bytes=1000)


def test_garbled_headers_and_arrays_are_refused():
    def frame(header: bytes, payload: bytes = b"") -> io.BytesIO:
        return io.BytesIO(struct.pack("<4sIII", MAGIC, 1, len(header), len(payload)) + header + payload)

    with pytest.raises(WireError, match="header is not JSON"):
        read_message(frame(b"\xff{not json"))
    with pytest.raises(WireError, match="header is a list, expected a JSON object"):
        read_message(frame(b"[1, 2]"))
    with pytest.raises(WireError, match="dtype object is not allowed"):
        read_message(frame(json.dumps({"arrays": [{"dtype": "|O", "shape": [1]}]}).encode(), b"\0" * 8))
    with pytest.raises(WireError, match="does not fit the 4-byte payload"):
        read_message(frame(json.dumps({"arrays": [{"dtype": "<f8", "shape": [1]}]}).encode(), b"\0" * 4))
    with pytest.raises(WireError, match="arrays take 0 bytes but the payload has 4"):
        read_message(frame(b"{}", b"\0" * 4))
    with pytest.raises(WireError, match="bad array description"):
        read_message(frame(json.dumps({"arrays": [{"dtype": "<f8"}]}).encode()))

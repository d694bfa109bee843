"""The node's side of the planner connection: replies pair with their request, and no wait is unbounded."""

import socket
import threading

import numpy as np
import pytest

from wav_core.runtime.plan_channel import Channel, PlannerTimeout
from wav_core.runtime.wire import WireError, pack, read_message


@pytest.fixture
def pair():
    node, planner = socket.socketpair()
    yield Channel(node), planner
    node.close()
    planner.close()


def test_a_reply_to_an_earlier_request_is_discarded(pair):
    channel, planner = pair

    def answer():
        request = read_message(planner.makefile("rb"))
        planner.sendall(pack({"ok": True, "answer": "stale"}, None, request.request_id - 1))
        planner.sendall(pack({"ok": True, "answer": "fresh"}, [np.arange(3)], request.request_id))

    for _ in range(2):  # the second request has a new id
        thread = threading.Thread(target=answer)
        thread.start()
        reply = channel.request({"cmd": "plan"}, None, timeout_s=30)
        thread.join(timeout=30)
        assert reply.header == {"ok": True, "answer": "fresh"}
        np.testing.assert_array_equal(reply.arrays[0], np.arange(3))
    assert channel.stale_replies == 2


def test_a_silent_planner_times_out(pair):
    channel, _ = pair
    with pytest.raises(PlannerTimeout, match="no reply within 0.2 s"):
        channel.request({"cmd": "plan"}, None, timeout_s=0.2)


def test_a_broken_reply_is_refused(pair):
    channel, planner = pair
    planner.sendall(b"Warning: something a library printed\n")
    with pytest.raises(WireError, match="bad magic"):
        channel.request({"cmd": "plan"}, None, timeout_s=30)


def test_a_request_over_the_cap_is_refused_without_sending(pair):
    channel, planner = pair
    channel.max_bytes = 1000
    with pytest.raises(ValueError, match="outgoing frame of .* exceeds the cap of 1000 bytes"):
        channel.request({"cmd": "plan"}, [np.zeros(2000, np.uint8)], timeout_s=30)
    planner.setblocking(False)
    with pytest.raises(BlockingIOError):
        planner.recv(1)


def test_shutdown_wakes_a_waiting_request(pair):
    channel, _ = pair
    errors = []

    def wait():
        try:
            channel.request({"cmd": "plan"}, None, timeout_s=600)
        except EOFError as exc:
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    channel.shutdown()
    thread.join(timeout=30)
    assert not thread.is_alive() and len(errors) == 1

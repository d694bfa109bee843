"""The planner process answers on its own socket: what libraries print goes to the log, and a frame
it cannot trust ends it with a message instead of a misread request."""

import json

import numpy as np
import pytest

from wav_core.config.loader import to_dict
from wav_core.model import save_model
from wav_core.planning import PlannerConfig, random_policy
from wav_core.runtime.plan_worker import TEST_HOOK_ENV
from wav_core.runtime.planner_process import PlannerProcess, child_env
from wav_core.runtime.wire import MAX_FRAME_BYTES

CFG = PlannerConfig(K=1, M=3, N=2, S=3)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    policy = random_policy("tiny", CFG, seed=2)
    return save_model(tmp_path_factory.mktemp("planner") / "model", policy.model, policy.card)


def start(hook: dict | None = None) -> PlannerProcess:
    return PlannerProcess(child_env(1, {TEST_HOOK_ENV: json.dumps(hook)} if hook else None), MAX_FRAME_BYTES)


def test_library_prints_go_to_the_log_not_into_the_frames(model_dir, capfd):
    worker = start({"print": "a chatty library"})
    try:
        load = worker.channel.request({"cmd": "load", "model": str(model_dir), "planner": to_dict(CFG),
                                       "threads": 1}, None, timeout_s=300)
        assert load.header == {"ok": True, "backend": "torch"}
        policy = random_policy("tiny", CFG, seed=2)
        images = np.zeros(policy.image_shape, np.uint8)
        plan = worker.channel.request({"cmd": "plan", "instruction": "open the drawer", "seed": 1},
                                      [images, np.zeros(14)], timeout_s=300)
        assert plan.header["ok"] and plan.header["result"]["iterations"] == 1
        assert plan.arrays[0].shape == (policy.cfg.action_horizon, 14)
    finally:
        worker.kill()
    out, err = capfd.readouterr()
    assert err.count("a chatty library") == 4 and "a chatty library" not in out  # print and write(1), twice


def test_requests_before_a_model_and_unknown_commands_are_answered_with_errors():
    worker = start()
    try:
        reply = worker.channel.request({"cmd": "plan", "instruction": ""}, None, timeout_s=300)
        assert reply.header == {"ok": False, "error": "plan: no model loaded yet"}
        reply = worker.channel.request({"cmd": "dance"}, None, timeout_s=300)
        assert reply.header == {"ok": False, "error": "unknown command 'dance'"}
        assert worker.channel.request({"cmd": "quit"}, None, timeout_s=300).header == {"ok": True}
        assert worker.wait_exit(30) == 0
    finally:
        worker.kill()


def test_a_garbled_request_ends_the_planner_with_a_message(capfd):
    worker = start()
    try:
        worker.channel.sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert worker.wait_exit(60) == 2
    finally:
        worker.kill()
    assert "plan_worker: planner message: bad magic b'GET '" in capfd.readouterr().err

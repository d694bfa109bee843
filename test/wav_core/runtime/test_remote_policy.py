"""Planning in a child process gives exactly the in-process plans, and errors come back by name."""

import io

import numpy as np
import pytest

from wav_core.model import save_model
from wav_core.planning import PlannerConfig, WAVPolicy, random_policy
from wav_core.runtime.remote_policy import RemotePolicy
from wav_core.runtime.wire import read_message, write_message


def test_messages_round_trip_without_pickle():
    buf = io.BytesIO()
    a, b = np.arange(6, dtype=np.uint8).reshape(2, 3), np.linspace(0, 1, 4)
    write_message(buf, {"cmd": "plan", "seed": 3}, [a, b])
    buf.seek(0)
    header, arrays = read_message(buf)
    assert header == {"cmd": "plan", "seed": 3}
    np.testing.assert_array_equal(arrays[0], a)
    np.testing.assert_array_equal(arrays[1], b)
    with pytest.raises(EOFError):
        read_message(io.BytesIO(b"\x01"))


def test_remote_plans_equal_local_plans(tmp_path):
    cfg = PlannerConfig(K=1, M=3, N=2, S=3)
    local = random_policy("tiny", cfg, seed=2)
    path = save_model(tmp_path / "model", local.model, local.card)
    local = WAVPolicy.load(path, cfg)
    remote = RemotePolicy(path, cfg, threads=1)
    try:
        images = np.random.default_rng(0).integers(0, 256, local.image_shape, dtype=np.uint8)
        a = remote.plan(images, np.zeros(14) + 0.1, "open the drawer", seed=5)
        b = local.plan(images, np.zeros(14) + 0.1, "open the drawer", seed=5)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.iterations == 1 and remote.cfg == local.cfg
        with pytest.raises(RuntimeError, match=r"planner process: ValueError: state: got shape \(3,\)"):
            remote.plan(images, np.zeros(3))
        remote.set_planner(PlannerConfig(K=2, M=3, N=2, S=3))
        assert remote.plan(images, np.zeros(14), seed=1).iterations == 2
    finally:
        remote.close()
    assert remote._proc.returncode == 0

"""Planning in a child process gives exactly the in-process plans, errors come back by name, and a
child that hangs or dies is replaced while the caller gets PlannerUnavailable instead of a hang."""

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import fields

import numpy as np
import pytest

from wav_core.model import save_model
from wav_core.planning import PlannerConfig, WAVPolicy, random_policy
from wav_core.runtime.plan_worker import TEST_HOOK_ENV
from wav_core.runtime.remote_policy import PlannerUnavailable, RemotePolicy
from wav_test_support import wait_for

CFG = PlannerConfig(K=1, M=3, N=2, S=3)
STATE = np.zeros(14) + 0.1


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    policy = random_policy("tiny", CFG, seed=2)
    return save_model(tmp_path_factory.mktemp("remote") / "model", policy.model, policy.card)


@pytest.fixture
def images(model_dir):
    return np.random.default_rng(0).integers(0, 256, WAVPolicy.load(model_dir, CFG).image_shape, dtype=np.uint8)


def stalling_policy(model_dir, stall_file, **kwargs) -> RemotePolicy:
    """A RemotePolicy whose children wait in every load and plan while `stall_file` exists."""
    hook = {TEST_HOOK_ENV: json.dumps({"stall_file": str(stall_file)})}
    return RemotePolicy(model_dir, CFG, threads=1, restart_backoff_s=0.05, env=hook, **kwargs)


def plan_when_ready(remote: RemotePolicy, images) -> None:
    """Ask until the restarted child answers (the caller's loop: hold, retry)."""
    results = []

    def attempt():
        try:
            results.append(remote.plan(images, STATE, seed=1))
        except PlannerUnavailable:
            return False
        return True

    assert wait_for(attempt, timeout=300), f"no plan after a restart: {remote.health()}"
    assert results[0].actions.shape[1] == 14


def gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_remote_plans_equal_local_plans(model_dir, images):
    local = WAVPolicy.load(model_dir, CFG)
    remote = RemotePolicy(model_dir, CFG, threads=1)
    try:
        a = remote.plan(images, STATE, "open the drawer", seed=5)
        b = local.plan(images, STATE, "open the drawer", seed=5)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.values, b.values)
        same = [f.name for f in fields(a) if f.name not in ("actions", "values", "timings_ms")]
        assert {k: getattr(a, k) for k in same} == {k: getattr(b, k) for k in same}
        assert a.iterations == 1 and remote.cfg == local.cfg and remote.backend.name == "torch"
        assert remote.image_shape == local.image_shape
        with pytest.raises(RuntimeError, match=r"planner process: ValueError: state: got shape \(3,\)") as err:
            remote.plan(images, np.zeros(3))
        assert not isinstance(err.value, PlannerUnavailable)  # a bad request leaves the child alone
        remote.set_planner(PlannerConfig(K=2, M=3, N=2, S=3))
        assert remote.plan(images, STATE, seed=1).iterations == 2
        remote.reset()
        assert remote.health() == ("OK", f"planner process pid {remote.pid} ready, backend torch")
        pid = remote.pid
    finally:
        remote.close()
    assert gone(pid) and remote.health() == ("ERROR", "planner process closed")
    with pytest.raises(PlannerUnavailable, match="closed"):
        remote.plan(images, STATE)


def test_a_model_the_child_cannot_load_fails_the_constructor(model_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in model_dir.iterdir():
        (broken / f.name).write_bytes(b"" if f.suffix == ".safetensors" else f.read_bytes())
    with pytest.raises(RuntimeError, match=r"planner process: ValueError: .*weights.safetensors: corrupt"):
        RemotePolicy(broken, CFG, threads=1)


def test_a_hung_planner_is_killed_and_replaced(model_dir, images, tmp_path):
    stall = tmp_path / "stall"
    remote = stalling_policy(model_dir, stall, plan_timeout_s=1.0)
    try:
        first = remote.pid
        stall.touch()  # the child now hangs in plan, and its replacement in load
        with pytest.raises(PlannerUnavailable, match=r"gave no reply to 'plan' within 1 s \(killed\); restarting"):
            remote.plan(images, STATE)
        assert gone(first)
        level, message = remote.health()
        assert level == "ERROR" and "gave no reply to 'plan' within 1 s" in message and "0 restarts so far" in message
        with pytest.raises(PlannerUnavailable, match="restarting"):
            remote.plan(images, STATE)  # at once, while the new child loads
        remote.set_planner(PlannerConfig(K=2, M=3, N=2, S=3))  # kept for the new child
        assert wait_for(lambda: (stall.parent / "stall.waiting").exists(), timeout=300)
        stall.unlink()
        remote.plan_timeout_s = 300.0
        plan_when_ready(remote, images)
        assert remote.plan(images, STATE, seed=1).iterations == 2
        level, message = remote.health()
        assert level == "WARN" and "after it gave no reply to 'plan'" in message and "1 restarts so far" in message
        assert remote.pid != first and remote.restarts == 1
    finally:
        remote.close()


def test_a_killed_planner_is_replaced(model_dir, images, tmp_path):
    stall = tmp_path / "stall"
    remote = stalling_policy(model_dir, stall)
    try:
        first = remote.pid
        stall.touch()  # the replacement waits in load until the test has looked
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: remote.health()[0] == "ERROR", timeout=60)
        assert "exited with code -9 (SIGKILL); restarting" in remote.health()[1]
        with pytest.raises(PlannerUnavailable, match=r"exited with code -9 \(SIGKILL\); restarting"):
            remote.plan(images, STATE)
        remote.load_timeout_s = 1.0  # the hung replacements are given up on, and tried again
        assert wait_for(lambda: "the last start failed: planner process gave no reply to 'load' within 1 s"
                        in remote.health()[1], timeout=120)
        assert remote.health()[1].startswith("planner process exited with code -9 (SIGKILL); restarting")
        remote.load_timeout_s = 300.0
        stall.unlink()
        plan_when_ready(remote, images)
        assert remote.health()[0] == "WARN" and remote.restarts == 1 and remote.pid != first
    finally:
        remote.close()


def test_a_planner_that_dies_mid_plan_is_replaced(model_dir, images, tmp_path):
    stall = tmp_path / "stall"
    remote = stalling_policy(model_dir, stall, plan_timeout_s=600)
    try:
        first = remote.pid
        stall.touch()
        errors = []
        thread = threading.Thread(target=lambda: errors.append(pytest.raises(PlannerUnavailable, remote.plan,
                                                                             images, STATE)))
        thread.start()
        assert wait_for((stall.parent / "stall.waiting").exists, timeout=60)
        os.kill(first, signal.SIGKILL)
        thread.join(timeout=60)
        assert not thread.is_alive() and "exited with code -9 (SIGKILL)" in str(errors[0].value)
        stall.unlink()
        plan_when_ready(remote, images)
    finally:
        remote.close()


def test_close_ends_a_hung_plan_and_its_child(model_dir, images, tmp_path):
    stall = tmp_path / "stall"
    remote = stalling_policy(model_dir, stall, plan_timeout_s=600)
    pid = remote.pid
    stall.touch()
    errors = []
    planning = threading.Thread(target=lambda: errors.append(pytest.raises(PlannerUnavailable, remote.plan,
                                                                           images, STATE)))
    planning.start()
    assert wait_for((stall.parent / "stall.waiting").exists, timeout=60)  # the child is hung in plan
    closing = threading.Thread(target=remote.close)
    closing.start()
    closing.join(timeout=30)
    planning.join(timeout=30)
    assert not closing.is_alive() and not planning.is_alive()
    assert "planner process closed" in str(errors[0].value)
    assert gone(pid) and remote.pid is None and remote.restarts == 0


NODE = """
import json, sys
import numpy as np
from wav_core.planning import PlannerConfig
from wav_core.runtime.plan_worker import TEST_HOOK_ENV
from wav_core.runtime.remote_policy import RemotePolicy

model_dir, stall = sys.argv[1:]
remote = RemotePolicy(model_dir, PlannerConfig(K=1, M=3, N=2, S=3), plan_timeout_s=600,
                      env={TEST_HOOK_ENV: json.dumps({"stall_file": stall})})
print(remote.pid, flush=True)
open(stall, "w").close()
remote.plan(np.zeros(remote.image_shape, np.uint8), np.zeros(14))
"""


def test_a_hung_planner_ends_when_its_node_is_killed(model_dir, tmp_path):
    stall = tmp_path / "stall"
    node = subprocess.Popen([sys.executable, "-c", NODE, str(model_dir), str(stall)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(node.stdout.readline())
        assert wait_for((stall.parent / "stall.waiting").exists, timeout=120)  # hung in plan
        node.kill()
        assert wait_for(lambda: gone(pid), timeout=30)
    finally:
        node.kill()
        node.wait()
        node.stdout.close()

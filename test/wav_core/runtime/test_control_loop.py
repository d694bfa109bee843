"""The control loop the node, evaluation and replay share: the same observations give the same
commands whichever way they come in; chunks hand over without holds; output only starts from a fresh,
in-limits measured pose; re-anchoring, the tracking latch and driver events."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import numpy as np
import pytest

from wav_core.config import RobotConfig
from wav_core.config.loader import ConfigError
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot.piper import DUAL_LOWER, HOME
from wav_core.runtime.config import ExecutorConfig, PolicyConfig, SafetyConfig
from wav_core.runtime.control_loop import ControlLoop, check_model, decision_seed
from wav_core.runtime.control_loop_planner import InlinePlanner, PlanThread

FAST = PlannerConfig(K=1, M=2, N=2, S=2)
SAFETY = SafetyConfig(max_joint_velocity=1.5, max_joint_acceleration=8.0)


@pytest.fixture(scope="module")
def policy():
    return random_policy("tiny", FAST)


@pytest.fixture(scope="module")
def robot():
    r = RobotConfig()
    return dataclasses.replace(r, cameras=[dataclasses.replace(c, width=48, height=32) for c in r.cameras])


def config(**executor) -> PolicyConfig:
    return PolicyConfig(seed=7, planner=FAST, executor=ExecutorConfig(**executor), safety=SAFETY)


def images(robot, tick: int) -> dict[str, np.ndarray]:
    return {c.name: np.full((c.height, c.width, 3), (37 * tick + 11 * k) % 256, np.uint8)
            for k, c in enumerate(robot.cameras)}


def header(t: float):
    ns = int(round(t * 1e9))
    return SimpleNamespace(stamp=SimpleNamespace(sec=ns // 10**9, nanosec=ns % 10**9))


def image_msg(img: np.ndarray, t: float):
    h, w, _ = img.shape
    return SimpleNamespace(header=header(t), height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
                           data=img.tobytes())


def joint_msg(arm, q: np.ndarray, t: float):
    return SimpleNamespace(header=header(t), name=list(arm.joint_names), position=q.tolist())


class Plant:
    """A rig whose joints reach each command one executor step later."""

    def __init__(self):
        self.q = HOME.copy()

    def apply(self, command):
        if command is not None:
            self.q = command.copy()


def run_like_eval(loop, robot, seconds, latency_s, plant=None):
    """Observations handed over directly, as `wav eval` does."""
    plant = plant or Plant()
    planner, per_tick, commands = InlinePlanner(loop, latency_s), int(loop.cfg.executor.rate_hz / robot.tick_hz), []
    for step in range(int(seconds * loop.cfg.executor.rate_hz)):
        now = step * loop.dt
        if step % per_tick == 0:
            loop.observe(images(robot, step // per_tick), plant.q, now)
            if step == 0:
                assert loop.enable(now) == (True, "command output enabled")
        else:
            loop.feedback(plant.q, now)
        planner.step(now)
        out = loop.execute(now)
        commands.append(out.command)
        plant.apply(out.command)
    return commands, planner


def run_like_node(loop, robot, seconds, latency_s):
    """The same observations as messages: pushed, then assembled by the tick, as the node does."""
    plant = Plant()
    planner, per_tick, commands = InlinePlanner(loop, latency_s), int(loop.cfg.executor.rate_hz / robot.tick_hz), []
    for step in range(int(seconds * loop.cfg.executor.rate_hz)):
        now = step * loop.dt
        if step % per_tick == 0:
            for cam, img in zip(robot.cameras, images(robot, step // per_tick).values()):
                assert loop.push(cam.topic, image_msg(img, now), now)
        for k, arm in enumerate(robot.arms):
            assert loop.push(arm.feedback_topic, joint_msg(arm, plant.q[7 * k:7 * k + 7], now), now)
        if step % per_tick == 0:
            assert loop.tick(now)
            if step == 0:
                assert loop.enable(now)[0]
        planner.step(now)
        out = loop.execute(now)
        commands.append(out.command)
        plant.apply(out.command)
    return commands, planner


def test_eval_and_node_inputs_give_the_same_commands(policy, robot):
    a, plans_a = run_like_eval(ControlLoop(config(), robot, policy), robot, 2.0, latency_s=0.1)
    policy.reset()
    b, plans_b = run_like_node(ControlLoop(config(), robot, policy), robot, 2.0, latency_s=0.1)
    policy.reset()
    assert len(plans_a.plans) == len(plans_b.plans) >= 4
    assert [i["seed"] for i, _ in plans_a.plans] == [decision_seed(7, k) for k in range(len(plans_a.plans))]
    for (ia, ca), (ib, cb) in zip(plans_a.plans, plans_b.plans):
        np.testing.assert_array_equal(ca.actions, cb.actions)
    assert all(c is not None for c in a + b)
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert np.ptp(np.stack(a), axis=0).max() > 1e-3  # the arm moved: the comparison is not of two standstills


def accelerations(commands, dt):
    q = np.stack(commands)
    return np.abs(np.diff(q, n=2, axis=0))[:, :6] / dt**2


def test_chunks_hand_over_without_holds_when_planning_takes_well_under_half_a_chunk(policy, robot):
    chunk_s = policy.cfg.action_horizon / robot.tick_hz
    loop = ControlLoop(config(replan_margin_s=0.05), robot, policy)
    commands, planner = run_like_eval(loop, robot, 6.0, latency_s=0.4 * chunk_s)
    assert len(planner.plans) > 6 / chunk_s
    assert loop.holds.get("plan_late", 0) == 0 and set(loop.holds) <= {"awaiting_plan"}
    assert accelerations(commands, loop.dt).max() <= SAFETY.max_joint_acceleration * 1.001


def test_a_planner_slower_than_a_chunk_holds_and_brakes_within_the_acceleration_limit(policy, robot):
    chunk_s = policy.cfg.action_horizon / robot.tick_hz
    loop = ControlLoop(config(), robot, policy)
    commands, _ = run_like_eval(loop, robot, 6.0, latency_s=1.5 * chunk_s)
    assert loop.holds["plan_late"] > 0
    assert accelerations(commands, loop.dt).max() <= SAFETY.max_joint_acceleration * 1.001


def test_sync_mode_plans_once_per_chunk_at_its_end(policy, robot):
    loop = ControlLoop(config(mode="sync"), robot, policy)
    _, planner = run_like_eval(loop, robot, 2.0, latency_s=None)
    anchors = [round(i["observation_age_ms"], 6) for i, _ in planner.plans]
    assert anchors == [0.0] * len(anchors)  # planned from the observation of the same instant
    assert len(planner.plans) == int(np.ceil(2.0 * robot.tick_hz / policy.cfg.action_horizon))
    assert not loop.holds


def fed(policy, robot, q=HOME, now=1.0, **executor):
    loop = ControlLoop(config(**executor), robot, policy)
    loop.observe(images(robot, 0), q, now)
    return loop


def test_enable_needs_fresh_feedback_and_a_pose_inside_the_limits(policy, robot):
    loop = ControlLoop(config(), robot, policy)
    assert loop.enable(0.0) == (False, "no complete observation yet (cameras and joint feedback)")
    loop = fed(policy, robot, now=1.0)
    ok, why = loop.enable(1.0 + 2.5 / robot.tick_hz)
    assert not ok and "joint feedback of arm left" in why and "two decision ticks" in why
    outside = HOME.copy()
    outside[1] = DUAL_LOWER[1] - 0.2  # left joint2 below its limit
    loop.feedback(outside, 1.2)
    ok, why = loop.enable(1.2)
    assert not ok and "left_joint2" in why and "outside the limits" in why
    assert loop.execute(1.2).command is None
    loop.feedback(HOME, 1.25)
    assert loop.enable(1.25)[0]
    np.testing.assert_array_equal(loop.safety.last, HOME)


def test_feedback_resuming_after_a_gap_reanchors_on_the_measured_pose(policy, robot):
    loop = fed(policy, robot)
    assert loop.enable(1.0)[0]
    moved = HOME.copy()
    moved[[0, 8]] += 0.05
    loop.feedback(moved, 1.5)  # 0.5 s without feedback, then the arm is somewhere else
    np.testing.assert_allclose(loop.safety.last, moved)
    assert loop.counters["reanchor"] == 1
    beyond = HOME.copy()
    beyond[8] = 5.0  # right joint2 far outside
    loop.feedback(beyond, 2.5)
    assert not loop.enabled and "re-anchor refused" in loop.off_reason and "right_joint2" in loop.off_reason


def test_an_arm_that_does_not_follow_latches_the_output_off(policy, robot):
    loop = fed(policy, robot, now=0.0)
    assert loop.enable(0.0)[0]
    stuck = HOME.copy()
    stuck[0] += 0.5  # left joint1 measured 0.5 rad from its command, tolerance 0.3
    t = 0.0
    while loop.enabled and t < 2.0:
        t += loop.dt
        loop.feedback(stuck, t)
        out = loop.execute(t)
    assert not loop.enabled and out.command is None
    assert out.hold.startswith("tracking_error: left_joint1") and SAFETY.tracking_time_s < t < SAFETY.tracking_time_s + 0.05
    assert loop.execute(t + loop.dt).command is None  # latched until enable


def test_driver_events_reanchor_and_stopping_events_disable(policy, robot):
    loop = fed(policy, robot)
    assert loop.enable(1.0)[0]
    event = {"arm": "left", "event": "homed", "armed": True, "seq": 3}
    assert "re-anchoring" in loop.driver_event(json.dumps(event), 1.0)
    moved = HOME.copy()
    moved[3] += 0.01
    loop.feedback(moved, 1.01)
    assert loop.enabled and loop.counters["reanchor"] == 1
    np.testing.assert_allclose(loop.safety.last, moved)
    assert "output disabled" in loop.driver_event(json.dumps(dict(event, event="estop", armed=False)), 1.02)
    assert not loop.enabled and loop.off_reason == "driver: arm left estop"
    with pytest.raises(ValueError, match="expected"):
        loop.driver_event('{"arm": "left", "event": "exploded"}', 1.03)
    with pytest.raises(ValueError, match="not JSON"):
        loop.driver_event("estop!", 1.03)


def test_estop_latches_until_enable(policy, robot):
    loop = fed(policy, robot)
    assert loop.enable(1.0)[0]
    loop.estop()
    assert loop.execute(1.0).command is None and loop.execute(1.0).hold == "estop"
    loop.disable()
    assert loop.off_reason == "estop"
    assert loop.enable(1.0)[0] and not loop.estopped


def test_a_failed_plan_is_a_hold_and_planning_goes_on(policy, robot):
    loop = fed(policy, robot)
    req = loop.request_plan(1.0)
    loop.plan_failed(req, RuntimeError("planner process restarting"))
    assert loop.counters["plan_error"] == 1 and "restarting" in loop.last_error
    again = loop.request_plan(1.0)
    assert again is not None and again.seed == req.seed  # the decision is retried with its seed


def test_plan_thread_feeds_a_live_executor(policy, robot):
    loop = fed(policy, robot, now=0.0)
    t0 = time.monotonic()
    clock = lambda: time.monotonic() - t0  # noqa: E731
    got = []
    thread = PlanThread(loop, clock, lambda info, chunk: got.append(info))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(got) < 2 and time.monotonic() < deadline:
            loop.observe(images(robot, 0), HOME, clock())
            time.sleep(0.02)
    finally:
        thread.stop()
    assert [i["seed"] for i in got[:2]] == [7, 8] and not thread.is_alive()


def test_a_model_for_other_cameras_is_refused(policy, robot):
    other = dataclasses.replace(robot, cameras=[dataclasses.replace(c, name=c.name + "_rgb") for c in robot.cameras])
    with pytest.raises(ConfigError, match="model cameras .* do not match the robot config cameras"):
        check_model(other, policy.card)
    with pytest.raises(ConfigError):
        ControlLoop(config(), other, policy)


def test_a_preview_is_the_set_points_the_loop_then_sends_and_changes_nothing(policy, robot):
    loop = ControlLoop(config(mode="sync"), robot, policy)
    plant, per_tick = Plant(), int(loop.cfg.executor.rate_hz / robot.tick_hz)
    run_like_eval(loop, robot, 0.5, None, plant)  # a chunk under way, so the next one is cross-faded in
    step = int(round(0.5 * loop.cfg.executor.rate_hz))

    def sense(step):
        if step % per_tick == 0:
            loop.observe(images(robot, step // per_tick), plant.q, step * loop.dt)
        else:
            loop.feedback(plant.q, step * loop.dt)

    sense(step)
    while (req := loop.request_plan(step * loop.dt)) is None:
        plant.apply(loop.execute(step * loop.dt).command)
        step += 1
        sense(step)
    chunk = loop.plan(req)
    other = np.repeat(HOME[None], len(chunk.actions), axis=0)
    last, chunks = loop.safety.last.copy(), loop.executor.chunks
    times = [(step + k) * loop.dt for k in range(400)]
    preview = list(loop.preview(req, chunk.actions, times))
    assert not np.array_equal(list(loop.preview(req, other, times))[-1], preview[-1])
    assert np.array_equal(loop.safety.last, last) and loop.executor.chunks == chunks and loop.in_flight is req
    loop.deliver(req, chunk, step * loop.dt)
    sent = []
    for k in range(len(preview)):
        now = (step + k) * loop.dt
        if k:
            sense(step + k)
        assert k == 0 or loop.request_plan(now) is None
        sent.append(loop.execute(now).command)
        plant.apply(sent[-1])
    assert len(preview) == policy.cfg.action_horizon * per_tick
    assert all(np.array_equal(a, b) for a, b in zip(preview, sent))
    assert loop.request_plan((step + len(preview)) * loop.dt) is not None  # the preview stopped where the loop replans

"""Runtime benchmark of the policy node on real DDS in wall-clock time: the executor's command
interval with the planner idle vs planning concurrently (same run), and the latency from the newest
camera stamp to the published action chunk."""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
import time

from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from sensor_msgs.msg import Image, JointState

from wav_core.config.robot import RobotConfig
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot.piper import HOME
from wav_core.runtime.config import PolicyConfig

from .messages import rgb_image
from .policy_node import PolicyNode


def _feed(node, robot: RobotConfig, stop) -> None:
    """Cameras at camera_hz and joint feedback at joint_hz, stamped now, like a live rig."""
    cams = {c.name: node.create_publisher(Image, c.topic, 10) for c in robot.cameras}
    arms = [node.create_publisher(JointState, a.feedback_topic, 10) for a in robot.arms]
    frames = {c.name: np.random.default_rng(0).integers(0, 255, (c.height, c.width, 3), dtype=np.uint8)
              for c in robot.cameras}
    next_cam = t0 = time.monotonic()
    k = 0
    while not stop.is_set():
        now = node.get_clock().now().to_msg()
        for i, (pub, a) in enumerate(zip(arms, robot.arms)):
            m = JointState(name=a.joint_names, position=HOME[7 * i:7 * i + 7].tolist())
            m.header.stamp = now
            pub.publish(m)
        if time.monotonic() >= next_cam:
            next_cam += 1.0 / robot.camera_hz
            for c in robot.cameras:
                cams[c.name].publish(rgb_image(frames[c.name], now, c.name))
        k += 1
        delay = t0 + k / robot.joint_hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _feeder_process(domain_id: int, stop) -> None:
    """The rig's drivers live in other processes; so does the feeder, so it does not compete with the
    node for the interpreter lock."""
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("wav_bench_feeder", context=ctx)
    try:
        _feed(node, RobotConfig(), stop)
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def _pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def run_node_bench(preset: str = "tiny", model: str | None = None, seconds: float = 10.0,
                   planner: PlannerConfig | None = None, threads: int = 1, domain_id: int = 42,
                   planner_process: bool = True) -> dict:
    planner = planner or PlannerConfig(K=1, M=8, N=4)
    robot = RobotConfig()
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    tmp = None
    if model is None:
        tmp = tempfile.TemporaryDirectory(prefix="wav_node_bench_")
        p = random_policy(preset, planner)
        model = str(save_model(Path(tmp.name) / "model", p.model, p.card))
    cfg = PolicyConfig(model=model, planner=planner, threads=threads, planner_process=planner_process)
    node = PolicyNode(policy_cfg=cfg, robot=robot, context=ctx)
    ex = MultiThreadedExecutor(num_threads=4, context=ctx)
    ex.add_node(node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    mp = multiprocessing.get_context("spawn")
    stop = mp.Event()
    feed = mp.Process(target=_feeder_process, args=(domain_id, stop), daemon=True)
    feed.start()
    out: dict = {"preset": preset if tmp else model, "planner_process": planner_process, "K": planner.K, "M": planner.M, "N": planner.N, "seconds": seconds}
    try:
        node.planning_paused.set()
        node.trigger_configure()
        node.trigger_activate()
        t = time.monotonic()
        while not node.enable(True)[0]:
            if time.monotonic() - t > 30:
                raise TimeoutError("no complete observation within 30 s")
            time.sleep(0.05)
        for phase in ("idle", "planning"):
            if phase == "planning":
                node.planning_paused.clear()
                while not node.plan_latencies:
                    time.sleep(0.05)
            node.command_intervals.clear()
            time.sleep(seconds)
            iv = list(node.command_intervals)
            out[phase] = {"p50_ms": _pct(iv, 50), "p99_ms": _pct(iv, 99), "n": len(iv)}
        out["p99_ratio_planning_vs_idle"] = out["planning"]["p99_ms"] / out["idle"]["p99_ms"]
        lat = list(node.camera_to_chunk_ms)
        out["camera_to_chunk_ms"] = {"median": _pct(lat, 50), "p90": _pct(lat, 90), "n": len(lat)}
        pl = list(node.plan_latencies)
        out["plan_latency_ms"] = {"median": _pct(pl, 50), "p90": _pct(pl, 90)}
    finally:
        stop.set()
        feed.join()
        node._halt()
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        if tmp is not None:
            tmp.cleanup()
    return out

"""Benchmark of the driver on the virtual bus: command-to-feedback latency and command throughput.

Latency is split where it can be measured: publish -> the simulated firmware has the complete
JointCtrl set (ROS + bridge + SDK + CAN), and publish -> the first feedback message on the topic
that shows the joint moving toward the new target (adds up to one firmware period and one
feedback period). Throughput streams commands to both arms at once and counts what reaches the
firmware. Medians over trials / 0.5 s windows, all measured in the same run.

    python -m wav_ros.piper_bench [--trials 30] [--seconds 3] [--rate 200]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from wav_core.config.driver import DriverConfig

MOVE_THRESHOLD = 5e-4  # rad: well above the 1 millidegree feedback resolution


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return False


EXECUTORS = ("multi", "single")


def make_executor(kind: str, context):
    """rclpy executor by name: multi-threaded (the node's default) or single-threaded."""
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    if kind == "multi":
        return MultiThreadedExecutor(num_threads=4, context=context)
    if kind == "single":
        return SingleThreadedExecutor(context=context)
    raise ValueError(f"executor: got {kind!r}, expected one of {EXECUTORS}")


def run_bench(trials: int = 30, seconds: float = 3.0, rate_hz: float = 200.0, speed_percent: int = 100,
              executor_kind: str = "multi") -> dict:
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from .piper_sim import virtual_config, virtual_rig

    if trials < 1 or seconds <= 0 or rate_hz <= 0:
        raise ValueError(f"bench: expected trials >= 1, seconds > 0, rate > 0; got {trials}, {seconds}, {rate_hz}")
    config = virtual_config(DriverConfig(speed_percent=speed_percent, diagnostics_hz=1.0, enable_on_start=True))
    ctx = Context()
    rclpy.init(context=ctx, domain_id=150 + (threading.get_native_id() % 50))
    results: dict = {}
    try:
        with virtual_rig(config, context=ctx, node_name="piper_bridge_bench") as (bridge, arms):
            node = Node("piper_bench", context=ctx)
            latest: dict[str, tuple[float, np.ndarray]] = {}
            arrivals: dict[str, list[float]] = {a.name: [] for a in config.arms}
            lock = threading.Lock()

            def on_feedback(msg: JointState, name: str) -> None:
                now = time.time()
                with lock:
                    latest[name] = (now, np.array(msg.position))
                    arrivals[name].append(now)

            pubs = {}
            for a in config.arms:
                node.create_subscription(JointState, a.feedback_topic, lambda m, n=a.name: on_feedback(m, n), 50)
                pubs[a.name] = node.create_publisher(JointState, a.command_topic, 50)
            executor = make_executor(executor_kind, ctx)
            executor.add_node(bridge)
            executor.add_node(node)
            spin = threading.Thread(target=executor.spin, daemon=True)
            spin.start()
            try:
                if not _wait(lambda: len(latest) == len(config.arms), 10.0):
                    raise RuntimeError("bench: no feedback from the bridge within 10 s")

                def send(name: str, q: np.ndarray) -> None:
                    msg = JointState()
                    msg.header.stamp = node.get_clock().now().to_msg()
                    msg.name = list(config.arm(name).joint_names)
                    msg.position = [float(v) for v in q]
                    pubs[name].publish(msg)

                # an enabled arm is disarmed: arm it, as a policy would, with its measured pose
                for name in arms:
                    if not _wait(lambda: (send(name, latest[name][1]) or True) and bridge.links[name].armed, 10.0):
                        raise RuntimeError(f"bench: arm {name} did not arm on its measured pose within 10 s")

                poses = [np.array([0.0, 0.3, -0.3, 0.0, 0.3, 0.0, 0.02]), np.array([0.1, 0.3, -0.3, 0.0, 0.3, 0.0, 0.02])]
                for name, arm in arms.items():
                    to_firmware, to_topic = [], []
                    for k in range(trials + 1):
                        target = poses[k % 2]
                        start = latest[name][1]
                        t0 = time.time()
                        send(name, target)
                        direction = np.sign(target[0] - start[0])
                        moved = _wait(lambda: direction != 0 and (latest[name][1][0] - start[0]) * direction > MOVE_THRESHOLD, 2.0)
                        t_moved = latest[name][0]
                        t_fw = arm.state().last_joint_command_time
                        # settle: keep streaming the target until the arm is there
                        _wait(lambda: (send(name, target) or True) and abs(latest[name][1][0] - target[0]) < 1e-3, 5.0)
                        if k == 0 or not moved:
                            continue  # the first move starts from wherever the arm was
                        to_firmware.append(t_fw - t0)
                        to_topic.append(t_moved - t0)
                    results[f"{name}.latency_to_firmware_ms"] = 1e3 * statistics.median(to_firmware) if to_firmware else float("nan")
                    results[f"{name}.latency_to_feedback_ms"] = 1e3 * statistics.median(to_topic) if to_topic else float("nan")
                    results[f"{name}.latency_trials"] = len(to_topic)

                # throughput: both arms at once
                counts0 = {n: a.state().joint_commands for n, a in arms.items()}
                sent0 = {n: bridge.links[n].sent for n in arms}
                with lock:
                    for v in arrivals.values():
                        v.clear()
                windows: dict[str, list[float]] = {n: [] for n in arms}
                period = 1.0 / rate_hz
                t_start = time.monotonic()
                next_t = t_start
                window_start, window_counts = t_start, dict(counts0)
                k = 0
                published = 0
                while time.monotonic() - t_start < seconds:
                    q = poses[0] + np.array([0.05 * np.sin(0.5 * k * period * 2 * np.pi), 0, 0, 0, 0, 0, 0])
                    for name in arms:
                        send(name, q)
                    published += 1
                    k += 1
                    now = time.monotonic()
                    if now - window_start >= 0.5:
                        for n, a in arms.items():
                            c = a.state().joint_commands
                            windows[n].append((c - window_counts[n]) / (now - window_start))
                            window_counts[n] = c
                        window_start = now
                    next_t += period
                    delay = next_t - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                elapsed = time.monotonic() - t_start
                time.sleep(0.2)
                results["requested_rate_hz"] = rate_hz
                results["published_rate_hz"] = published / elapsed
                for n, a in arms.items():
                    results[f"{n}.command_rate_hz"] = statistics.median(windows[n]) if windows[n] else float("nan")
                    results[f"{n}.commands_reached_firmware"] = a.state().joint_commands - counts0[n]
                    results[f"{n}.commands_sent_by_bridge"] = bridge.links[n].sent - sent0[n]
                    with lock:
                        gaps = np.diff(arrivals[n])
                    results[f"{n}.feedback_rate_hz"] = 1.0 / float(np.median(gaps)) if len(gaps) else float("nan")
                results["commands_published_per_arm"] = published
            finally:
                executor.shutdown()
                spin.join(timeout=5)
                node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
    return results


def print_results(results: dict) -> None:
    for key, value in results.items():
        print(f"{key:40s} {value:10.2f}" if isinstance(value, float) else f"{key:40s} {value:10d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wav_ros.piper_bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_from_args(args)


def run_from_args(args: argparse.Namespace) -> int:
    kinds = EXECUTORS if args.executor == "both" else (args.executor,)
    runs = {}
    for kind in kinds:
        print(f"# executor: {kind}")
        runs[kind] = run_bench(args.trials, args.seconds, args.rate, args.speed_percent, executor_kind=kind)
        print_results(runs[kind])
    if len(runs) == 2:
        multi, single = runs["multi"], runs["single"]
        print("# ratio multi / single (same run)")
        for key, value in multi.items():
            if key.endswith(("_ms", "_hz")) and isinstance(value, float) and single.get(key):
                print(f"{key:40s} {value / single[key]:10.2f}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=30, help="latency trials per arm")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the throughput run")
    parser.add_argument("--rate", type=float, default=200.0, help="commands per second per arm in the throughput run")
    parser.add_argument("--speed-percent", type=int, default=100, help="MotionCtrl_2 speed of the simulated arms")
    parser.add_argument("--executor", choices=(*EXECUTORS, "both"), default="multi",
                        help="rclpy executor spinning the bridge and the bench node (both: run each, print ratios)")


if __name__ == "__main__":
    raise SystemExit(main())

"""The simulated Piper rig behind exactly the real robot's topics.

Publishes the three cameras (sensor_msgs/Image rgb8) and per-arm `joint_states_single` feedback,
and takes per-arm `joint_ctrl_single` commands like the driver does, so the policy node cannot tell
it from the robot. It also publishes /clock: the simulation runs as fast as the machine allows (at
most `real_time_factor` x wall time) and nodes with use_sim_time follow it. When the policy's planner
cannot keep up (its p90 wall-clock plan latency above `planner_budget` of a chunk), the simulation
slows down so that, in sim time, plans still arrive before the chunk runs out: the robot would
stutter, the simulated one runs slower instead, and says so (log and `~/status` real_time_factor).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from wav_core.config.loader import ConfigError, load
from wav_core.config.robot import RobotConfig
from wav_core.data.errors import MessageError
from wav_core.data.messages import joint_positions

from .config_file import resolve
from .messages import rgb_image

CLOCK_OFFSET_S = 100.0
"""Sim time starts here rather than at 0, which ROS reads as "time not set"."""


@dataclass
class SimNodeConfig:
    task: str = "drawer"
    seed: int = 0
    real_time_factor: float = 1.0
    """Upper bound on sim speed relative to wall time (0 = as fast as possible)."""
    status_hz: float = 2.0
    plan_info_topic: str = "/wav_policy/plan_info"
    """The policy's plan reports (wall-clock latency, chunk length); empty: never slow down for it."""
    planner_budget: float = 0.4
    """Fraction of a chunk's duration the p90 plan latency may take in sim time."""


def _stamp(t: float):
    from builtin_interfaces.msg import Time

    ns = int(round(t * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class SimNode(Node):
    def __init__(self, config_file: str = "", sim_cfg: SimNodeConfig | None = None, robot: RobotConfig | None = None,
                 name: str = "wav_sim", **kwargs):
        super().__init__(name, **kwargs)
        self.declare_parameter("config_file", config_file)
        path = self.get_parameter("config_file").value
        if (sim_cfg is None or robot is None) and not path:
            raise ConfigError("parameter config_file: empty; expected a YAML with robot: and sim: sections")
        if path:
            path = resolve(path, "config")
        self.robot = robot or load(RobotConfig, path, section="robot")
        self.cfg = sim_cfg or load(SimNodeConfig, path, section="sim")
        self._targets = None
        self._lock = threading.Lock()
        self.rejected = 0
        self.info: dict = {}
        self._clock_pub = self.create_publisher(Clock, "/clock", 10)
        self._cam_pubs = {c.name: self.create_publisher(Image, c.topic, qos_profile_sensor_data) for c in self.robot.cameras}
        self._fb_pubs = [self.create_publisher(JointState, a.feedback_topic, qos_profile_sensor_data) for a in self.robot.arms]
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self._instr_pub = self.create_publisher(String, self.robot.instruction_topic, latched)
        self._status_pub = self.create_publisher(String, "~/status", 10)
        for k, arm in enumerate(self.robot.arms):
            self.create_subscription(JointState, arm.command_topic, lambda m, k=k: self._on_command(m, k), 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.real_time_factor = self.cfg.real_time_factor
        """The speed limit in force: the configured one, or lower while the planner cannot keep up."""
        self._latencies: list[float] = []
        if self.cfg.plan_info_topic:
            self.create_subscription(String, self.cfg.plan_info_topic, self._on_plan_info, 10)
        self._reset_seed: int | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="wav_sim", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error

    def _on_command(self, msg: JointState, arm: int) -> None:
        cfg = self.robot.arms[arm]
        try:
            q = joint_positions(msg, cfg.joint_names, cfg.command_topic)
        except MessageError as exc:
            self.rejected += 1
            self.get_logger().warning(f"command ignored: {exc}", throttle_duration_sec=2.0)
            return
        with self._lock:
            if self._targets is not None:
                self._targets[7 * arm:7 * arm + 7] = q

    def _on_plan_info(self, msg: String) -> None:
        try:
            info = json.loads(msg.data)
            latency_s, chunk_s = float(info["latency_ms"]) / 1000, float(info["chunk_s"])
        except (ValueError, KeyError, TypeError):
            return  # not a plan report this node understands
        self._latencies = (self._latencies + [latency_s])[-20:]
        p90 = float(np.percentile(self._latencies, 90))
        cap = self.cfg.planner_budget * chunk_s / max(p90, 1e-6)
        limit = self.cfg.real_time_factor if self.cfg.real_time_factor > 0 else float("inf")
        rtf = min(limit, cap)
        if abs(rtf - (self.real_time_factor or float("inf"))) > 0.05 * rtf:
            if rtf < limit:
                self.get_logger().warning(
                    f"planner p90 latency {p90 * 1000:.0f} ms (wall) is more than {self.cfg.planner_budget:.0%} of the "
                    f"{chunk_s:.2f} s chunk: simulation slowed to real-time factor {rtf:.2f}")
            else:
                self.get_logger().info(f"planner keeps up again: real-time factor back to {limit}")
            self.real_time_factor = rtf if rtf != float("inf") else 0.0

    def _on_reset(self, request, response):
        self._reset_seed = (self.cfg.seed if self._reset_seed is None else self._reset_seed) + 1
        response.success, response.message = True, f"reset with seed {self._reset_seed}"
        return response

    def _publish_joints(self, env, t: float) -> None:
        q = env.joint_state()
        v = env.joint_velocity()
        stamp = _stamp(t)
        for k, (pub, arm) in enumerate(zip(self._fb_pubs, self.robot.arms)):
            msg = JointState()
            msg.header.stamp = stamp
            msg.name = list(arm.joint_names)
            msg.position = q[7 * k:7 * k + 7].tolist()
            msg.velocity = v[7 * k:7 * k + 7].tolist()
            pub.publish(msg)

    def _publish_cameras(self, env, t: float) -> None:
        stamp = _stamp(t)
        for name, img in env.render().items():
            self._cam_pubs[name].publish(rgb_image(img, stamp, name))

    def _reset(self, env, seed: int) -> None:
        env.reset(seed)
        with self._lock:
            self._targets = env.joint_state()
        self.info = {}

    def _run(self) -> None:
        from wav_core.sim.env import SimEnv

        try:
            env = SimEnv(self.cfg.task, self.robot)
            self._reset(env, self.cfg.seed)
        except Exception as exc:  # surfaced in the constructor
            self._error = exc
            self._ready.set()
            return
        self._instr_pub.publish(String(data=env.instruction))
        steps = max(1, int(round(1.0 / self.robot.joint_hz / env.model.opt.timestep)))
        cam_dt, status_dt = 1.0 / self.robot.camera_hz, 1.0 / self.cfg.status_hz
        next_cam = next_status = 0.0
        wall0, sim0 = time.perf_counter(), env.time
        pace_rtf = self.real_time_factor
        self._ready.set()
        try:
            while not self._stop.is_set():
                if self._reset_seed is not None and self.info.get("seed") != self._reset_seed:
                    self._reset(env, self._reset_seed)
                    self.info["seed"] = self._reset_seed
                    next_cam = next_status = 0.0
                    wall0, sim0 = time.perf_counter(), env.time
                with self._lock:
                    targets = None if self._targets is None else self._targets.copy()
                if targets is not None:
                    env.set_targets(targets)
                env.step_physics(steps)
                # Whole microseconds: sim time summed from 1/600 s steps lands just short of each
                # 5 ms boundary, which would make 200 Hz timers on this clock skip every other tick.
                t = CLOCK_OFFSET_S + round(env.time * 1e6) / 1e6
                self._clock_pub.publish(Clock(clock=_stamp(t)))
                self._publish_joints(env, t)
                if env.time >= next_cam:
                    self._publish_cameras(env, t)
                    next_cam += cam_dt
                if env.time >= next_status:
                    info = env.info()
                    self.info.update({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in info.items()})
                    self.info["time"] = env.time
                    self.info["real_time_factor"] = self.real_time_factor
                    self._status_pub.publish(String(data=json.dumps(self.info)))
                    next_status += status_dt
                rtf = self.real_time_factor
                if rtf != pace_rtf:  # a new speed limit counts from now
                    wall0, sim0, pace_rtf = time.perf_counter(), env.time, rtf
                if rtf > 0:
                    ahead = (env.time - sim0) / rtf - (time.perf_counter() - wall0)
                    if ahead > 0:
                        time.sleep(ahead)
        finally:
            env.close()

    def destroy_node(self):
        self._stop.set()
        self._thread.join(timeout=10)
        return super().destroy_node()


def make_sim_node(config_file: str = "", **kwargs) -> SimNode:
    return SimNode(config_file, **kwargs)


def main(args=None) -> None:
    from .spin import run_node

    run_node(make_sim_node, args)

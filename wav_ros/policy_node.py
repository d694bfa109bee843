"""The WAV policy as a ROS 2 lifecycle node: cameras + joint feedback in, per-arm commands out.

The node only translates between messages and the ROS-free ControlLoop (wav_core.runtime), which
evaluation and replay run too: messages are pushed into it, a timer ticks it at the decision rate,
a planning thread feeds it plans, and a 200 Hz timer publishes what `execute` returns. Output is
off until `~/enable`; `~/estop` latches it off and tells the driver on `estop_topic`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from wav_core.config.loader import ConfigError, load
from wav_core.config.robot import RobotConfig
from wav_core.runtime.config import PolicyConfig

from .config_file import resolve
from .messages import action_chunk, arm_commands, rgb_image
from .plan_markers import plan_markers

SWITCH_INTERVAL_S = 0.0005
LEVELS = {"OK": DiagnosticStatus.OK, "WARN": DiagnosticStatus.WARN, "ERROR": DiagnosticStatus.ERROR}


def latched(depth: int) -> QoSProfile:
    return QoSProfile(depth=depth, reliability=QoSReliabilityPolicy.RELIABLE,
                      durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


class PolicyNode(LifecycleNode):
    def __init__(self, config_file: str = "", policy_cfg: PolicyConfig | None = None,
                 robot: RobotConfig | None = None, policy=None, name: str = "wav_policy",
                 use_sim_time: bool | None = None, **kwargs):
        """use_sim_time None: the parameter as launched (e.g. `--ros-args -p use_sim_time:=true`)."""
        overrides = list(kwargs.pop("parameter_overrides", []))
        if use_sim_time is not None:
            overrides.append(Parameter("use_sim_time", Parameter.Type.BOOL, use_sim_time))
        super().__init__(name, parameter_overrides=overrides, **kwargs)
        self.declare_parameter("config_file", config_file)
        self.declare_parameter("dry_run", False)
        self.declare_parameter("debug_images", False)
        self._given = (policy_cfg, robot, policy)
        self.config_error = ""
        self.active = False
        self.loop = None
        self.policy = None
        self._made: list = []
        """Subscriptions, publishers and services of configure, destroyed by cleanup."""
        self._timers: list = []
        self._planner_thread = None
        self._warned: dict[str, float] = {}
        self.command_intervals: deque[float] = deque(maxlen=4000)
        self.camera_to_chunk_ms: deque[float] = deque(maxlen=200)
        self._last_exec_wall: float | None = None
        self._last_hold: str | None = None
        self._last_output = False
        self.planning_paused = threading.Event()
        """Set to keep the planner idle (benchmarks compare executor timing with and without it)."""

    # -- lifecycle -------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as exc:  # every failure: close the planner process, report, stay unconfigured
            self.config_error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (ConfigError, ValueError, OSError)) else str(exc)
            self.get_logger().error(f"configure failed: {self.config_error}")
            self._destroy_made()
            self._close_policy()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        import torch

        from wav_core.planning.policy import WAVPolicy
        from wav_core.runtime.control_loop import ControlLoop

        cfg, robot, policy = self._given
        path = self.get_parameter("config_file").value
        if (cfg is None or robot is None) and not path:
            raise ConfigError("parameter config_file: empty; expected a YAML with robot: and policy: sections")
        if path:
            path = resolve(path, "config")
        robot = robot or load(RobotConfig, path, section="robot")
        cfg = cfg or load(PolicyConfig, path, section="policy")
        cfg.planner.validate()
        if self.get_parameter("dry_run").value:
            cfg.dry_run = True
        if policy is None:
            model_dir = resolve(cfg.model, "models")
            if cfg.planner_process:
                from wav_core.runtime.remote_policy import RemotePolicy

                policy = RemotePolicy(model_dir, cfg.planner, cfg.device, cfg.backend, cfg.threads,
                                      **cfg.remote_options())
            else:
                policy = WAVPolicy.load(model_dir, cfg.planner, device=cfg.device, backend=cfg.backend)
        else:
            policy.set_planner(cfg.planner)
            if cfg.backend != policy.backend.name:
                policy.set_backend(cfg.backend)
        self.policy = policy
        self.loop = ControlLoop(cfg, robot, policy, cfg.instruction or None)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        # The planner thread's Python code holds the GIL between tensor ops; a short switch interval
        # hands it back to the 200 Hz executor timer promptly (p99 jitter 143 ms -> 13 ms measured).
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.robot, self.cfg = robot, cfg
        qos = qos_profile_sensor_data if cfg.qos == "sensor_data" else QoSProfile(depth=10)
        inputs, control = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        estop_group = MutuallyExclusiveCallbackGroup()
        made = self._made
        for cam in robot.cameras:
            mtype = Image if cam.msg_type == "image" else CompressedImage
            made.append(self.create_subscription(mtype, cam.topic, lambda m, t=cam.topic: self._on_input(m, t), qos,
                                                 callback_group=inputs))
        joint_topics = [robot.joint_state_topic] if robot.joint_state_topic else [a.feedback_topic for a in robot.arms]
        for topic in joint_topics:
            made.append(self.create_subscription(JointState, topic, lambda m, t=topic: self._on_input(m, t), qos,
                                                 callback_group=control))
        if cfg.dry_run:
            self._preview_pub = self.create_publisher(JointState, "~/command_preview", 10)
            self._cmd_pubs = []
            made.append(self._preview_pub)
        else:
            self._cmd_pubs = [self.create_publisher(JointState, arm.command_topic, 10) for arm in robot.arms]
            made += self._cmd_pubs
        from wav_core.runtime.plan_view import PlanView

        # What the policy intends, for RViz / Foxglove: the planned tool-point paths, the commanded
        # pose (a second robot model) and, with debug_images, the frames the model was fed.
        self._view = PlanView(robot.joint_names, [a.name for a in robot.arms])
        self._markers_pub = self.create_publisher(MarkerArray, "~/plan_markers", 10)
        self._commanded_pub = self.create_publisher(JointState, "~/commanded_joint_states", 10)
        made += [self._markers_pub, self._commanded_pub]
        self._input_pubs = {}
        if self.get_parameter("debug_images").value:
            self._input_pubs = {v: self.create_publisher(Image, f"~/model_input/{v}", 10) for v in policy.cfg.views}
            made += list(self._input_pubs.values())
        self._last_command = None
        self._chunk_pub = self.create_publisher(JointTrajectory, "~/action_chunk", 10)
        self._info_pub = self.create_publisher(String, "~/plan_info", 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        made += [self._chunk_pub, self._info_pub, self._diag_pub]
        self._estop_pub = None
        if cfg.estop_topic:
            self._estop_pub = self.create_publisher(Bool, cfg.estop_topic, latched(1))
            made.append(self._estop_pub)
        if cfg.driver_events_topic:
            made.append(self.create_subscription(String, cfg.driver_events_topic, self._on_driver_event, latched(10),
                                                 callback_group=control))
        made.append(self.create_service(SetBool, "~/enable", self._on_enable, callback_group=control))
        made.append(self.create_service(Trigger, "~/estop", self._on_estop, callback_group=estop_group))
        self.get_logger().info(f"configured: model with cameras {list(policy.cfg.views)}, "
                               f"K={cfg.planner.K} M={cfg.planner.M} N={cfg.planner.N}, "
                               f"{'DRY RUN (commands on ~/command_preview), ' if cfg.dry_run else ''}"
                               "output disabled until ~/enable")

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        from wav_core.runtime.control_loop_planner import PlanThread

        tick_group, exec_group, diag_group = (MutuallyExclusiveCallbackGroup() for _ in range(3))
        self._timers = [
            self.create_timer(1.0 / self.robot.tick_hz, self._on_tick, callback_group=tick_group),
            self.create_timer(1.0 / self.cfg.executor.rate_hz, self._on_execute, callback_group=exec_group),
            self.create_timer(1.0 / self.cfg.diagnostics_hz, self._publish_diagnostics, callback_group=diag_group),
        ]
        self._planner_thread = PlanThread(self.loop, self._now, self._on_plan,
                                          lambda text: self._warn("plan", text))
        self._planner_thread.paused = self.planning_paused
        self._planner_thread.start()
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        # Closing the planner first returns a plan in flight at once, so the halt never waits for a
        # hung planner's deadline.
        self._close_policy()
        self._halt()
        self._destroy_made()
        self.loop = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self):
        self._close_policy()
        self._halt()
        return super().destroy_node()

    def _halt(self) -> None:
        self.active = False
        if self.loop is not None:
            self.loop.disable()
        for t in self._timers:
            self.destroy_timer(t)
        self._timers = []
        if self._planner_thread is not None:
            self._planner_thread.stop()
            self._planner_thread = None

    def _destroy_made(self) -> None:
        from rclpy.publisher import Publisher
        from rclpy.service import Service
        from rclpy.subscription import Subscription

        for entity in self._made:
            if isinstance(entity, Subscription):
                self.destroy_subscription(entity)
            elif isinstance(entity, Publisher):
                self.destroy_publisher(entity)
            elif isinstance(entity, Service):
                self.destroy_service(entity)
        self._made = []

    def _close_policy(self) -> None:
        close = getattr(self.policy, "close", None)
        if callable(close):
            close()
        self.policy = None

    # -- inputs ----------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _warn(self, key: str, text: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -1e9) > 2.0:
            self._warned[key] = now
            self.get_logger().warning(text)

    def _on_input(self, msg, topic: str) -> None:
        loop = self.loop
        if loop is not None and not loop.push(topic, msg, self._now()):
            self._warn(f"drop:{topic}", loop.last_error)

    def _on_tick(self) -> None:
        loop = self.loop
        if loop is None:
            return
        if self._last_command is not None:
            msg = JointState(name=list(self.robot.joint_names), position=self._last_command.tolist())
            msg.header.stamp = self.get_clock().now().to_msg()
            self._commanded_pub.publish(msg)
        jumps = loop.counters["clock_jump_back"]
        if not loop.tick(self._now()) and loop.counters["clock_jump_back"] > jumps:
            self._warn("clock", loop.last_error)

    def _on_driver_event(self, msg: String) -> None:
        try:
            done = self.loop.driver_event(msg.data, self._now())
        except ValueError as exc:
            self._warn("driver_event", f"{self.cfg.driver_events_topic}: {exc}")
            return
        self.get_logger().info(f"driver event: {done}")

    # -- planning ----------------------------------------------------------------------------------
    def _on_plan(self, info: dict, chunk) -> None:
        stamp = self.get_clock().now().to_msg()
        self._chunk_pub.publish(action_chunk(self.robot, chunk.actions, self.robot.tick_hz, stamp))
        self.camera_to_chunk_ms.append(info["camera_to_chunk_ms"])
        self._info_pub.publish(String(data=json.dumps(info)))
        self._markers_pub.publish(plan_markers(self._view, chunk.actions, chunk.plan.values[:, -1], stamp))
        loop = self.loop
        if self._input_pubs and loop is not None and len(loop.runtime.history):
            with loop.lock:
                images = loop.runtime.history.stack()  # [V, n_history, h, w, 3]: what the model reads
            for k, (view, pub) in enumerate(self._input_pubs.items()):
                pub.publish(rgb_image(images[k, -1], stamp, view))

    # -- output ----------------------------------------------------------------------------------
    def _on_execute(self) -> None:
        wall = time.perf_counter()
        if self._last_exec_wall is not None:
            self.command_intervals.append((wall - self._last_exec_wall) * 1000)
        self._last_exec_wall = wall
        if not self.active or self.loop is None:
            return
        out = self.loop.execute(self._now())
        if out.hold and out.hold != self._last_hold:
            if out.command is not None:
                self._warn(f"hold:{out.hold}", f"holding position: {out.hold}")
            elif self._last_output:
                self.get_logger().error(f"command output stopped: {out.hold}")
        self._last_hold, self._last_output = out.hold, out.command is not None
        if out.command is None:
            return
        self._last_command = out.command
        stamp = self.get_clock().now().to_msg()
        if self.loop.dry_run:
            msg = JointState(name=list(self.robot.joint_names), position=out.command.tolist())
            msg.header.stamp = stamp
            self._preview_pub.publish(msg)
            return
        for pub, msg in zip(self._cmd_pubs, arm_commands(self.robot, out.command, stamp)):
            pub.publish(msg)

    def enable(self, on: bool = True) -> tuple[bool, str]:
        """Gate the command output; enabling starts from the measured position with a fresh plan."""
        if self.loop is None:
            return False, "node is not configured"
        if not on:
            self.loop.disable()
            return True, "command output disabled"
        if not self.active:
            return False, "node is not active; configure and activate it first"
        ok, msg = self.loop.enable(self._now())
        if ok and self._estop_pub is not None:
            self._estop_pub.publish(Bool(data=False))
        return ok, msg

    def estop(self) -> None:
        if self.loop is not None:
            self.loop.estop()
        if getattr(self, "_estop_pub", None) is not None:
            self._estop_pub.publish(Bool(data=True))
        self.get_logger().warning("e-stop: command output stopped until ~/enable")

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        response.success, response.message = self.enable(request.data)
        if request.data and not response.success:
            self.get_logger().warning(f"enable refused: {response.message}")
        return response

    def _on_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.estop()
        response.success, response.message = True, "stopped; call ~/enable to resume"
        return response

    # -- state, diagnostics ------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.loop is not None and self.loop.enabled

    @property
    def estopped(self) -> bool:
        return self.loop is not None and self.loop.estopped

    @property
    def plan_latencies(self):
        return self.loop.plan_latencies_ms if self.loop is not None else ()

    def status(self) -> dict:
        iv = np.asarray(self.command_intervals) if self.command_intervals else np.zeros(1)
        st = self.loop.status(self._now()) if self.loop is not None else {"enabled": False, "estopped": False}
        st.update(command_interval_p50_ms=float(np.percentile(iv, 50)),
                  command_interval_p99_ms=float(np.percentile(iv, 99)), dry_run=bool(self.loop and self.loop.dry_run))
        return st

    def _publish_diagnostics(self) -> None:
        st = self.status()
        level = DiagnosticStatus.OK
        if any(k in ("plan_late", "joint_feedback_stale") or k.startswith("camera_stale") for k in st.get("holds", {})):
            level = DiagnosticStatus.WARN
        latched = not self.enabled and st.get("off_reason", "").startswith(("tracking_error", "re-anchor refused", "driver"))
        if self.estopped or latched:
            level = DiagnosticStatus.ERROR
        message = "e-stop latched" if self.estopped else ("enabled" if self.enabled else f"disabled ({st.get('off_reason')})")
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: policy", hardware_id="wav", message=message)
        status.values = [KeyValue(key=k, value=json.dumps(v) if not isinstance(v, str) else v) for k, v in st.items()]
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [status]
        health = getattr(self.policy, "health", None)
        if callable(health):
            try:
                lvl, text = health()
            except Exception as exc:  # a broken health probe is itself an error to report
                lvl, text = "ERROR", f"health check failed: {type(exc).__name__}: {exc}"
            arr.status.append(DiagnosticStatus(level=LEVELS.get(lvl, DiagnosticStatus.ERROR),
                                               name=f"{self.get_name()}: planner process", hardware_id="wav",
                                               message=str(text) if lvl in LEVELS else f"unknown level {lvl!r}: {text}"))
        self._diag_pub.publish(arr)


def make_policy_node(config_file: str = "", **kwargs) -> PolicyNode:
    """The single constructor both `wav run` and the launch files' executables use."""
    return PolicyNode(config_file, **kwargs)


def main(args=None) -> None:
    from .spin import run_node

    run_node(make_policy_node, args)

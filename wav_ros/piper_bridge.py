"""Dual-arm Piper driver node: `joint_ctrl_single` commands in, `joint_states_single` feedback out.

A drop-in for two piper_ros nodes (one per arm, same topics and units) with the safety rules the
policy relies on: joints are looked up by name and a missing name rejects the command (never a
zero), commands older than `command_max_age_s` are never sent, everything is clamped to the arm's
limits, and a lost bus stops sending, reports ERROR on /diagnostics and reconnects with back-off.

Services (SetBool / Trigger):
  ~/enable, ~/<arm>/enable   enable (true) or disable (false: DisableArm, motors unpowered) all arms / one arm
  ~/estop                    EmergencyStop(0x01) on every arm: the firmware damps the motors and the arm
                             sinks slowly; latched until ~/reset. Chosen over holding the pose with
                             powered motors (which could keep a person pinned) and over cutting power
                             (a free fall): it is the firmware's own stop, and no command moves the arm
                             until a reset and an enable
  ~/reset                    ResetPiper() on every arm: clears an e-stop, cuts motor power (the arm drops)
  ~/go_home                  move every arm slowly to wav_core.robot.piper.HOME
Recovery after an e-stop: call ~/reset, then ~/enable (true).

Re-arming: after any enable, bus recovery, reset, e-stop or go-home an arm is disarmed and takes
only a first command within `rearm_*_tolerance` of its measured position (see piper_arm).

Topics besides the per-arm commands and feedback:
  ~/arm_events (std_msgs/String, reliable + transient_local, depth 10): one JSON message per arm
      per event, {"arm": "left", "event": "enabled"|"disabled"|"recovered"|"homed"|"estop"|"reset",
      "armed": bool, "seq": int}; seq counts every message of the node from 1.
  `estop_topic` (std_msgs/Bool, default /wav/estop, reliable + transient_local, depth 1): True
      e-stops every arm like ~/estop and latches; False only releases that latch. While it is
      latched ~/enable is refused; after a False the arms still need ~/reset, then ~/enable.

Run: `wav driver run --config config/piper_bridge.yaml`, or the node's `main()` with ROS
parameters `config_file` (path) and `config_section` (default "driver"). Without hardware:
`wav driver sim` (simulated arms in the same process).

Executors: feedback is published from the node's own thread, so it keeps flowing whatever the
executor does. With a MultiThreadedExecutor (the default of `main()`), a slow or failing enable
never delays ~/estop or commands; a SingleThreadedExecutor (`wav driver run --executor single`)
has lower command latency in rclpy but runs services inline (see `wav driver bench --executor both`).
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from wav_core.config import load
from wav_core.config.driver import DriverConfig
from wav_core.data.errors import MessageError
from wav_core.data.messages import joint_positions
from wav_core.robot.piper import ARMS, HOME

from .piper_arm import ArmEnableError, PiperArmLink

GRIPPER_HOME_SPEED_RATIO = 0.1
"""Gripper speed (m/s) per joint speed (rad/s) while going home."""

ARM_EVENTS_TOPIC = "~/arm_events"
ARM_EVENTS = ("enabled", "disabled", "recovered", "homed", "estop", "reset")
ARM_EVENTS_QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
ESTOP_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)


def stamp_to_msg(t: float) -> TimeMsg:
    sec = int(t)
    return TimeMsg(sec=sec, nanosec=int(round((t - sec) * 1e9)) % 1_000_000_000)


def msg_to_seconds(stamp: TimeMsg) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class _HomePlan:
    """Smooth interpolation from the pose at the request to HOME at a bounded speed."""

    def __init__(self, start: np.ndarray, goal: np.ndarray, speed: float, t0: float) -> None:
        delta = np.abs(goal - start)
        self.start, self.goal, self.t0 = start, goal, t0
        self.duration = max(float(np.max(delta[:6])) / speed, float(delta[6]) / (speed * GRIPPER_HOME_SPEED_RATIO), 0.1)

    def at(self, t: float) -> tuple[np.ndarray, bool]:
        s = min(1.0, max(0.0, (t - self.t0) / self.duration))
        smooth = s * s * (3.0 - 2.0 * s)
        return self.start + (self.goal - self.start) * smooth, s >= 1.0


class PiperBridge(Node):
    """The driver node; build it with `make_piper_bridge(config)` or from ROS parameters."""

    def __init__(
        self,
        config: DriverConfig | None = None,
        *,
        node_name: str = "piper_bridge",
        namespace: str | None = None,
        context: Context | None = None,
        parameter_overrides: list | None = None,
    ) -> None:
        super().__init__(node_name, namespace=namespace, context=context, parameter_overrides=parameter_overrides)
        self.declare_parameter("config_file", "")
        self.declare_parameter("config_section", "driver")
        self.config = config if config is not None else self._config_from_parameters()
        cfg = self.config
        self.links: dict[str, PiperArmLink] = {a.name: PiperArmLink(a, cfg, self.get_logger()) for a in cfg.arms}
        self._homes: dict[str, _HomePlan] = {}
        self._last_published: dict[str, float] = {name: 0.0 for name in self.links}
        # child loggers per arm: a throttled warning of one arm never hides the other's
        self._arm_log = {name: self.get_logger().get_child(name) for name in self.links}
        self._events_pub = self.create_publisher(String, ARM_EVENTS_TOPIC, ARM_EVENTS_QOS)
        self._event_lock = threading.Lock()
        self._event_seq = 0
        self._policy_estop = False
        """The policy's e-stop request on `estop_topic` is latched (True received, no False since)."""
        try:
            for link in self.links.values():
                link.connect()
            if cfg.enable_on_start:
                for link in self.links.values():
                    link.enable()
                    self._event(link.name, "enabled")
        except Exception:
            for link in self.links.values():
                link.close()
            super().destroy_node()
            raise

        # One group per arm keeps each arm's commands in order while the arms, the feedback
        # timer and the (possibly slow) services never wait for each other.
        control = MutuallyExclusiveCallbackGroup()
        supervision = MutuallyExclusiveCallbackGroup()
        self._feedback_pubs = {a.name: self.create_publisher(JointState, a.feedback_topic, 10) for a in cfg.arms}
        self._diag_pub = self.create_publisher(DiagnosticArray, cfg.diagnostics_topic, 10)
        for a in cfg.arms:
            self.create_subscription(
                JointState, a.command_topic, lambda msg, name=a.name: self._on_command(name, msg), 10,
                callback_group=MutuallyExclusiveCallbackGroup(),
            )
            self.create_service(
                SetBool, f"~/{a.name}/enable", lambda req, res, name=a.name: self._on_enable(req, res, [name]),
                callback_group=control,
            )
        self.create_service(SetBool, "~/enable", lambda req, res: self._on_enable(req, res, list(self.links)),
                            callback_group=control)
        # e-stop gets its own group so it is never queued behind a slow enable
        self.create_service(Trigger, "~/estop", self._on_estop, callback_group=MutuallyExclusiveCallbackGroup())
        self.create_service(Trigger, "~/reset", self._on_reset, callback_group=control)
        self.create_service(Trigger, "~/go_home", self._on_go_home, callback_group=control)
        if cfg.estop_topic:
            self.create_subscription(Bool, cfg.estop_topic, self._on_policy_estop, ESTOP_QOS,
                                     callback_group=MutuallyExclusiveCallbackGroup())
        self.create_timer(1.0 / cfg.go_home_hz, self._step_home, callback_group=MutuallyExclusiveCallbackGroup())
        self.create_timer(1.0 / cfg.supervise_hz, self._supervise, callback_group=supervision)
        self.create_timer(1.0 / cfg.diagnostics_hz, self._publish_diagnostics, callback_group=supervision)
        # Feedback has its own thread rather than a 200 Hz executor timer: it keeps its rate when
        # the executor is busy with commands, and it is the executor's largest load otherwise.
        self._feedback_stop = threading.Event()
        self._feedback_thread = threading.Thread(target=self._feedback_loop, name=f"{node_name}-feedback", daemon=True)
        self._feedback_thread.start()
        self.get_logger().info(
            f"piper bridge up: arms {[f'{a.name}@{a.can_port}' for a in cfg.arms]}, "
            f"commands {[a.command_topic for a in cfg.arms]}, feedback {[a.feedback_topic for a in cfg.arms]}, "
            f"e-stop topic {cfg.estop_topic or '(off)'}; "
            + ("arms enabled and disarmed" if cfg.enable_on_start else "arms disabled until ~/enable")
        )

    def _config_from_parameters(self) -> DriverConfig:
        path = self.get_parameter("config_file").value
        section = self.get_parameter("config_section").value
        if not path:
            self.get_logger().warning("parameter config_file is empty: using the default driver config")
            return DriverConfig()
        return load(DriverConfig, path, section=section or None)

    # -- commands and feedback ------------------------------------------------------------------------
    def _on_command(self, arm: str, msg: JointState) -> None:
        link = self.links[arm]
        cfg = self.config
        topic = cfg.arm(arm).command_topic
        try:
            q = joint_positions(msg, link.arm.joint_names, topic)
        except MessageError as exc:
            text = str(exc)
            reason = "missing_name" if exc.field == "name" else "non_finite" if "non-finite" in text else "invalid"
            link.reject(reason)
            self.get_logger().warning(f"{topic}: command rejected: {exc}", throttle_duration_sec=cfg.warn_throttle_s)
            return
        if msg.header.stamp.sec != 0 or msg.header.stamp.nanosec != 0:
            age = self.get_clock().now().nanoseconds * 1e-9 - msg_to_seconds(msg.header.stamp)
            if abs(age) > cfg.command_max_age_s:
                link.reject("stale")
                self.get_logger().warning(
                    f"{topic}: command rejected: stamp is {age:.3f} s old (limit {cfg.command_max_age_s} s)",
                    throttle_duration_sec=cfg.warn_throttle_s,
                )
                return
        result = link.submit(q)
        log = self._arm_log[arm]
        if result.reason == "far_from_measured":
            log.warning(f"arm {arm} ({topic}): command rejected: {result.detail}",
                        throttle_duration_sec=cfg.warn_throttle_s)
        elif not result.sent:
            log.warning(f"arm {arm} ({topic}): command not sent: {result.reason}",
                        throttle_duration_sec=cfg.warn_throttle_s)
        elif result.clamped:
            log.warning(f"arm {arm} ({topic}): clamped {result.clamped} to the arm limits",
                        throttle_duration_sec=cfg.warn_throttle_s)

    def _feedback_loop(self) -> None:
        period = 1.0 / self.config.feedback_hz
        next_t = time.monotonic()
        while not self._feedback_stop.wait(max(0.0, next_t - time.monotonic())):
            next_t += period
            if next_t < time.monotonic() - period:
                next_t = time.monotonic()  # fell behind: skip rather than burst
            try:
                self._publish_feedback()
            except Exception as exc:  # a publisher torn down during shutdown (destroy_node or Ctrl-C)
                if self._feedback_stop.is_set() or not self.context.ok():
                    return
                self.get_logger().error(f"feedback publishing failed: {exc}", throttle_duration_sec=1.0)

    def _publish_feedback(self) -> None:
        for name, link in self.links.items():
            fb = link.feedback()
            if fb is None:
                continue
            q, stamp = fb
            if stamp <= self._last_published[name]:
                continue  # nothing new from the arm: republishing would fake freshness
            self._last_published[name] = stamp
            msg = JointState()
            msg.header.stamp = stamp_to_msg(stamp)
            msg.name = list(link.arm.joint_names)
            msg.position = q.tolist()
            self._feedback_pubs[name].publish(msg)

    # -- arm events -----------------------------------------------------------------------------------
    def _event(self, arm: str, event: str) -> None:
        """Publish one state change of one arm on ~/arm_events (the JSON contract in the module doc)."""
        if event not in ARM_EVENTS:
            raise ValueError(f"arm event: got {event!r}, expected one of {ARM_EVENTS}")
        with self._event_lock:
            self._event_seq += 1
            msg = String(data=json.dumps({"arm": arm, "event": event, "armed": bool(self.links[arm].armed),
                                          "seq": self._event_seq}))
            self._events_pub.publish(msg)

    # -- e-stop ---------------------------------------------------------------------------------------
    def _estop_all(self, source: str) -> None:
        self._homes.clear()
        for link in self.links.values():
            link.estop()
        for name in self.links:
            self._event(name, "estop")
        self.get_logger().warning(
            f"EMERGENCY STOP from {source}: every arm e-stopped; recover with ~/reset then ~/enable"
        )

    def _on_policy_estop(self, msg: Bool) -> None:
        topic = self.config.estop_topic
        if msg.data:
            if not self._policy_estop:
                self._policy_estop = True
                self._estop_all(f"{topic} (true)")
            return
        if self._policy_estop:
            self._policy_estop = False
            self.get_logger().warning(f"{topic}: e-stop released by the policy; the arms stay stopped until "
                                      "~/reset then ~/enable")

    # -- services -----------------------------------------------------------------------------------
    def _on_enable(self, req: SetBool.Request, res: SetBool.Response, arms: list[str]) -> SetBool.Response:
        if req.data and self._policy_estop:
            res.success = False
            res.message = (f"e-stop latched by {self.config.estop_topic} (true): the policy must publish false "
                           "first; then ~/reset and ~/enable")
            return res
        errors = []
        for name in arms:
            link = self.links[name]
            if req.data:
                try:
                    link.enable()
                except ArmEnableError as exc:
                    errors.append(str(exc))
                else:
                    self._event(name, "enabled")
            else:
                self._homes.pop(name, None)
                link.disable()
                self._event(name, "disabled")
        res.success = not errors
        res.message = "; ".join(errors) if errors else f"{'enabled' if req.data else 'disabled'} {arms}"
        return res

    def _on_estop(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        self._estop_all("~/estop")
        res.success = True
        res.message = f"e-stopped {list(self.links)}; recover with ~/reset then ~/enable"
        return res

    def _on_reset(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        self._homes.clear()
        for name, link in self.links.items():
            link.reset()
            self._event(name, "reset")
        res.success = True
        res.message = f"reset {list(self.links)}: motors unpowered; call ~/enable"
        if self._policy_estop:
            res.message += f" once {self.config.estop_topic} is released"
        return res

    def _on_go_home(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        problems = []
        for name, link in self.links.items():
            reason = link.refusal()
            fb = link.feedback()
            if reason is not None or fb is None:
                problems.append(f"{name}: {reason or 'no feedback'}")
        if problems:
            res.success = False
            res.message = f"cannot go home: {', '.join(problems)}"
            return res
        now = time.monotonic()
        durations = []
        for name, link in self.links.items():
            k = ARMS.index(name) if name in ARMS else 0
            goal = HOME[7 * k : 7 * k + 7]
            plan = _HomePlan(link.feedback()[0], goal, self.config.go_home_speed, now)
            self._homes[name] = plan
            link.disarm()
            link.homing = True
            durations.append(plan.duration)
        res.success = True
        res.message = f"going home at {self.config.go_home_speed} rad/s, about {max(durations):.1f} s"
        return res

    def _step_home(self) -> None:
        if not self._homes:
            return
        now = time.monotonic()
        for name in list(self._homes):
            link = self.links[name]
            plan = self._homes.get(name)
            if plan is None:
                continue
            if not link.homing:
                self._homes.pop(name, None)  # cancelled by e-stop, reset, disable or a fault
                continue
            q, done = plan.at(now)
            result = link.submit(q, homing_command=True)
            if not result.sent:
                self.get_logger().error(f"arm {name}: go-home aborted ({result.reason})")
                link.homing = False
                self._homes.pop(name, None)
            elif done:
                link.homing = False
                link.disarm()
                self._homes.pop(name, None)
                self._event(name, "homed")
                self.get_logger().info(f"arm {name}: home; disarmed until a command within tolerance of HOME")

    # -- supervision --------------------------------------------------------------------------------
    def _supervise(self) -> None:
        for name, link in self.links.items():
            change = link.supervise()
            if change == "fault":
                self._publish_diagnostics()
            elif change == "recovered":
                self._event(name, "recovered")
            elif change == "estop":
                self._homes.pop(name, None)
                self._event(name, "estop")

    def _publish_diagnostics(self) -> None:
        now = time.time()
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for name, link in self.links.items():
            st = link.status(now)
            status = DiagnosticStatus()
            status.name = f"{self.get_name()}: {name} arm"
            status.hardware_id = st["can_port"]
            if st["fault"]:
                status.level, status.message = DiagnosticStatus.ERROR, f"CAN fault: {st['fault']}"
            elif st["estopped"]:
                status.level, status.message = DiagnosticStatus.WARN, "e-stopped: call ~/reset then ~/enable"
            elif not st["enabled"]:
                status.level, status.message = DiagnosticStatus.WARN, "disabled"
            elif st["homing"]:
                status.level, status.message = DiagnosticStatus.OK, "homing"
            elif not st["armed"]:
                status.level = DiagnosticStatus.OK
                status.message = "enabled, disarmed: waiting for a command at the measured position"
            else:
                status.level, status.message = DiagnosticStatus.OK, "enabled"
            st["policy_estop"] = self._policy_estop
            values = {k: v for k, v in st.items() if k != "rejected_by_reason"}
            values.update({f"rejected_{reason}": n for reason, n in st["rejected_by_reason"].items()})
            status.values = [KeyValue(key=k, value=_fmt(v)) for k, v in values.items()]
            array.status.append(status)
        self._diag_pub.publish(array)

    def destroy_node(self) -> None:
        self._feedback_stop.set()
        if self._feedback_thread.is_alive() and self._feedback_thread is not threading.current_thread():
            self._feedback_thread.join(timeout=2.0)
        for link in self.links.values():
            link.close()
        super().destroy_node()


def _fmt(v) -> str:
    if isinstance(v, float):
        return "inf" if not np.isfinite(v) else f"{v:.4f}"
    return str(v)


def make_piper_bridge(
    config: DriverConfig, *, node_name: str = "piper_bridge", namespace: str | None = None, context: Context | None = None
) -> PiperBridge:
    """Build the node in-process from a config object (one-process launchers, tests, benchmarks)."""
    return PiperBridge(config, node_name=node_name, namespace=namespace, context=context)


def main(args: list[str] | None = None) -> None:
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    rclpy.init(args=args)
    node = None
    try:
        node = PiperBridge()
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, ArmEnableError) as exc:
        rclpy.logging.get_logger("piper_bridge").fatal(str(exc))
        raise SystemExit(1) from None
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()

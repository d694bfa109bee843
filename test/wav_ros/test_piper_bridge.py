"""The Piper driver node against two simulated arms on python-can's virtual bus, over real DDS.

Each test starts its own rclpy context on a private domain id, two `VirtualPiperArm`s on unique
virtual channels and the bridge, then talks to it only through topics and services, the way the
policy and an operator do. An enabled arm is disarmed until a command at its measured position
arrives, so the tests arm it that way (`Rig.rearm`) before they stream targets.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from wav_core.config import ConfigError, load
from wav_core.config.driver import DriverArmConfig, DriverConfig
from wav_core.robot.piper import ARM_JOINT_NAMES, HOME, JOINT_UPPER, GRIPPER_MAX_M
from wav_core.robot.virtual_arm import VirtualPiperArm
from wav_test_support import wait_for
from wav_ros.piper_arm import ArmEnableError
from wav_ros.piper_bridge import ARM_EVENTS_QOS, ESTOP_QOS, make_piper_bridge

# piper_sdk 0.6.2 still passes python-can the deprecated `bustype` argument
pytestmark = pytest.mark.filterwarnings("ignore:The 'bustype' argument is deprecated:DeprecationWarning")

JOINT_TOL = 2e-3  # rad: 1 millidegree quantisation plus the last control period
GRIPPER_TOL = 1e-4  # m
WAIT = 10.0  # s: liveness bound on a shared, loaded machine; never a performance claim


def _domain_id() -> int:
    return 100 + (os.getpid() + threading.get_ident()) % 100


def make_config(fresh_ports: bool = False, **overrides) -> DriverConfig:
    # piper_sdk keeps one interface object (with its threads) per port name for the life of the
    # process, so the tests reuse one pair of names; each test's arms are closed before the next.
    # A reused interface may need up to a second to read from its new bus, hence `fresh_ports`
    # where a test runs on a short enable timeout.
    uid = uuid.uuid4().hex[:8] if fresh_ports else f"t{os.getpid()}"
    arms = [
        DriverArmConfig("left", f"vcan_left_{uid}", "/left/joint_ctrl_single", "/left/joint_states_single"),
        DriverArmConfig("right", f"vcan_right_{uid}", "/right/joint_ctrl_single", "/right/joint_states_single"),
    ]
    # a 1 s feedback timeout and a 2 s command age: a loaded test machine must neither fake a lost
    # bus (each fault disarms) nor turn a just-published command into a stale one (DDS delivery
    # inside one busy process has taken over 0.1 s); the stale test stamps its command far older
    base = dict(arms=arms, bustype="virtual", speed_percent=100, feedback_timeout_s=1.0, command_max_age_s=2.0,
                reconnect_initial_s=0.1, reconnect_max_s=0.5, diagnostics_hz=10.0, enable_on_start=True)
    base.update(overrides)
    return DriverConfig(**base)


@dataclass
class Rig:
    config: DriverConfig
    arms: dict[str, VirtualPiperArm]
    bridge: object
    client: Node
    feedback: dict[str, JointState] = field(default_factory=dict)
    diagnostics: dict[str, DiagnosticStatus] = field(default_factory=dict)
    publishers: dict = field(default_factory=dict)
    history: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Every feedback position received per arm (tests clear it before what they watch)."""
    events: list[dict] = field(default_factory=list)
    """~/arm_events messages, decoded, in arrival order."""
    estop_pub: object = None

    def on_feedback(self, arm: str, msg: JointState) -> None:
        self.feedback[arm] = msg
        self.history.setdefault(arm, []).append(self.q(arm))

    def events_of(self, arm: str) -> list[str]:
        return [e["event"] for e in list(self.events) if e["arm"] == arm]

    def handled(self, arm: str) -> int:
        """Commands the arm's link has sent or refused so far."""
        link = self.bridge.links[arm]
        return link.sent + sum(link.rejected.values())

    def send(self, arm: str, q, stamp_age: float | None = None) -> None:
        """Publish one command and wait until the driver has sent or refused it.

        Helpers that publish many commands go through here, so none of theirs is still in flight
        when a test goes on to count the refusals of its own. Unstamped by default (receipt time):
        a loaded machine cannot make it stale.
        """
        n = self.handled(arm)
        self.command(arm, q, stamp_age=stamp_age)
        assert wait_for(lambda: self.handled(arm) > n), f"arm {arm}: a command was neither sent nor rejected"

    def rearm(self, arm: str) -> None:
        """Arm a disarmed arm as a policy does: command the measured position until it is accepted.

        On return the accepted command has reached the firmware and the arm stands there (a 0.5 mrad
        offset on joint6 tells it from the pose the driver holds on enable).
        """
        link, firmware = self.bridge.links[arm], self.arms[arm]
        for _ in range(20):
            self.send(arm, self.q(arm) + np.array([0.0, 0.0, 0.0, 0.0, 0.0, 5e-4, 0.0]))
            if link.armed:
                sent = link.last_sent

                def there() -> bool:
                    st = firmware.state()
                    return np.allclose(st.last_joint_command, sent[:6], atol=1e-4) and np.allclose(
                        st.positions, st.targets, atol=1e-9)

                assert wait_for(there), (firmware.state(), sent)
                return
        raise AssertionError(f"arm {arm} did not arm on its measured pose: {link.last_rejection}")

    def landed(self, arm: str) -> None:
        """Wait until every set-point the driver wrote (commands, enable's holds, go-home's path) has
        reached the firmware, so a count taken next is not overtaken by one still on the bus."""
        link, firmware = self.bridge.links[arm], self.arms[arm]
        assert wait_for(lambda: firmware.state().joint_commands == link.joint_frames), \
            (firmware.state().joint_commands, link.joint_frames)

    def settle(self, arm: str) -> None:
        """Wait until the arm stands still at its target and the feedback shows that pose.

        Feedback on one subscription arrives in order, so from here on the history holds only what
        happens next (`track` returns within tolerance, while the arm may still creep toward it).
        """
        firmware = self.arms[arm]
        assert wait_for(lambda: np.allclose(firmware.state().positions, firmware.state().targets, atol=1e-9)), \
            firmware.state()
        assert wait_for(lambda: np.allclose(self.q(arm), firmware.state().positions, atol=1e-4)), \
            (self.q(arm), firmware.state())

    def command_until(self, arm: str, q, done) -> bool:
        """Send `q` (or `q()`), one command at a time, until `done()` holds."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.send(arm, q() if callable(q) else q)
            if done():
                return True
            time.sleep(0.02)
        return False

    def rejected(self, arm: str, reason: str) -> int:
        return int(self.bridge.links[arm].rejected[reason])

    def q(self, arm: str) -> np.ndarray | None:
        msg = self.feedback.get(arm)
        if msg is None:
            return None
        index = {n: i for i, n in enumerate(msg.name)}
        return np.array([msg.position[index[n]] for n in ARM_JOINT_NAMES])

    def command(self, arm: str, q, names=ARM_JOINT_NAMES, stamp_age: float | None = 0.0) -> None:
        msg = JointState()
        if stamp_age is not None:
            t = self.client.get_clock().now().nanoseconds * 1e-9 - stamp_age
            msg.header.stamp.sec = int(t)
            msg.header.stamp.nanosec = int((t - int(t)) * 1e9)
        msg.name = list(names)
        msg.position = [float(v) for v in q]
        self.publishers[arm].publish(msg)

    def call(self, srv_type, name: str, request):
        cli = self.client.create_client(srv_type, f"/{self.bridge.get_name()}/{name}")
        assert cli.wait_for_service(timeout_sec=WAIT), name
        future = cli.call_async(request)
        assert wait_for(future.done), f"service {name} did not answer"
        self.client.destroy_client(cli)
        return future.result()

    def diag_value(self, arm: str, key: str) -> str | None:
        st = self.diagnostics.get(arm)
        if st is None:
            return None
        return {kv.key: kv.value for kv in st.values}.get(key)

    def reaches(self, arm: str, target, tol=JOINT_TOL) -> bool:
        target = np.asarray(target, dtype=float)

        def close() -> bool:
            q = self.q(arm)
            return q is not None and np.all(np.abs(q[:6] - target[:6]) < tol) and abs(q[6] - target[6]) < GRIPPER_TOL

        return wait_for(close)

    def track(self, arm: str, target) -> bool:
        """Stream a target (fresh stamps, like a policy) until the feedback reaches it.

        Like a policy, it re-arms from the measured pose when the arm was disarmed on the way (on a
        loaded machine the feedback can go stale long enough for a fault and a recovery).
        """
        target = np.asarray(target, dtype=float)
        link = self.bridge.links[arm]
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if not link.armed and link.refusal() is None:
                self.rearm(arm)
            self.send(arm, target, stamp_age=0.0)
            q = self.q(arm)
            if q is not None and np.all(np.abs(q[:6] - target[:6]) < JOINT_TOL) and abs(q[6] - target[6]) < GRIPPER_TOL:
                return True
            time.sleep(0.02)
        return False


@contextmanager
def running_bridge(config: DriverConfig | None = None, **arm_kwargs):
    config = config or make_config()
    ctx = Context()
    rclpy.init(context=ctx, domain_id=_domain_id())
    arms = {a.name: VirtualPiperArm(a.can_port, **arm_kwargs) for a in config.arms}
    executor = thread = bridge = client = None
    try:
        node_name = f"piper_bridge_{uuid.uuid4().hex[:6]}"
        bridge = make_piper_bridge(config, node_name=node_name, context=ctx)
        client = Node(f"bridge_test_{uuid.uuid4().hex[:6]}", context=ctx)
        rig = Rig(config, arms, bridge, client)
        for a in config.arms:
            client.create_subscription(JointState, a.feedback_topic, lambda m, n=a.name: rig.on_feedback(n, m), 10)
            rig.publishers[a.name] = client.create_publisher(JointState, a.command_topic, 10)

        def on_diag(msg: DiagnosticArray) -> None:
            for st in msg.status:
                if st.name.startswith(node_name):
                    rig.diagnostics[st.name.split(": ")[1].split(" ")[0]] = st

        client.create_subscription(DiagnosticArray, config.diagnostics_topic, on_diag, 10)
        client.create_subscription(String, f"/{node_name}/arm_events",
                                   lambda m: rig.events.append(json.loads(m.data)), ARM_EVENTS_QOS)
        rig.estop_pub = client.create_publisher(Bool, config.estop_topic, ESTOP_QOS)
        executor = MultiThreadedExecutor(num_threads=4, context=ctx)
        executor.add_node(bridge)
        executor.add_node(client)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        assert wait_for(lambda: all(rig.q(a) is not None for a in arms)), "no feedback from the bridge"
        yield rig
    finally:
        if executor is not None:
            executor.shutdown()
        if thread is not None:
            thread.join(timeout=5)
        for node in (client, bridge):
            if node is not None:
                node.destroy_node()
        rclpy.shutdown(context=ctx)
        for arm in arms.values():
            arm.close()


def test_startup_enables_both_arms_disarmed_and_reports_ok():
    with running_bridge() as rig:
        for name, arm in rig.arms.items():
            st = arm.state()
            assert st.enabled and st.gripper_enabled and st.ctrl_mode == 0x01 and st.speed_percent == 100
        assert wait_for(lambda: {a: s.level for a, s in rig.diagnostics.items()}
                        == {"left": DiagnosticStatus.OK, "right": DiagnosticStatus.OK})
        assert rig.diag_value("left", "enabled") == "True" and rig.diag_value("left", "armed") == "False"
        assert "disarmed" in rig.diagnostics["left"].message
        # the events reach a subscriber that joined after they were sent (transient_local)
        assert wait_for(lambda: len(rig.events) >= 2), rig.events
        assert sorted(rig.events, key=lambda e: e["seq"])[:2] == [
            {"arm": "left", "event": "enabled", "armed": False, "seq": 1},
            {"arm": "right", "event": "enabled", "armed": False, "seq": 2},
        ]
        assert rig.feedback["left"].name == list(ARM_JOINT_NAMES)
        assert rig.feedback["left"].header.stamp.sec > 0


def test_trajectory_is_followed_and_reported_in_radians_and_metres():
    with running_bridge() as rig:
        waypoints = [
            np.array([0.3, 0.5, -0.4, 0.2, -0.3, 0.5, 0.02]),
            np.array([-0.5, 1.0, -1.0, -0.4, 0.4, -0.8, 0.06]),
            np.array([0.0, 0.2, -0.2, 0.0, 0.1, 0.0, 0.0]),
        ]
        rig.rearm("left")
        rig.rearm("right")
        for k, wp in enumerate(waypoints):
            right = wp * np.array([-1, 1, 1, -1, 1, -1, 1])  # mirrored pose for the other arm
            assert rig.track("left", wp), f"left did not reach waypoint {k}: {rig.q('left')}"
            assert rig.track("right", right), f"right did not reach waypoint {k}: {rig.q('right')}"
            # the feedback topic agrees with the simulated joints (SI units end to end)
            np.testing.assert_allclose(rig.arms["left"].state().positions, wp, atol=JOINT_TOL)
        assert int(rig.bridge.links["left"].sent) > 0


def test_command_outside_limits_is_clamped():
    with running_bridge() as rig:
        rig.rearm("left")
        target = np.array([5.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.5])
        expected = np.array([JOINT_UPPER[0], 0.5, -0.5, 0.0, 0.0, 0.0, GRIPPER_MAX_M])
        rig.command("left", target)
        assert rig.reaches("left", expected), rig.q("left")
        assert wait_for(lambda: int(rig.diag_value("left", "commands_clamped") or 0) >= 1)


def test_missing_joint_name_nan_and_stale_commands_are_rejected_without_motion():
    with running_bridge() as rig:
        rig.rearm("left")
        sent = rig.bridge.links["left"].sent
        start = rig.arms["left"].state().positions
        before = rig.arms["left"].state().joint_commands
        names = [n for n in ARM_JOINT_NAMES if n != "joint3"]
        rig.command("left", [0.5] * 6, names=names)  # no joint3: must not become 0, must not move
        rig.command("left", [0.5, 0.5, np.nan, 0.0, 0.0, 0.0, 0.03])
        rig.command("left", [0.5, 0.5, -0.5, 0.0, 0.0, 0.0, 0.03], stamp_age=30.0)  # 30 s old
        assert wait_for(lambda: rig.diag_value("left", "rejected_missing_name") == "1"
                        and rig.diag_value("left", "rejected_non_finite") == "1"
                        and rig.diag_value("left", "rejected_stale") == "1"), rig.diagnostics.get("left")
        after = rig.arms["left"].state()
        assert after.joint_commands == before
        np.testing.assert_allclose(after.positions, start, atol=1e-9)
        assert rig.bridge.links["left"].sent == sent
        # a zero stamp means "use the receipt time", so an unstamped command is sent
        rig.command("left", [0.1, 0.2, -0.1, 0.0, 0.0, 0.0, 0.01], stamp_age=None)
        assert rig.reaches("left", [0.1, 0.2, -0.1, 0.0, 0.0, 0.0, 0.01])


def test_can_loss_stops_commands_reports_error_and_recovers():
    with running_bridge() as rig:
        rig.rearm("left")
        assert rig.track("left", [0.2, 0.3, -0.2, 0.0, 0.0, 0.0, 0.01])
        rig.arms["left"].set_can_lost(True)
        assert wait_for(lambda: rig.diagnostics["left"].level == DiagnosticStatus.ERROR), rig.diagnostics["left"]
        assert "CAN fault" in rig.diagnostics["left"].message
        assert rig.diagnostics["right"].level == DiagnosticStatus.OK  # the other arm is unaffected
        sent_before = rig.bridge.links["left"].sent
        for _ in range(5):
            # unstamped (receipt time), so a loaded machine cannot turn them into "stale" rejections
            rig.command("left", [0.6, 0.3, -0.2, 0.0, 0.0, 0.0, 0.01], stamp_age=None)
            time.sleep(0.02)
        assert wait_for(lambda: int(rig.diag_value("left", "rejected_bus_fault") or 0) == 5)
        assert rig.bridge.links["left"].sent == sent_before
        # the driver keeps trying to reconnect while the bus is down
        assert wait_for(lambda: int(rig.diag_value("left", "reconnects") or 0) >= 2)
        assert rig.diagnostics["left"].level == DiagnosticStatus.ERROR
        rig.arms["left"].set_can_lost(False)
        assert wait_for(lambda: rig.diagnostics["left"].level == DiagnosticStatus.OK), rig.diagnostics["left"]
        # the arm held still: the commands sent into the dead bus were never replayed
        np.testing.assert_allclose(rig.arms["left"].state().positions[0], 0.2, atol=JOINT_TOL)
        assert wait_for(lambda: "recovered" in rig.events_of("left")) and not rig.bridge.links["left"].armed
        rig.rearm("left")
        assert rig.track("left", [-0.3, 0.3, -0.2, 0.0, 0.0, 0.0, 0.01])


def test_estop_then_reset_and_enable_recovers():
    with running_bridge() as rig:
        assert rig.call(Trigger, "estop", Trigger.Request()).success
        # The stop frame reaches the virtual arms over the bus after the service answers.
        assert wait_for(lambda: all(arm.state().estopped for arm in rig.arms.values()))
        held = rig.arms["left"].state().positions
        rig.command("left", [0.5, 0.5, -0.5, 0.0, 0.0, 0.0, 0.03])
        assert wait_for(lambda: int(rig.diag_value("left", "rejected_estopped") or 0) >= 1)
        np.testing.assert_allclose(rig.arms["left"].state().positions, held, atol=1e-9)
        refused = rig.call(SetBool, "left/enable", SetBool.Request(data=True))
        assert not refused.success and "reset" in refused.message
        assert rig.call(Trigger, "reset", Trigger.Request()).success
        assert wait_for(lambda: not rig.arms["left"].state().estopped and not rig.arms["left"].state().enabled)
        assert wait_for(lambda: rig.diagnostics["left"].message == "disabled")
        assert rig.call(SetBool, "enable", SetBool.Request(data=True)).success
        rig.rearm("left")
        assert rig.track("left", [0.4, 0.4, -0.3, 0.0, 0.0, 0.0, 0.02])


def test_go_home_moves_both_arms_home_then_a_far_command_is_rejected():
    config = make_config(go_home_speed=1.0)
    with running_bridge(config) as rig:
        rig.rearm("left")
        old = np.array([0.3, 0.9, -0.6, 0.2, 0.3, 0.0, 0.035])
        assert rig.track("left", old)
        res = rig.call(Trigger, "go_home", Trigger.Request())
        assert res.success, res.message
        # while homing, the policy's commands do not fight the motion (sent until one is refused as such)
        assert rig.command_until("left", [0.0] * 7, lambda: rig.rejected("left", "homing") >= 1)
        assert rig.reaches("left", HOME[:7]) and rig.reaches("right", HOME[7:])
        assert wait_for(lambda: "homed" in rig.events_of("left") and "homed" in rig.events_of("right"))
        assert [e["armed"] for e in rig.events if e["event"] == "homed"] == [False, False]
        # home, the arm is disarmed: the policy's old set-point is not sent, the arm stays home
        rig.landed("left")
        commands = rig.arms["left"].state().joint_commands
        rig.command("left", old, stamp_age=None)
        assert wait_for(lambda: rig.rejected("left", "far_from_measured") >= 1)
        assert rig.arms["left"].state().joint_commands == commands
        assert rig.bridge.links["left"].last_rejection.startswith(
            "far_from_measured: joint2 is 0.600 rad from the measured 0.300 rad (tolerance 0.05 rad)")
        np.testing.assert_allclose(rig.arms["left"].state().positions, HOME[:7], atol=JOINT_TOL)
        rig.command("left", HOME[:7], stamp_age=None)  # a command at home arms it
        assert wait_for(lambda: rig.bridge.links["left"].armed)


def test_disable_service_stops_sending():
    with running_bridge() as rig:
        assert rig.call(SetBool, "right/enable", SetBool.Request(data=False)).success
        assert wait_for(lambda: not rig.arms["right"].state().enabled)
        assert wait_for(lambda: rig.events_of("right") == ["enabled", "disabled"])
        rig.command("right", [0.5, 0.5, -0.5, 0.0, 0.0, 0.0, 0.03])
        assert wait_for(lambda: int(rig.diag_value("right", "rejected_disabled") or 0) >= 1)
        assert rig.arms["right"].state().enabled is False and rig.arms["left"].state().enabled


def test_an_arm_that_never_enables_fails_startup_naming_it():
    config = make_config(fresh_ports=True, enable_timeout_s=0.5)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=_domain_id())
    arms = [VirtualPiperArm(config.arms[0].can_port), VirtualPiperArm(config.arms[1].can_port, refuse_enable=True)]
    try:
        with pytest.raises(ArmEnableError, match=r"arm right \(vcan_right_.*\): motors did not report enabled"):
            make_piper_bridge(config, node_name=f"piper_bridge_{uuid.uuid4().hex[:6]}", context=ctx)
    finally:
        rclpy.shutdown(context=ctx)
        for arm in arms:
            arm.close()


def test_config_file_parameter_and_bad_config_errors(tmp_path):
    from rclpy.parameter import Parameter

    from wav_ros.piper_bridge import PiperBridge

    good = tmp_path / "driver.yaml"
    good.write_text(
        "driver:\n  bustype: virtual\n  enable_on_start: false\n  speed_percent: 30\n"
        "  arms:\n    - {name: left, can_port: vcan_cfg_l, command_topic: /l/cmd, feedback_topic: /l/fb}\n"
    )
    ctx = Context()
    rclpy.init(context=ctx, domain_id=_domain_id())
    try:
        node = PiperBridge(node_name="bridge_from_file", context=ctx,
                           parameter_overrides=[Parameter("config_file", value=str(good))])
        try:
            assert node.config.speed_percent == 30 and [a.name for a in node.config.arms] == ["left"]
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
    bad = tmp_path / "bad.yaml"
    bad.write_text("driver:\n  speed_percent: 150\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: .*speed_percent: got 150"):
        load(DriverConfig, bad, section="driver")
    bad.write_text("driver:\n  spede_percent: 50\n")
    with pytest.raises(ConfigError, match=r"spede_percent: unknown key"):
        load(DriverConfig, bad, section="driver")


def test_shipped_driver_config_loads_and_does_not_enable_on_start():
    assert DriverConfig().enable_on_start is False and DriverConfig().estop_topic == "/wav/estop"
    cfg = load(DriverConfig, "config/piper_bridge.yaml", section="driver")
    assert cfg.enable_on_start is False and cfg.estop_topic == "/wav/estop"
    assert [a.can_port for a in cfg.arms] == ["can_left", "can_right"]
    assert [a.command_topic for a in cfg.arms] == ["/left/joint_ctrl_single", "/right/joint_ctrl_single"]


# -- re-arming, arm events and e-stop ----------------------------------------------------------------
OLD = np.array([0.3, 0.4, -0.4, 0.0, 0.2, 0.0, 0.02])
"""A policy set-point from before the arm was moved, dropped or re-enabled."""


def stream(rig: Rig, arm: str, q, stop: threading.Event) -> threading.Thread:
    """Publish `q` at 50 Hz until `stop` is set, like a policy that has not noticed anything."""

    def run() -> None:
        while not stop.is_set():
            rig.command(arm, q, stamp_age=None)
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_default_start_leaves_the_arms_disabled_until_enable():
    with running_bridge(make_config(enable_on_start=False)) as rig:
        assert not any(arm.state().enabled for arm in rig.arms.values())
        assert wait_for(lambda: rig.diagnostics.get("left") is not None and rig.diagnostics["left"].message == "disabled")
        # sent until one is refused as disabled (a first feedback that came late may show as a bus fault first)
        assert rig.command_until("left", lambda: rig.q("left"), lambda: rig.rejected("left", "disabled") >= 1)
        # (a bus whose first feedback came late may report "recovered"; nothing was enabled)
        assert {e["event"] for e in rig.events} <= {"recovered"}
        assert rig.call(SetBool, "enable", SetBool.Request(data=True)).success

        def enabled() -> list:
            return [(e["arm"], e["armed"]) for e in list(rig.events) if e["event"] == "enabled"]

        assert wait_for(lambda: len(enabled()) == 2)
        assert enabled() == [("left", False), ("right", False)]


def test_enable_after_the_arm_was_moved_by_hand_takes_only_a_command_at_the_measured_pose(capfd):
    with running_bridge() as rig:
        arm = rig.arms["left"]
        rig.rearm("left")
        assert rig.track("left", OLD)
        assert rig.call(SetBool, "left/enable", SetBool.Request(data=False)).success
        # unpowered, joint2/3/5 sink to rest; then a hand turns the base and the wrist
        moved = np.array([-0.5, 0.0, 0.0, 0.6, 0.0, 0.0, 0.02])
        assert wait_for(lambda: np.allclose(arm.state().positions[[1, 2, 4]], 0.0))
        arm.displace(moved)
        assert rig.reaches("left", moved)
        assert rig.call(SetBool, "left/enable", SetBool.Request(data=True)).success
        assert wait_for(lambda: rig.events_of("left") == ["enabled", "disabled", "enabled"])
        assert rig.events[-1]["armed"] is False
        # the firmware was told to hold where the arm is, not where the policy last sent it
        rig.landed("left")
        np.testing.assert_allclose(arm.state().last_joint_command, moved[:6], atol=1e-4)
        commands = arm.state().joint_commands
        for _ in range(5):
            rig.command("left", OLD, stamp_age=None)
            time.sleep(0.02)
        assert wait_for(lambda: rig.rejected("left", "far_from_measured") == 5)
        assert wait_for(lambda: rig.diag_value("left", "rejected_far_from_measured") == "5")
        assert arm.state().joint_commands == commands
        np.testing.assert_allclose(arm.state().positions, moved, atol=JOINT_TOL)
        assert "arm left (/left/joint_ctrl_single): command rejected: joint1 is 0.800 rad from the measured " \
               "-0.500 rad (tolerance 0.05 rad)" in capfd.readouterr().err
        # a command within tolerance (0.03 rad off on two joints) arms it, and it follows from there
        near = moved + np.array([0.03, 0.03, 0.0, 0.0, 0.0, 0.0, 0.0])
        rig.command("left", near, stamp_age=None)
        assert wait_for(lambda: rig.bridge.links["left"].armed)
        assert rig.reaches("left", near)
        assert rig.track("left", OLD)


def test_recovery_after_can_loss_never_sends_the_old_set_point():
    with running_bridge() as rig:
        arm = rig.arms["left"]
        rig.rearm("left")
        assert rig.track("left", OLD)
        arm.set_can_lost(True)
        assert wait_for(lambda: rig.diagnostics["left"].level == DiagnosticStatus.ERROR)
        elsewhere = OLD + np.array([-0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        arm.displace(elsewhere)  # another controller turned the base while the bus was down
        stop = threading.Event()
        streamer = stream(rig, "left", OLD, stop)  # the policy streams its old set-point throughout
        try:
            far_before = rig.rejected("left", "far_from_measured")
            arm.set_can_lost(False)
            assert wait_for(lambda: "recovered" in rig.events_of("left"))
            assert [e["armed"] for e in rig.events if e["event"] == "recovered"] == [False]
            assert wait_for(lambda: rig.rejected("left", "far_from_measured") >= far_before + 5)
        finally:
            stop.set()
            streamer.join()
        # no jump: the arm stayed where it was, and the last set-point the firmware got is that pose
        np.testing.assert_allclose(arm.state().positions, elsewhere, atol=JOINT_TOL)
        np.testing.assert_allclose(arm.state().last_joint_command, elsewhere[:6], atol=1e-4)
        assert wait_for(lambda: rig.diagnostics["left"].level == DiagnosticStatus.OK)
        rig.rearm("left")
        assert rig.track("left", OLD)


def test_reset_drops_the_arms_and_says_so_on_arm_events():
    with running_bridge() as rig:
        arm = rig.arms["left"]
        raised = np.array([0.0, 1.2, -1.0, 0.0, 0.5, 0.0, 0.02])
        rig.rearm("left")
        assert rig.track("left", raised)
        rig.settle("left")
        rig.history["left"].clear()
        assert rig.call(Trigger, "reset", Trigger.Request()).success
        assert wait_for(lambda: rig.events_of("left")[-1:] == ["reset"] and rig.events_of("right")[-1:] == ["reset"])
        assert [e["armed"] for e in rig.events if e["event"] == "reset"] == [False, False]
        # the feedback shows the fall: joint2 goes down through the poses in between to the rest pose
        assert wait_for(lambda: rig.q("left")[1] < 1e-3), rig.q("left")
        j2 = np.array([q[1] for q in rig.history["left"]])
        assert np.all(np.diff(j2) <= 1e-6), j2
        assert np.any((j2 > 0.1) & (j2 < 1.1)), j2
        # unpowered until enabled; once enabled, disarmed: the pose before the drop is not sent
        rig.command("left", raised, stamp_age=None)
        assert wait_for(lambda: rig.rejected("left", "disabled") >= 1)
        assert rig.call(SetBool, "enable", SetBool.Request(data=True)).success
        rig.command("left", raised, stamp_age=None)
        assert wait_for(lambda: rig.rejected("left", "far_from_measured") == 1)
        assert arm.state().positions[1] < 1e-3
        rig.rearm("left")
        assert rig.track("left", raised)


def test_policy_estop_topic_stops_commands_and_latches_until_reset_and_enable():
    with running_bridge() as rig:
        arm = rig.arms["left"]
        rig.rearm("left")
        assert rig.track("left", OLD)
        rig.settle("left")
        rig.history["left"].clear()
        rig.estop_pub.publish(Bool(data=True))
        assert wait_for(lambda: all(a.state().estopped for a in rig.arms.values()))
        assert wait_for(lambda: rig.events_of("left")[-1:] == ["estop"] and rig.events_of("right")[-1:] == ["estop"])
        assert [e["armed"] for e in rig.events if e["event"] == "estop"] == [False, False]
        # the firmware lowers the arm with damping: joint2 sinks through the poses in between
        assert wait_for(lambda: rig.q("left")[1] < 1e-3)
        j2 = np.array([q[1] for q in rig.history["left"]])
        assert np.all(np.diff(j2) <= 1e-6) and np.any((j2 > 0.05) & (j2 < 0.35)), j2
        rig.landed("left")
        commands = arm.state().joint_commands
        rig.command("left", rig.q("left"), stamp_age=None)  # even a command at the measured pose
        assert wait_for(lambda: rig.rejected("left", "estopped") == 1)
        assert arm.state().joint_commands == commands
        assert wait_for(lambda: rig.diag_value("left", "policy_estop") == "True")
        # while the policy holds its e-stop, the operator cannot re-enable
        assert rig.call(Trigger, "reset", Trigger.Request()).success
        refused = rig.call(SetBool, "enable", SetBool.Request(data=True))
        assert not refused.success and "/wav/estop" in refused.message
        # releasing it re-enables nothing by itself
        rig.estop_pub.publish(Bool(data=False))
        assert wait_for(lambda: rig.diag_value("left", "policy_estop") == "False")
        # sent until one is refused as disabled (a first feedback that came late may show as a bus fault first)
        assert rig.command_until("left", lambda: rig.q("left"), lambda: rig.rejected("left", "disabled") >= 1)
        assert not arm.state().enabled and "enabled" not in rig.events_of("left")[1:]
        assert rig.call(SetBool, "enable", SetBool.Request(data=True)).success
        rig.rearm("left")
        assert rig.track("left", OLD)


def test_an_estop_the_arm_reports_is_latched_like_the_drivers_own():
    with running_bridge() as rig:
        rig.rearm("left")
        rig.arms["left"].emergency_stop()  # not sent by the driver: the arm's own stop, or another node
        assert wait_for(lambda: "estop" in rig.events_of("left"))
        assert not rig.bridge.links["left"].armed and "estop" not in rig.events_of("right")
        rig.command("left", rig.q("left"), stamp_age=None)
        assert wait_for(lambda: rig.rejected("left", "estopped") == 1)
        refused = rig.call(SetBool, "left/enable", SetBool.Request(data=True))
        assert not refused.success and "reset" in refused.message
        assert rig.call(Trigger, "reset", Trigger.Request()).success
        assert wait_for(lambda: rig.diagnostics["left"].message == "disabled")
        assert rig.call(SetBool, "left/enable", SetBool.Request(data=True)).success
        rig.rearm("left")
        assert rig.events_of("left").count("estop") == 1  # the stale stop status before the reset was not re-latched

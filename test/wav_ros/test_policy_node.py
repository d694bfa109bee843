"""The policy node closed around the simulated rig on real DDS: enable, commands inside every limit,
e-stop (told to the driver), the watchdog, driver events, dry run, diagnostics, the lifecycle and
configuration errors."""

import threading
import time

import numpy as np
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from wav_core.config import RobotConfig
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot.piper import DUAL_LOWER, DUAL_UPPER
from wav_core.runtime.config import ExecutorConfig, PolicyConfig, SafetyConfig
from wav_ros.policy_node import PolicyNode
from wav_ros.sim_node import SimNode, SimNodeConfig

# A random policy soon drives an arm into the table, which the tracking check would rightly latch
# on; these tests are about the other safeguards, so it only trips on a gross error.
SAFETY = SafetyConfig(max_joint_velocity=1.5, camera_timeout_s=0.5, joint_timeout_s=0.2, tracking_tolerance=1.0)


def policy_cfg(**kw):
    return PolicyConfig(planner=PlannerConfig(K=1, M=2, N=2, S=2), executor=ExecutorConfig(rate_hz=100.0),
                        safety=SAFETY, threads=1, diagnostics_hz=2.0, **kw)


class Rig:
    """Sim node + policy node (+ a command recorder) spinning on one executor."""

    def __init__(self, ctx, robot=None, cfg=None, sim=True, policy=None, sim_cfg=None, **node_kwargs):
        self.robot = robot or RobotConfig()
        self.policy = policy or random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
        sim_cfg = sim_cfg or SimNodeConfig(real_time_factor=1.0)
        self.sim = SimNode(sim_cfg=sim_cfg, robot=self.robot, context=ctx) if sim else None
        self.node = PolicyNode(policy_cfg=cfg or policy_cfg(), robot=self.robot, policy=self.policy,
                               use_sim_time=sim, context=ctx, **node_kwargs)
        import rclpy

        self.client_node = rclpy.create_node("probe", context=ctx)
        self.commands = {a.name: [] for a in self.robot.arms}
        for a in self.robot.arms:
            self.client_node.create_subscription(JointState, a.command_topic,
                                                 lambda m, n=a.name: self.commands[n].append(m), 100)
        self.ex = MultiThreadedExecutor(num_threads=4, context=ctx)
        for n in (self.sim, self.node, self.client_node):
            if n is not None:
                self.ex.add_node(n)
        self.thread = threading.Thread(target=self.ex.spin, daemon=True)
        self.thread.start()

    def call(self, srv_type, name, request, timeout=20.0):
        cli = self.client_node.create_client(srv_type, name)
        assert cli.wait_for_service(timeout_sec=timeout), name
        fut = cli.call_async(request)
        t = time.monotonic()
        while not fut.done() and time.monotonic() - t < timeout:
            time.sleep(0.01)
        assert fut.done(), f"{name} did not answer"
        return fut.result()

    def enable(self, timeout=20.0):
        """The operator's enable, asked again while the node refuses it only for joint feedback
        older than two ticks (on a loaded machine the feeder can fall that far behind for a moment);
        any other answer is returned as it is."""
        t = time.monotonic()
        while True:
            resp = self.call(SetBool, "/wav_policy/enable", SetBool.Request(data=True))
            if resp.success or "old, expected newer" not in resp.message or time.monotonic() - t > timeout:
                return resp
            time.sleep(0.05)

    def wait(self, cond, timeout=60.0):
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            if cond():
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.node._halt()
        self.ex.shutdown()
        for n in (self.sim, self.node, self.client_node):
            if n is not None:
                n.destroy_node()


def positions(msgs):
    return np.array([m.position for m in msgs])


def test_closed_sim_loop_commands_stay_inside_every_limit(ros_context):
    rig = Rig(ros_context)
    try:
        assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert rig.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        estops = []
        rig.client_node.create_subscription(Bool, "/wav/estop", lambda m: estops.append(m.data),
                                            QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                                                       durability=QoSDurabilityPolicy.TRANSIENT_LOCAL))
        assert rig.wait(lambda: rig.node.loop.latest_state is not None)
        assert not any(rig.commands.values()), "output must stay off until enabled"
        resp = rig.enable()
        assert resp.success, resp.message
        assert rig.wait(lambda: len(rig.node.plan_latencies) >= 2 and len(rig.commands["left"]) > 100, 120)
        for k, arm in enumerate(rig.robot.arms):
            msgs = list(rig.commands[arm.name])
            assert all(list(m.name) == arm.joint_names for m in msgs)
            q = positions(msgs)
            assert np.all(np.isfinite(q))
            assert np.all(q >= DUAL_LOWER[7 * k:7 * k + 7] - 1e-9) and np.all(q <= DUAL_UPPER[7 * k:7 * k + 7] + 1e-9)
            # One executor period at 100 Hz in sim time between commands: bounded joint steps.
            assert np.max(np.abs(np.diff(q[:, :6], axis=0))) <= SAFETY.max_joint_velocity / 100.0 * 1.001
        status = rig.node.status()
        assert status["enabled"] and status["plans"] >= 2
        # e-stop latches: no more commands until enabled again, and the driver is told on /wav/estop.
        assert rig.call(Trigger, "/wav_policy/estop", Trigger.Request()).success
        assert rig.wait(lambda: estops[-1:] == [True], 10)
        time.sleep(0.3)
        n = len(rig.commands["left"])
        time.sleep(1.0)
        assert len(rig.commands["left"]) == n
        assert rig.enable().success
        assert rig.wait(lambda: len(rig.commands["left"]) > n + 10)
        assert rig.wait(lambda: estops[-1:] == [False], 10) and estops.count(True) == 1
    finally:
        rig.close()


class Feeder:
    """A stand-in rig on wall time: all cameras (or all but a dropped one) and joint feedback at
    `pose`, which follows the arms' commands as a perfect servo would."""

    def __init__(self, ctx, robot, pose=None):
        import rclpy
        from sensor_msgs.msg import Image

        from wav_core.robot.piper import HOME

        self.robot, self.pose = robot, HOME.copy() if pose is None else pose
        self.node = rclpy.create_node("feeder", context=ctx)
        self.cams = {c.name: self.node.create_publisher(Image, c.topic, 10) for c in robot.cameras}
        self.arms = [self.node.create_publisher(JointState, a.feedback_topic, 10) for a in robot.arms]
        for k, a in enumerate(robot.arms):
            self.node.create_subscription(JointState, a.command_topic, lambda m, k=k: self._follow(m, k), 10)
        self.images = {c.name: Image(height=c.height, width=c.width, encoding="rgb8", step=c.width * 3,
                                     data=bytes(c.width * c.height * 3)) for c in robot.cameras}
        self.stop_event, self.drop_camera = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _follow(self, msg, k):
        self.pose[7 * k:7 * k + 7] = msg.position

    def _feed(self):
        from rclpy.executors import SingleThreadedExecutor

        ex = SingleThreadedExecutor(context=self.node.context)
        ex.add_node(self.node)
        while not self.stop_event.is_set():
            for _ in range(10):  # the commands that arrived since the last round
                ex.spin_once(timeout_sec=0)
            stamp = self.node.get_clock().now().to_msg()
            for k, (pub, a) in enumerate(zip(self.arms, self.robot.arms)):
                msg = JointState(name=a.joint_names, position=self.pose[7 * k:7 * k + 7].tolist())
                msg.header.stamp = stamp
                pub.publish(msg)
            for c in self.robot.cameras:
                if self.drop_camera.is_set() and c.name == "cam_high":
                    continue
                img = self.images[c.name]
                img.header.stamp = stamp
                self.cams[c.name].publish(img)
            time.sleep(0.02)

    def close(self):
        self.stop_event.set()
        self.thread.join()
        self.node.destroy_node()


def start(rig):
    assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS, rig.node.config_error
    assert rig.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert rig.wait(lambda: rig.node.loop.latest_state is not None)


def test_watchdog_holds_when_a_camera_stops(ros_context):
    """No simulator: the test publishes joints and only two of three cameras."""
    robot = RobotConfig()
    rig = Rig(ros_context, robot, sim=False)
    feeder = Feeder(ros_context, robot)
    try:
        start(rig)
        assert rig.enable().success
        assert rig.wait(lambda: len(rig.commands["left"]) > 50)
        feeder.drop_camera.set()
        assert rig.wait(lambda: rig.node.loop.holds.get("camera_stale:cam_high", 0) > 100, 10)
        held = positions(rig.commands["left"][-5:])
        assert np.allclose(held, held[0]), "a hold brakes to a standstill: the command stops moving"
    finally:
        feeder.close()
        rig.close()


def test_enable_is_refused_with_the_reason_for_a_pose_outside_the_limits(ros_context):
    from wav_core.robot.piper import HOME

    robot = RobotConfig()
    pose = HOME.copy()
    pose[2] = 0.4  # left joint3 above its upper limit of 0
    rig = Rig(ros_context, robot, sim=False)
    feeder = Feeder(ros_context, robot, pose)
    try:
        start(rig)
        resp = rig.enable()
        assert not resp.success and "left_joint3 0.4000 not in" in resp.message
        time.sleep(0.3)
        assert not rig.commands["left"]
    finally:
        feeder.close()
        rig.close()


def test_driver_events_stop_the_output_until_enabled(ros_context):
    import json

    robot = RobotConfig()
    rig = Rig(ros_context, robot, cfg=policy_cfg(driver_events_topic="/piper_bridge/arm_events"), sim=False)
    feeder = Feeder(ros_context, robot)
    events = rig.client_node.create_publisher(String, "/piper_bridge/arm_events", QoSProfile(
        depth=10, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL))
    try:
        start(rig)
        assert rig.enable().success
        assert rig.wait(lambda: len(rig.commands["left"]) > 20)
        events.publish(String(data=json.dumps({"arm": "left", "event": "recovered", "armed": True, "seq": 1})))
        assert rig.wait(lambda: rig.node.loop.counters["reanchor"] >= 1, 10) and rig.node.enabled
        events.publish(String(data=json.dumps({"arm": "right", "event": "estop", "armed": False, "seq": 2})))
        assert rig.wait(lambda: not rig.node.enabled, 10)
        assert rig.node.status()["off_reason"] == "driver: arm right estop"
        time.sleep(0.2)
        n = len(rig.commands["left"])
        time.sleep(0.5)
        assert len(rig.commands["left"]) == n
        assert rig.enable().success
        assert rig.wait(lambda: len(rig.commands["left"]) > n + 10)
    finally:
        feeder.close()
        rig.close()


def test_dry_run_previews_setpoints_without_commanding_the_arms(ros_context):
    from rclpy.parameter import Parameter

    robot = RobotConfig()
    rig = Rig(ros_context, robot, sim=False, parameter_overrides=[Parameter("dry_run", value=True)])
    preview = []
    rig.client_node.create_subscription(JointState, "/wav_policy/command_preview", preview.append, 100)
    feeder = Feeder(ros_context, robot)
    try:
        start(rig)
        assert rig.enable().success
        assert rig.wait(lambda: len(preview) > 50 and len(rig.node.plan_latencies) >= 1)
        assert list(preview[-1].name) == robot.joint_names and len(preview[-1].position) == 14
        assert not any(rig.commands.values()) and rig.node.status()["dry_run"]
    finally:
        feeder.close()
        rig.close()


def test_the_plan_is_published_as_markers_with_the_commanded_pose_and_the_model_input(ros_context):
    from rclpy.parameter import Parameter
    from visualization_msgs.msg import MarkerArray

    from sensor_msgs.msg import Image

    robot = RobotConfig()
    rig = Rig(ros_context, robot, sim=False, parameter_overrides=[Parameter("debug_images", value=True)])
    markers, commanded, inputs = [], [], []
    rig.client_node.create_subscription(MarkerArray, "/wav_policy/plan_markers", markers.append, 10)
    rig.client_node.create_subscription(JointState, "/wav_policy/commanded_joint_states", commanded.append, 10)
    rig.client_node.create_subscription(Image, "/wav_policy/model_input/cam_high", inputs.append, 10)
    feeder = Feeder(ros_context, robot)
    try:
        start(rig)
        assert rig.enable().success
        assert rig.wait(lambda: markers and commanded and inputs)
        arms = markers[-1].markers
        assert [m.ns for m in arms] == ["wav_plan/left", "wav_plan/right"]
        h = rig.node.policy.cfg.action_horizon
        for m, base in zip(arms, ([0.0, 0.25, 0.0], [0.0, -0.25, 0.0])):
            pts = np.array([[p.x, p.y, p.z] for p in m.points])
            assert m.header.frame_id == "base_link" and pts.shape == (h, 3) and len(m.colors) == h
            # A random model plans anywhere inside the joint limits: within an arm's reach of its base.
            assert np.all(np.isfinite(pts)) and np.all(np.linalg.norm(pts - base, axis=1) < 0.85)
        assert list(commanded[-1].name) == robot.joint_names and len(commanded[-1].position) == 14
        size = tuple(rig.node.policy.cfg.image_size)
        assert (inputs[-1].height, inputs[-1].width, inputs[-1].encoding) == (*size, "rgb8")
    finally:
        feeder.close()
        rig.close()


def test_planner_health_is_reported_on_diagnostics_under_its_own_key(ros_context):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    class Reporting:
        """A planner client with a health probe, as the planner process client has."""

        def __init__(self, policy):
            self._policy = policy

        def __getattr__(self, name):
            return getattr(self._policy, name)

        def health(self):
            return "WARN", "planner process restarted 1 time"

    robot = RobotConfig()
    rig = Rig(ros_context, robot, sim=False, policy=Reporting(random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))))
    diags = []
    rig.client_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    try:
        assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert rig.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert rig.wait(lambda: len(diags) >= 1, 20)
        by_name = {s.name: s for s in diags[-1].status}
        planner = by_name["wav_policy: planner process"]
        assert planner.level == DiagnosticStatus.WARN and planner.message == "planner process restarted 1 time"
        assert "wav_policy: policy" in by_name
    finally:
        rig.close()


def test_configure_cleanup_configure_creates_everything_once(ros_context):
    rig = Rig(ros_context, sim=False)
    try:
        for _ in range(2):
            assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
            topics = [s.topic_name for s in rig.node.subscriptions]
            services = [s.srv_name for s in rig.node.services if s.srv_name.endswith(("/enable", "/estop"))]
            assert rig.node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        expected = [c.topic for c in rig.robot.cameras] + [a.feedback_topic for a in rig.robot.arms]
        assert sorted(topics) == sorted(expected)
        assert sorted(services) == ["~/enable", "~/estop"]
        assert not [s for s in rig.node.subscriptions]  # cleanup destroyed them
    finally:
        rig.close()


def test_use_sim_time_from_ros_args_is_honoured():
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=88, args=["prog", "--ros-args", "-p", "use_sim_time:=true"])
    try:
        node = PolicyNode(policy_cfg=policy_cfg(), robot=RobotConfig(), context=ctx)
        assert node.get_parameter("use_sim_time").value is True
        node.destroy_node()
        node = PolicyNode(policy_cfg=policy_cfg(), robot=RobotConfig(), context=ctx, use_sim_time=False, name="other")
        assert node.get_parameter("use_sim_time").value is False  # an explicit argument still wins
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_a_failed_configure_closes_the_planner_process(ros_context, tmp_path):
    import os

    import yaml

    from wav_core.model import save_model

    policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
    model = save_model(tmp_path / "model", policy.model, policy.card)
    robot = {"cameras": [{"name": "cam_top", "topic": "/top", "width": 64, "height": 48}]}
    cfg = tmp_path / "mismatch.yaml"
    cfg.write_text(yaml.safe_dump({"robot": robot, "policy": {"model": str(model), "planner_process": True,
                                                              "planner": {"K": 1, "M": 2, "N": 2, "S": 2}}}))

    def planner_children():
        out = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid() and b"plan_worker" in cmd:
                out.append(pid)
        return out

    node = PolicyNode(config_file=str(cfg), context=ros_context)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "model cameras" in node.config_error and "cam_top" in node.config_error
        assert node.policy is None and planner_children() == []
    finally:
        node.destroy_node()


def slowed(policy, seconds):
    orig = policy.plan

    def slow_plan(*a, **k):
        res = orig(*a, **k)
        time.sleep(seconds)
        return res

    policy.plan = slow_plan
    return policy


def test_late_plan_holds_position(ros_context):
    """A planner slower than the chunk, on a simulator that keeps real time: the executor runs out
    and holds."""
    policy = slowed(random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2)), 1.5)
    rig = Rig(ros_context, policy=policy, sim_cfg=SimNodeConfig(real_time_factor=1.0, plan_info_topic=""))
    try:
        start(rig)
        assert rig.enable().success
        assert rig.wait(lambda: rig.node.loop.holds.get("plan_late", 0) > 10, 60)
    finally:
        rig.close()


def test_the_simulation_slows_down_for_a_planner_that_cannot_keep_up(ros_context):
    """The same slow planner with the simulator listening to plan_info: sim time slows so that the
    p90 plan latency fits the planner budget of a chunk, and the sim says so in its status."""
    policy = slowed(random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2)), 1.0)
    rig = Rig(ros_context, policy=policy)
    try:
        start(rig)
        assert rig.wait(lambda: len(rig.node.plan_latencies) >= 2, 60)
        chunk_s = policy.cfg.action_horizon / rig.robot.tick_hz
        assert rig.wait(lambda: 0 < rig.sim.real_time_factor <= 0.4 * chunk_s / 1.0, 10)
        assert rig.wait(lambda: rig.sim.info.get("real_time_factor") == rig.sim.real_time_factor, 10)
    finally:
        rig.close()


def test_bad_configuration_fails_configure_with_a_clear_message(ros_context, tmp_path):
    node = PolicyNode(config_file=str(tmp_path / "missing.yaml"), context=ros_context)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "missing.yaml: not found" in node.config_error
        bad = tmp_path / "bad.yaml"
        bad.write_text("robot: {}\npolicy: {planner: {K: -1}}\n")
        node2 = PolicyNode(config_file=str(bad), context=ros_context, name="wav_policy2")
        assert node2.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "K: got -1" in node2.config_error
        node2.destroy_node()
    finally:
        node.destroy_node()


def test_the_node_commands_what_eval_commands_for_the_same_observations(ros_context):
    """The node's message path (real messages in, published commands out) against the direct path
    `wav eval` uses, on one clock, with the same seed: the same commands."""
    import dataclasses

    import rclpy
    from sensor_msgs.msg import Image

    from wav_core.robot.piper import HOME
    from wav_core.runtime.control_loop import ControlLoop
    from wav_core.runtime.control_loop_planner import InlinePlanner

    base = RobotConfig()
    robot = dataclasses.replace(base, cameras=[dataclasses.replace(c, width=48, height=32) for c in base.cameras])
    policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
    cfg = policy_cfg(seed=7)
    rate, per_tick, t0, steps = cfg.executor.rate_hz, int(cfg.executor.rate_hz / robot.tick_hz), 100.0, 200

    def frame(tick):
        return {c.name: np.full((c.height, c.width, 3), (37 * tick + 11 * k) % 256, np.uint8)
                for k, c in enumerate(robot.cameras)}

    # eval's path: observations handed to the loop
    loop = ControlLoop(cfg, robot, policy)
    planner, q, direct = InlinePlanner(loop, 0.1), HOME.copy(), []
    for step in range(steps):
        now = t0 + step / rate
        if step % per_tick == 0:
            loop.observe(frame(step // per_tick), q, now)
            if step == 0:
                assert loop.enable(now)[0]
        else:
            loop.feedback(q, now)
        planner.step(now)
        q = loop.execute(now).command
        direct.append(q)
    policy.reset()

    # the node's path: messages into its callbacks, commands out over DDS
    node = PolicyNode(policy_cfg=cfg, robot=robot, policy=policy, context=ros_context)
    probe = rclpy.create_node("probe", context=ros_context)
    got = {a.name: [] for a in robot.arms}
    for a in robot.arms:
        probe.create_subscription(JointState, a.command_topic, lambda m, n=a.name: got[n].append(m.position), 1000)
    from rclpy.executors import SingleThreadedExecutor

    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(probe)
    clock = [t0]
    node._now = lambda: clock[0]
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        node.active = True  # the test drives the callbacks the timers would call
        planner, q = InlinePlanner(node.loop, 0.1), HOME.copy()
        for step in range(steps):
            clock[0] = now = t0 + step / rate
            stamp = rclpy.time.Time(nanoseconds=int(round(now * 1e9))).to_msg()
            if step % per_tick == 0:
                for c, img in zip(robot.cameras, frame(step // per_tick).values()):
                    msg = Image(height=c.height, width=c.width, encoding="rgb8", step=c.width * 3, data=img.tobytes())
                    msg.header.stamp = stamp
                    node._on_input(msg, c.topic)
            for k, a in enumerate(robot.arms):
                msg = JointState(name=a.joint_names, position=q[7 * k:7 * k + 7].tolist())
                msg.header.stamp = stamp
                node._on_input(msg, a.feedback_topic)
            if step % per_tick == 0:
                node._on_tick()
                if step == 0:
                    assert node.enable(True)[0]
            planner.step(now)
            node._on_execute()
            deadline = time.monotonic() + 5
            while len(got["right"]) <= step and time.monotonic() < deadline:
                ex.spin_once(timeout_sec=0.05)
            q = np.concatenate([got["left"][-1], got["right"][-1]])
        published = np.stack([np.concatenate(p) for p in zip(got["left"], got["right"])])
        assert len(published) == steps
        np.testing.assert_allclose(published, np.stack(direct), atol=1e-9)
        assert np.ptp(published, axis=0).max() > 1e-3
    finally:
        node._halt()
        ex.shutdown()
        probe.destroy_node()
        node.destroy_node()

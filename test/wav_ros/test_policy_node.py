"""The policy node closed around the simulated rig on real DDS: enable, commands inside every limit,
e-stop, the watchdog, and configuration errors."""

import threading
import time

import numpy as np
import pytest
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger

from wav_core.config import RobotConfig
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot.piper import DUAL_LOWER, DUAL_UPPER
from wav_core.runtime.config import ExecutorConfig, PolicyConfig, SafetyConfig
from wav_ros.policy_node import PolicyNode
from wav_ros.sim_node import SimNode, SimNodeConfig

SAFETY = SafetyConfig(max_joint_velocity=1.5, camera_timeout_s=0.5, joint_timeout_s=0.2)


def policy_cfg(**kw):
    return PolicyConfig(planner=PlannerConfig(K=1, M=2, N=2, S=2), executor=ExecutorConfig(rate_hz=100.0),
                        safety=SAFETY, threads=1, diagnostics_hz=2.0, **kw)


class Rig:
    """Sim node + policy node (+ a command recorder) spinning on one executor."""

    def __init__(self, ctx, robot=None, cfg=None, sim=True):
        self.robot = robot or RobotConfig()
        self.policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
        self.sim = SimNode(sim_cfg=SimNodeConfig(real_time_factor=1.0), robot=self.robot, context=ctx) if sim else None
        self.node = PolicyNode(policy_cfg=cfg or policy_cfg(), robot=self.robot, policy=self.policy,
                               use_sim_time=sim, context=ctx)
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
        assert rig.wait(lambda: rig.node.latest_state is not None)
        assert not any(rig.commands.values()), "output must stay off until enabled"
        resp = rig.call(SetBool, "/wav_policy/enable", SetBool.Request(data=True))
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
        # e-stop latches: no more commands until enabled again.
        assert rig.call(Trigger, "/wav_policy/estop", Trigger.Request()).success
        time.sleep(0.3)
        n = len(rig.commands["left"])
        time.sleep(1.0)
        assert len(rig.commands["left"]) == n
        assert rig.call(SetBool, "/wav_policy/enable", SetBool.Request(data=True)).success
        assert rig.wait(lambda: len(rig.commands["left"]) > n + 10)
    finally:
        rig.close()


def test_watchdog_holds_when_a_camera_stops(ros_context):
    """No simulator: the test publishes joints and only two of three cameras."""
    import rclpy
    from sensor_msgs.msg import Image

    robot = RobotConfig()
    rig = Rig(ros_context, robot, sim=False)
    pub_node = rclpy.create_node("feeder", context=ros_context)
    try:
        cams = {c.name: pub_node.create_publisher(Image, c.topic, 10) for c in robot.cameras}
        arms = [pub_node.create_publisher(JointState, a.feedback_topic, 10) for a in robot.arms]
        stop = threading.Event()
        drop_camera = threading.Event()

        def feed():
            from wav_core.robot.piper import HOME
            while not stop.is_set():
                stamp = pub_node.get_clock().now().to_msg()
                for k, (pub, a) in enumerate(zip(arms, robot.arms)):
                    pub.publish(JointState(header=JointState().header.__class__(stamp=stamp), name=a.joint_names,
                                           position=HOME[7 * k:7 * k + 7].tolist()))
                for c in robot.cameras:
                    if drop_camera.is_set() and c.name == "cam_high":
                        continue
                    img = Image(height=c.height, width=c.width, encoding="rgb8", step=c.width * 3,
                                data=bytes(c.width * c.height * 3))
                    img.header.stamp = stamp
                    cams[c.name].publish(img)
                time.sleep(0.03)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        rig.node.trigger_configure()
        rig.node.trigger_activate()
        assert rig.wait(lambda: rig.node.latest_state is not None)
        assert rig.call(SetBool, "/wav_policy/enable", SetBool.Request(data=True)).success
        assert rig.wait(lambda: len(rig.commands["left"]) > 50)
        drop_camera.set()
        assert rig.wait(lambda: rig.node.safety.events.get("camera_stale:cam_high", 0) > 5, 10)
        held = positions(rig.commands["left"][-5:])
        assert np.allclose(held, held[0]), "while a camera is stale the command must not move"
        stop.set()
        feeder.join()
    finally:
        rig.close()
        pub_node.destroy_node()


def test_late_plan_holds_position(ros_context):
    """A planner slower than the chunk: the executor runs out and the watchdog holds."""
    rig = Rig(ros_context)
    orig = rig.policy.plan

    def slow_plan(*a, **k):
        res = orig(*a, **k)
        time.sleep(1.5)
        return res

    rig.policy.plan = slow_plan
    try:
        rig.node.trigger_configure()
        rig.node.trigger_activate()
        assert rig.wait(lambda: rig.node.latest_state is not None)
        assert rig.call(SetBool, "/wav_policy/enable", SetBool.Request(data=True)).success
        assert rig.wait(lambda: rig.node.safety.events.get("plan_late", 0) > 10, 60)
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

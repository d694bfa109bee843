"""Recording a run: cameras, joint feedback, commands, chunks, plan_info, what the policy intends
(plan markers, the commanded pose, the model's input images when the node publishes them) and
/diagnostics into an MCAP bag with the shared BagRecorder, for `wav run --record DIR` and the launch
files' `record:=true`; `wav view` draws the plan view from such a bag."""

from __future__ import annotations

import argparse
from pathlib import Path

from rclpy.qos import QoSProfile, QoSReliabilityPolicy

from wav_core.config.loader import load
from wav_core.config.robot import RobotConfig
from wav_core.runtime.config import policy_section

from .bag_recorder import BagRecorder

POLICY_NODE = "wav_policy"
PLAN_VIEW_TOPICS = ("plan_markers", "commanded_joint_states")
"""The policy node's ~/ topics showing what it intends (see wav_ros.policy_node)."""
MODEL_INPUT = "model_input"
"""~/model_input/<camera>: the frames the model read (only with the node's debug_images parameter)."""


def run_topics(path: str | Path, policy_node: str = POLICY_NODE) -> list[str]:
    """Every topic of a run of the config at `path`: inputs, outputs and what explains them."""
    robot = load(RobotConfig, path, section="robot")
    topics = [c.topic for c in robot.cameras]
    topics += [robot.joint_state_topic] if robot.joint_state_topic else [a.feedback_topic for a in robot.arms]
    topics += [a.command_topic for a in robot.arms]
    topics += [f"/{policy_node}/{t}" for t in ("action_chunk", "plan_info", "command_preview")]
    topics += [f"/{policy_node}/{t}" for t in PLAN_VIEW_TOPICS]
    topics += [f"/{policy_node}/{MODEL_INPUT}/{c.name}" for c in robot.cameras]
    topics += ["/diagnostics", robot.instruction_topic]
    cfg = policy_section(path)
    if cfg is not None:
        topics += [t for t in (cfg.estop_topic, cfg.driver_events_topic) if t]
    return list(dict.fromkeys(topics))


class RunRecorder(BagRecorder):
    """BagRecorder subscribing best effort, so it also hears the sensor-data publishers (cameras,
    feedback) that a reliable subscription would never match."""

    def _discover(self) -> None:
        self._qos = QoSProfile(depth=self._qos.depth, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        super()._discover()


def make_run_recorder(config: str | Path, out: str | Path, context=None, use_sim_time: bool = False) -> RunRecorder:
    from rclpy.parameter import Parameter

    rec = RunRecorder(out, run_topics(config), node_name="wav_recorder", context=context, qos_depth=200)
    rec.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, use_sim_time)])
    return rec


def main(args=None) -> None:
    """`python -m wav_ros.run_record --config X --out DIR` (the launch files' record:=true)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    from .config_file import resolve

    parser = argparse.ArgumentParser(description="record a run's topics into an MCAP bag")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--use-sim-time", action="store_true")
    ns, ros_args = parser.parse_known_args(args)
    rclpy.init(args=ros_args)
    rec = None
    try:
        rec = make_run_recorder(resolve(ns.config, "config"), ns.out, use_sim_time=ns.use_sim_time)
        ex = MultiThreadedExecutor()
        ex.add_node(rec)
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if rec is not None:
            rec.close()
            rec.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()

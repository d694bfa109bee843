"""The arms' feedback as one `/joint_states` with arm-prefixed names, for robot_state_publisher.

The driver publishes each arm on its own topic with bare names (`joint1`..`joint6`, `gripper`);
the rig's URDF (urdf/piper_dual.urdf) names them `<arm>_joint1`.. so both arms fit in one tree.
Each incoming message is republished at once with its stamp, prefixed names and values unchanged.

    ros2 run wav_ros joint_state_relay --ros-args -p config_file:=piper_drawer.yaml
"""

from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState

from wav_core.config.loader import ConfigError, load
from wav_core.config.robot import RobotConfig

from .config_file import resolve

OUTPUT_TOPIC = "/joint_states"


class JointStateRelay(Node):
    def __init__(self, config_file: str = "", robot: RobotConfig | None = None, **kwargs):
        super().__init__("joint_state_relay", **kwargs)
        self.declare_parameter("config_file", config_file)
        self.declare_parameter("output_topic", OUTPUT_TOPIC)
        if robot is None:
            path = self.get_parameter("config_file").value
            if not path:
                raise ConfigError("parameter config_file: empty; expected a YAML with a robot: section")
            robot = load(RobotConfig, resolve(path, "config"), section="robot")
        topic = self.get_parameter("output_topic").value
        self._pub = self.create_publisher(JointState, topic, 10)
        self._subs = [self.create_subscription(JointState, arm.feedback_topic, self._relay(arm.name), qos_profile_sensor_data)
                      for arm in robot.arms]
        self.get_logger().info(f"relaying {[a.feedback_topic for a in robot.arms]} -> {topic} with arm-prefixed names")

    def _relay(self, arm: str):
        def callback(msg: JointState) -> None:
            out = JointState(name=[f"{arm}_{n}" for n in msg.name], position=msg.position, velocity=msg.velocity, effort=msg.effort)
            out.header = msg.header
            self._pub.publish(out)

        return callback


def main(args=None) -> None:
    from .spin import run_node

    run_node(JointStateRelay, args)

"""Piper dual-arm + WAV policy: `ros2 launch wav_ros piper_drawer.launch.py`.

Starts the dual-arm driver (wav_ros piper_bridge, two CAN adapters) and the policy lifecycle node,
configured and activated; command output stays off until
`ros2 service call /wav_policy/enable std_srvs/srv/SetBool "{data: true}"`.
With `use_piper_ros:=true` the driver is not started: run the official piper_ros node once per arm
with the topics of config/piper_drawer.yaml (e.g. namespaces /left and /right).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import UnlessCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def generate_launch_description():
    default = os.path.join(get_package_share_directory("wav_ros"), "config", "piper_drawer.yaml")
    config = LaunchConfiguration("config_file")
    driver = Node(package="wav_ros", executable="piper_bridge", name="piper_bridge", output="screen",
                  parameters=[{"config_file": config}],
                  condition=UnlessCondition(LaunchConfiguration("use_piper_ros")))
    policy = LifecycleNode(package="wav_ros", executable="policy_node", name="wav_policy", namespace="",
                           output="screen", parameters=[{"config_file": config}])
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=policy, goal_state="inactive",
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                              transition_id=Transition.TRANSITION_ACTIVATE))]))
    return LaunchDescription([
        DeclareLaunchArgument("config_file", default_value=default),
        DeclareLaunchArgument("use_piper_ros", default_value="false"),
        driver, policy, activate, configure,
    ])

"""Simulated Piper dual-arm + WAV policy: `ros2 launch wav_ros sim_drawer.launch.py`.

The simulator drives /clock, so the policy runs on sim time. The policy node is a lifecycle node:
this file configures and activates it; command output stays off until `ros2 service call
/wav_policy/enable std_srvs/srv/SetBool "{data: true}"`.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def generate_launch_description():
    default = os.path.join(get_package_share_directory("wav_ros"), "config", "sim_drawer.yaml")
    config = LaunchConfiguration("config_file")
    sim = Node(package="wav_ros", executable="sim_node", name="wav_sim", output="screen",
               parameters=[{"config_file": config}])
    policy = LifecycleNode(package="wav_ros", executable="policy_node", name="wav_policy", namespace="",
                           output="screen", parameters=[{"config_file": config, "use_sim_time": True}])
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=policy, goal_state="inactive",
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                              transition_id=Transition.TRANSITION_ACTIVATE))]))
    return LaunchDescription([
        DeclareLaunchArgument("config_file", default_value=default),
        sim, policy, activate, configure,
    ])

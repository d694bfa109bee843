"""Piper dual-arm + WAV policy: `ros2 launch wav_ros piper_drawer.launch.py`.

Starts the dual-arm driver (wav_ros piper_bridge, two CAN adapters) and the policy lifecycle node,
configured and activated; command output stays off until
`ros2 service call /wav_policy/enable std_srvs/srv/SetBool "{data: true}"`.
`record:=true record_dir:=DIR` records the run into an MCAP bag; `dry_run:=true` runs the whole path
but publishes the 200 Hz set-points on /wav_policy/command_preview instead of commanding the arms.
The rig's TF comes from urdf/piper_dual.urdf: robot_state_publisher on the measured joints (relayed
to /joint_states with arm-prefixed names) and a second one under the namespace commanded/ (frames
commanded/...) on /wav_policy/commanded_joint_states. `debug_images:=true` also publishes the frames
the model reads on /wav_policy/model_input/<camera>. View it all with `rviz2 -d
$(ros2 pkg prefix wav_ros)/share/wav_ros/config/wav_plan.rviz` or Foxglove's config/foxglove_layout.json.
With `use_piper_ros:=true` the driver is not started: run the official piper_ros node once per arm
with the topics of config/piper_drawer.yaml (e.g. namespaces /left and /right).
"""

import os
import sys

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, RegisterEventHandler
from launch.conditions import IfCondition, UnlessCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition

from wav_ros.rig_view_launch import rig_view_nodes


def generate_launch_description():
    default = os.path.join(get_package_share_directory("wav_ros"), "config", "piper_drawer.yaml")
    config = LaunchConfiguration("config_file")
    driver = Node(package="wav_ros", executable="piper_bridge", name="piper_bridge", output="screen",
                  parameters=[{"config_file": config}],
                  condition=UnlessCondition(LaunchConfiguration("use_piper_ros")))
    policy = LifecycleNode(package="wav_ros", executable="policy_node", name="wav_policy", namespace="",
                           output="screen", parameters=[{"config_file": config,
                                                  "debug_images": ParameterValue(LaunchConfiguration("debug_images"), value_type=bool),
                                                  "dry_run": ParameterValue(LaunchConfiguration("dry_run"), value_type=bool)}])
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    # Only the configure transition (configuring -> inactive) activates: an operator's deactivate
    # (deactivating -> inactive) stays deactivated.
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=policy, start_state="configuring", goal_state="inactive",
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(policy),
                                              transition_id=Transition.TRANSITION_ACTIVATE))]))
    record = ExecuteProcess(
        cmd=[sys.executable, "-m", "wav_ros.run_record", "--config", config, "--out", LaunchConfiguration("record_dir")],
        output="screen", condition=IfCondition(LaunchConfiguration("record")))
    return LaunchDescription([
        DeclareLaunchArgument("config_file", default_value=default),
        DeclareLaunchArgument("record", default_value="false", description="record the run into an MCAP bag"),
        DeclareLaunchArgument("record_dir", default_value="wav_run_bag", description="new bag directory for record:=true"),
        DeclareLaunchArgument("debug_images", default_value="false",
                              description="publish the frames the model reads on /wav_policy/model_input/<camera>"),
        DeclareLaunchArgument("dry_run", default_value="false",
                              description="publish set-points on /wav_policy/command_preview instead of commanding"),
        DeclareLaunchArgument("use_piper_ros", default_value="false"),
        driver, policy, activate, configure, *rig_view_nodes(config, use_sim_time=False), record,
    ])

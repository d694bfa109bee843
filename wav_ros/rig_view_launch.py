"""The rig's two robot models, for both launch files: robot_state_publisher on the measured joints
(the driver's per-arm feedback relayed to /joint_states with the URDF's names) and a second one under
commanded/ on the policy's commanded pose, rooted at base_link so both share one TF tree.

Only launch files import this (launch_ros is a system ROS 2 package)."""

import os


def rig_view_nodes(config, use_sim_time: bool) -> list:
    """The relay, both state publishers and the static root; `config` is the launch file's
    config_file substitution."""
    from ament_index_python.packages import get_package_share_directory
    from launch_ros.actions import Node

    with open(os.path.join(get_package_share_directory("wav_ros"), "urdf", "piper_dual.urdf")) as f:
        robot_description = f.read()
    relay = Node(package="wav_ros", executable="joint_state_relay", name="joint_state_relay", output="screen",
                 parameters=[{"config_file": config, "use_sim_time": use_sim_time}])  # -> /joint_states
    measured = Node(package="robot_state_publisher", executable="robot_state_publisher", name="robot_state_publisher",
                    output="screen", parameters=[{"robot_description": robot_description, "use_sim_time": use_sim_time}])
    commanded = Node(package="robot_state_publisher", executable="robot_state_publisher", name="robot_state_publisher",
                     namespace="commanded", output="screen",
                     parameters=[{"robot_description": robot_description, "frame_prefix": "commanded/",
                                  "use_sim_time": use_sim_time}],
                     remappings=[("joint_states", "/wav_policy/commanded_joint_states")])
    commanded_root = Node(package="tf2_ros", executable="static_transform_publisher", name="commanded_base_link",
                          output="screen", arguments=["--frame-id", "base_link", "--child-frame-id", "commanded/base_link"],
                          parameters=[{"use_sim_time": use_sim_time}])
    return [relay, measured, commanded, commanded_root]

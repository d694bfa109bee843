"""ROS 2 nodes of wav: the Piper driver and the policy's runtime (rclpy is imported only in here)."""

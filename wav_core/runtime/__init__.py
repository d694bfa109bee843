"""ROS-free runtime logic shared by evaluation, offline replay and the live node."""

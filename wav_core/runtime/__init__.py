"""ROS-free runtime shared by evaluation, offline replay and the live node: the ControlLoop
(control_loop.py) and its parts (observation history, chunk executor, safety filter, planner client)."""

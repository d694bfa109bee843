"""Pictures of what the policy planned, drawn from recorded runs without ROS (`wav view`)."""

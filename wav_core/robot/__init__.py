"""The AgileX Piper dual-arm: joint layout, limits and units (no ROS, no SDK)."""

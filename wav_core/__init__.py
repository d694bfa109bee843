"""wav_core: the World-Value-Action policy in PyTorch (no ROS imports)."""

__version__ = "0.1.0"

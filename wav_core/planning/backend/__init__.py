"""What runs the planner's networks: eager PyTorch (the reference), one captured CUDA graph per plan,
ONNX Runtime sessions, or TensorRT engines, all behind `Backend`."""

from .base import Backend, States
from .factory import BACKENDS, BackendFallbackWarning, BackendUnavailable, make_backend

__all__ = ["Backend", "States", "BACKENDS", "BackendFallbackWarning", "BackendUnavailable", "make_backend"]

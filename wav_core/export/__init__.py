"""Exporting a model for the real-time backends: ONNX graphs with static shapes for the planner's
batch sizes, a manifest that detects stale exports, and TensorRT engines built from them."""

from .manifest import MANIFEST_FILE, Manifest, read_manifest, stale_reason, weights_digest
from .onnx_graphs import OPSET, ensure_onnx, export_dir_for, export_onnx, graph_specs, onnx_folder

__all__ = ["MANIFEST_FILE", "Manifest", "read_manifest", "stale_reason", "weights_digest", "OPSET", "ensure_onnx", "export_dir_for",
           "export_onnx", "graph_specs", "onnx_folder"]

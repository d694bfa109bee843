"""TensorRT engines built from the exported ONNX graphs, cached on disk.

An engine is only valid for the GPU model, the TensorRT version and the shapes it was built for, so
those (with the weights digest and the precision) form its cache key; a changed key builds a new one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .manifest import Manifest

PRECISIONS = ("fp32", "fp16", "bf16")


def engine_key(manifest: Manifest, graph: str, precision: str, gpu_name: str, trt_version: str) -> str:
    spec = manifest.graphs[graph]
    blob = json.dumps({"gpu": gpu_name, "tensorrt": trt_version, "precision": precision, "graph": graph,
                       "inputs": spec["inputs"], "outputs": spec["outputs"], "weights": manifest.weights_sha256,
                       "config": manifest.config_sha256, "opset": manifest.opset}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def build_engine(trt, onnx_path: Path, precision: str, workspace_bytes: int = 1 << 30):
    """Parse one ONNX graph and build a serialized engine (TensorRT 10 API); returns its bytes."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: got {precision!r}, expected one of {list(PRECISIONS)}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"{onnx_path}: TensorRT could not parse the graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ValueError(f"{onnx_path}: TensorRT failed to build an engine at {precision}")
    return bytes(serialized)


def ensure_engines(onnx_dir: Path, manifest: Manifest, precision: str = "fp16") -> dict[str, Path]:
    """Engine files for every graph in the export, built where the cache has none for this key."""
    import tensorrt as trt
    import torch

    gpu = torch.cuda.get_device_name()
    cache = Path(onnx_dir) / "tensorrt"
    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    for graph, spec in manifest.graphs.items():
        key = engine_key(manifest, graph, precision, gpu, trt.__version__)
        path = cache / f"{graph}-{precision}-{key}.engine"
        if not path.is_file():
            data = build_engine(trt, Path(onnx_dir) / spec["file"], precision)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        paths[graph] = path
    return paths

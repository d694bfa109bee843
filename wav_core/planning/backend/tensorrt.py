"""TensorRT engines for the planner's networks, run with execute_async_v3 on torch's current stream
and captured, together with the planner's own tensor work, into one CUDA graph per plan.

Each engine gets input and output buffers allocated once; the planner's tensors are copied into the
inputs, and the outputs are returned as-is (valid until that engine runs again, which in a plan is
always after they have been consumed).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...model.wav import Context, WAVModel
from ..config import PlannerConfig
from .base import Backend
from .cudagraph import GraphPlanMixin
from .factory import BackendUnavailable


class _Engine:
    def __init__(self, trt, runtime, path: Path, device: torch.device):
        self.engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise ValueError(f"{path}: TensorRT could not deserialize the engine (delete it to rebuild)")
        self.context = self.engine.create_execution_context()
        self.buffers: dict[str, torch.Tensor] = {}
        self.inputs, self.outputs = [], []
        dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
                  trt.DataType.BF16: torch.bfloat16, trt.DataType.BOOL: torch.bool, trt.DataType.INT32: torch.int32,
                  trt.DataType.INT64: torch.int64}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            shape = tuple(self.engine.get_tensor_shape(name))
            buf = torch.empty(shape, dtype=dtypes[self.engine.get_tensor_dtype(name)], device=device)
            self.buffers[name] = buf
            self.context.set_tensor_address(name, buf.data_ptr())
            (self.inputs if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else self.outputs).append(name)

    def alias(self, name: str, tensor: torch.Tensor) -> bool:
        """Read input `name` straight from `tensor` (another engine's output) when shapes and dtypes
        agree, so the stacked world states are not copied into every value and action engine."""
        buf = self.buffers.get(name)
        if name not in self.inputs or buf is None or buf.shape != tensor.shape or buf.dtype != tensor.dtype:
            return False
        self.buffers[name] = tensor
        self.context.set_tensor_address(name, tensor.data_ptr())
        return True

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        for name in self.inputs:
            if inputs[name].data_ptr() != self.buffers[name].data_ptr():
                self.buffers[name].copy_(inputs[name])
        if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        return self.buffers[self.outputs[0]]


class TensorRTBackend(GraphPlanMixin, Backend):
    name = "tensorrt"

    def __init__(self, model: WAVModel, cfg: PlannerConfig, model_dir: str | Path | None = None,
                 onnx_dir: str | Path | None = None, precision: str = "fp16", graph: bool = True):
        """`precision`: "fp32", "fp16" or "bf16" engines; `graph`: capture whole plans as CUDA graphs
        (False runs the engines step by step under the planner, e.g. to honour `deadline_ms`)."""
        try:
            import tensorrt as trt
        except ImportError as exc:
            raise BackendUnavailable(f"tensorrt not importable: {exc}") from None
        if not torch.cuda.is_available():
            raise BackendUnavailable("CUDA not available: TensorRT needs an NVIDIA GPU")
        from ...export.onnx_graphs import ensure_onnx, export_dir_for
        from ...export.tensorrt_engines import ensure_engines

        super().__init__(model, cfg)
        if self.device.type != "cuda":
            raise BackendUnavailable(f"the model is on {self.device}; TensorRT needs it on a CUDA device")
        self.captures_plan = graph
        # TensorRT parses standard ONNX only (no ONNX Runtime contrib operators).
        self.onnx_dir, digest = export_dir_for(model, cfg, model_dir, onnx_dir, attention="standard")
        manifest = ensure_onnx(model, cfg, self.onnx_dir, digest=digest, attention="standard")
        paths = ensure_engines(self.onnx_dir, manifest, precision)
        self.precision = precision
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engines = {name: _Engine(trt, runtime, path, self.device) for name, path in paths.items()}
        worlds = [e.buffers[e.outputs[0]] for n, e in self.engines.items() if n.startswith("world_")]
        for name, engine in self.engines.items():
            if name.startswith("world_") or "states" not in engine.inputs:
                continue
            for out in worlds:
                if engine.alias("states", out):
                    break

    def _engine(self, graph: str) -> _Engine:
        if graph not in self.engines:
            raise ValueError(f"tensorrt backend: no engine {graph!r} (have {sorted(self.engines)})")
        return self.engines[graph]

    def features(self, ctx: Context, z_vid: torch.Tensor) -> torch.Tensor:
        return self._engine(f"world_b{z_vid.shape[0]}")(memory=ctx.memory, text=ctx.text, text_mask=ctx.text_mask,
                                                        z_vid=z_vid)

    def values(self, states: torch.Tensor, z_val: torch.Tensor) -> torch.Tensor:
        return self._engine(f"value_b{z_val.shape[0]}")(states=states, z_val=z_val).float()

    def actions(self, states: torch.Tensor, z_val: torch.Tensor, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        noise = self.action_noise(states, state, noise)
        return self._engine(f"action_b{noise.shape[0]}")(states=states, z_val=z_val, state=state, noise=noise).float()

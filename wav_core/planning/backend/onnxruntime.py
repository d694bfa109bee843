"""ONNX Runtime sessions for the planner's networks; the planner loop stays in PyTorch around them.

Inputs and outputs are bound in place (IO binding on torch tensors' memory), so no copies happen
between the planner's tensors and the sessions, on CPU as on CUDA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...model.flow import euler_solve
from ...model.wav import Context, WAVModel
from ..config import PlannerConfig
from .base import Backend
from .factory import BackendUnavailable

_NP = {"float32": np.float32, "bool": np.bool_}
_TORCH = {"float32": torch.float32, "bool": torch.bool}


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, model: WAVModel, cfg: PlannerConfig, model_dir: str | Path | None = None,
                 onnx_dir: str | Path | None = None, providers: list[str] | None = None, threads: int = 0,
                 solve: str = "unrolled", attention: str = "fused"):
        """`onnx_dir`: where the export lives (rebuilt there if stale; default MODEL_DIR/onnx or a
        temp cache); `providers`: ORT execution providers (default: CUDA when the model is on a GPU
        and ORT has it, else CPU); `threads`: intra-op threads (0: ORT's default); `solve`:
        "unrolled" flow solves in one graph run, or "step": one run per flow step; `attention`:
        "fused" (ONNX Runtime's MultiHeadAttention operator) or "standard" ONNX ops."""
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable(f"onnxruntime not installed: {exc}") from None
        try:
            import onnx  # noqa: F401  (the export checks every graph)
        except ImportError as exc:
            raise BackendUnavailable(f"onnx not installed, needed to export the graphs: {exc}") from None
        from ...export.onnx_graphs import ensure_onnx, export_dir_for

        super().__init__(model, cfg)
        available = ort.get_available_providers()
        if providers is None:
            cuda = self.device.type == "cuda" and "CUDAExecutionProvider" in available
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        unknown = [p for p in providers if p not in available]
        if unknown:
            raise BackendUnavailable(f"onnxruntime execution providers {unknown} not available (have {available})")
        self.providers = providers
        self.io_device = "cuda" if providers[0] == "CUDAExecutionProvider" else "cpu"
        self._torch_io = torch.device("cuda", self.device.index or 0) if self.io_device == "cuda" else torch.device("cpu")
        self.onnx_dir, digest = export_dir_for(model, cfg, model_dir, onnx_dir, solve, attention)
        self.manifest = ensure_onnx(model, cfg, self.onnx_dir, digest=digest, solve=solve, attention=attention)
        self.solve = solve
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        # Between session runs the planner's own torch ops run on the same cores: idle ORT workers
        # must sleep rather than spin, or they steal those cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sessions = {name: ort.InferenceSession(str(self.onnx_dir / g["file"]), opts, providers=providers)
                         for name, g in self.manifest.graphs.items()}

    def _run(self, graph: str, **inputs: torch.Tensor):
        """One session run; the output tensor (a tuple when the graph has several)."""
        if graph not in self.sessions:
            raise ValueError(f"onnxruntime backend: no exported graph {graph!r} in {self.onnx_dir} "
                             f"(have {sorted(self.sessions)}; the export is for planner sizes {self.manifest.planner})")
        spec = self.manifest.graphs[graph]
        session = self.sessions[graph]
        binding = session.io_binding()
        keep = []  # the bound memory must outlive the run
        for name, (shape, dtype) in spec["inputs"].items():
            t = inputs[name].detach()
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"onnxruntime backend: {graph}.{name} got shape {tuple(t.shape)}, expected {tuple(shape)}")
            t = t.to(self._torch_io, _TORCH[dtype]).contiguous()
            keep.append(t)
            binding.bind_input(name, self.io_device, self._torch_io.index or 0, _NP[dtype], list(shape), t.data_ptr())
        outs = []
        for out_name, (shape, dtype) in spec["outputs"].items():
            out = torch.empty(shape, dtype=_TORCH[dtype], device=self._torch_io)
            binding.bind_output(out_name, self.io_device, self._torch_io.index or 0, _NP[dtype], list(shape), out.data_ptr())
            outs.append(out)
        session.run_with_iobinding(binding)
        outs = [o.to(self.device) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def features(self, ctx: Context, z_vid: torch.Tensor) -> torch.Tensor:
        return self._run(f"world_b{z_vid.shape[0]}", memory=ctx.memory, text=ctx.text, text_mask=ctx.text_mask,
                         z_vid=z_vid)

    def values(self, states: torch.Tensor, z_val: torch.Tensor) -> torch.Tensor:
        b = z_val.shape[0]
        if self.solve == "unrolled":
            return self._run(f"value_b{b}", states=states, z_val=z_val)
        kv = self._run(f"value_kv_b{states.shape[1]}", states=states)
        return euler_solve(lambda x, t: self._run(f"value_step_b{b}", kv=kv, x=x, t=t), z_val,
                           self.cfg.value_solve_steps)

    def actions(self, states: torch.Tensor, z_val: torch.Tensor, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        b = noise.shape[0]
        noise = self.action_noise(states, state, noise)
        if self.solve == "unrolled":
            return self._run(f"action_b{b}", states=states, z_val=z_val, state=state, noise=noise)
        video_kv, value_kv = self._run(f"action_kv_b{b}", states=states, z_val=z_val)
        actions = euler_solve(lambda x, t: self._run(f"action_step_b{b}", video_kv=video_kv, value_kv=value_kv,
                                                     x=x, t=t, state=state), noise, self.cfg.S)
        dev = next(self.model.parameters()).device  # the prior, a small MLP, runs in PyTorch
        return self.with_prior(actions, [s.to(dev) for s in states.unbind(0)], state.to(dev))

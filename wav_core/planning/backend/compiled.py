"""The three networks compiled by torch.compile (inductor: fused kernels instead of thousands of
small ones), optionally in bf16, and on a GPU the whole plan over them captured as one CUDA graph.

Compiling each network's forward rather than the whole plan keeps the compiled graphs small and
shared by every iteration and flow step (the plan's Python loops are unrolled only by the capture),
so compilation takes seconds, not minutes. The policy's model is left as it is: the backend works on
a shallow copy whose world, value and action modules are the compiled wrappers of the same weights.
"""

from __future__ import annotations

import copy

import torch

from ...model.wav import WAVModel
from ..config import PlannerConfig
from .base import Backend
from .cudagraph import GraphPlanMixin
from .factory import BackendUnavailable

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def compiled_copy(model: WAVModel) -> WAVModel:
    """The same model (same parameters) with its world, value and action modules compiled."""
    if not hasattr(torch, "compile"):
        raise BackendUnavailable(f"torch {torch.__version__} has no torch.compile")
    twin = copy.copy(model)
    twin._modules = dict(model._modules)
    for name in ("world", "value", "action"):
        setattr(twin, name, torch.compile(getattr(model, name), dynamic=False))
    return twin


class CompiledBackend(GraphPlanMixin, Backend):
    """On CUDA a whole-plan backend (capture on the first decision, replay afterwards); on the CPU
    the planner drives the compiled networks step by step, so its deadline still applies there."""

    name = "torch-compile"

    def __init__(self, model: WAVModel, cfg: PlannerConfig, precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"backend 'torch-compile': precision got {precision!r}, expected one of {list(PRECISIONS)}")
        device = next(model.parameters()).device
        if precision != "fp32" and device.type != "cuda":
            raise BackendUnavailable(f"precision {precision}: bf16 planning is for CUDA devices, the model is on {device}")
        super().__init__(compiled_copy(model), cfg)
        self.precision = precision
        self.dtype = PRECISIONS[precision]
        self.captures_plan = self.device.type == "cuda"

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)

    # The networks run in self.dtype; what the planner computes from them (scores, elites,
    # Gaussians, executed actions) stays fp32.
    def features(self, ctx, z_vid):
        with self._autocast():
            return super().features(ctx, z_vid)

    def values(self, states, z_val):
        with self._autocast():
            return super().values(states, z_val).float()

    def actions(self, states, value, state, noise):
        with self._autocast():
            return super().actions(states, value, state, noise).float()

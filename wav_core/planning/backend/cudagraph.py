"""The whole plan captured once as one CUDA graph and replayed per decision.

At control rates the eager planner spends most of its time launching thousands of small kernels
from Python; a replay launches them all at once. Noise is drawn by the caller (PlanNoise) and copied
into static buffers, so the captured graph holds no random generator state.
"""

from __future__ import annotations

import time

import torch

from ...model.normalize import Normalizer
from ...model.wav import WAVModel
from ..config import PlannerConfig
from .base import Backend
from .factory import BackendUnavailable


def capture(fn, warmup: int = 2) -> torch.cuda.CUDAGraph:
    """Run `fn` a few times on a side stream (lazy initialisation, workspace allocation), then
    record it into a CUDA graph."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


class GraphPlanMixin:
    """Whole-plan execution over a StaticPlan: capture on the first decision, replay afterwards.

    Every decision runs all K iterations (the graph is fixed), so `deadline_ms` does not shorten a
    plan here; the replayed plan's latency is what to budget for.
    """

    captures_plan = True
    _static = None
    _graph = None

    def plan(self, ctx, state, noise, start, normalizer: Normalizer):
        from .static_plan import StaticPlan

        t0 = time.perf_counter()
        if self._static is None:
            self._static = StaticPlan(self, normalizer, self.cfg)
        if self._static.load(ctx, state, noise, start) or self._graph is None:
            self._graph = capture(self._static.run)
        self._graph.replay()
        torch.cuda.synchronize(self.device)
        return self._static.result({"total": (time.perf_counter() - t0) * 1000})


class CudaGraphBackend(GraphPlanMixin, Backend):
    name = "torch-cudagraph"

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        if not torch.cuda.is_available():
            raise BackendUnavailable("CUDA not available: CUDA graphs need an NVIDIA GPU and a CUDA build of torch")
        super().__init__(model, cfg)
        if self.device.type != "cuda":
            raise BackendUnavailable(f"the model is on {self.device}; CUDA graphs need it on a CUDA device "
                                     "(WAVPolicy.load(..., device='cuda'))")

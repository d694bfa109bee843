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
    """Plans over a StaticPlan: one planning iteration and the decode each captured as a CUDA graph
    on the first decision, then replayed: K iteration replays, cut short by `deadline_ms` as the
    eager planner cuts its loop, and one decode replay."""

    captures_plan = True
    _static = None
    _graphs = None

    def plan(self, ctx, state, noise, start, normalizer: Normalizer, started: float, budget):
        from .static_plan import StaticPlan

        if self._static is None:
            self._static = StaticPlan(self, normalizer, self.cfg)
        static = self._static
        if static.load(ctx, state, noise, start) or self._graphs is None:
            static.begin()
            replay_iteration = lambda: None  # noqa: E731 (K = 0: no iteration to capture or run)
            if self.cfg.K > 0:
                static.select(0)
                replay_iteration = capture(static.run_iteration).replay
            self._graphs = (replay_iteration, capture(static.run_decode).replay)
        static.execute(*self._graphs, budget, started, self.sync)
        self.sync()
        return static.result({"total": (time.perf_counter() - started) * 1000})


class CudaGraphBackend(GraphPlanMixin, Backend):
    name = "torch-cudagraph"

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        if not torch.cuda.is_available():
            raise BackendUnavailable("CUDA not available: CUDA graphs need an NVIDIA GPU and a CUDA build of torch")
        super().__init__(model, cfg)
        if self.device.type != "cuda":
            raise BackendUnavailable(f"the model is on {self.device}; CUDA graphs need it on a CUDA device "
                                     "(WAVPolicy.load(..., device='cuda'))")

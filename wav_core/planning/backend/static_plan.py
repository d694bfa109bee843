"""A plan as fixed computations over static buffers, ready for CUDA graph capture.

Every input (observation context, proprio state, all noise, the start Gaussians) lives in a buffer
allocated once and refilled in place before each decision. `run_iteration` (one planning iteration
on the current Gaussians and the iteration's noise buffers) and `run_decode` (the executed chunk) are
pure tensor work with no data-dependent Python control flow (elites by torch.topk) and write into
static buffers; captured once each, a decision is K iteration replays and a decode replay, between
which `execute` applies the deadline (IterationBudget). Called eagerly, the same pieces are checked
against the reference planner on any machine (`run`).
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from ...model.normalize import Normalizer
from ...model.wav import Context
from ..config import PlannerConfig
from ..gaussian import Gaussians
from ..iteration import Chosen, Networks, chosen, decode, draw, iterate
from ..budget import IterationBudget
from ..noise import PlanNoise
from ..planner import PlanTensors, reads_values
from ..scoring import score_values, snr
from .base import Backend


class StaticPlan:
    def __init__(self, backend: Backend, normalizer: Normalizer, cfg: PlannerConfig):
        self.backend, self.cfg, self.normalizer = backend, cfg, normalizer
        mc = backend.model.cfg
        dev = backend.device
        z = dict(device=dev, dtype=torch.float32)
        self.ctx: Context | None = None
        self.state = torch.zeros(1, mc.state_dim, **z)
        # Placeholder draws (overwritten by every load) from a private generator, not the global one.
        self.noise = PlanNoise.sample(mc, cfg, torch.Generator(device=dev).manual_seed(0), dev)
        self.start = Gaussians.standard(backend.model, dev)
        self.g = Gaussians.standard(backend.model, dev)  # the current Gaussians, updated by each iteration
        # One iteration's noise (a plan of K = 0 has none to copy from, and runs no iteration).
        self.video_k = torch.zeros(self.noise.video.shape[1:], **z)
        self.value_k = torch.zeros(self.noise.value.shape[1:], **z)
        self.step_scores = torch.zeros(2, **z)  # the iteration's best and mean score
        # `final: best`: the last iteration's best candidate (begin() sets the draw a plan without
        # iterations decodes, so one captured decode serves every iteration count).
        self.best = Chosen(torch.zeros(1, *mc.future_latent_shape, **z), torch.zeros(1, *mc.value_shape, **z))
        self.iterations = 0
        h, c = mc.value_shape
        self.out = {
            "actions": torch.zeros(mc.action_horizon, mc.action_dim, **z), "values": torch.zeros(h, c, **z),
            "chosen_snr": torch.zeros((), **z), "chosen_score": torch.zeros((), **z), "best_snr": torch.zeros(cfg.K, **z), "mean_snr": torch.zeros(cfg.K, **z),
            "gaussians": Gaussians.standard(backend.model, dev),
        }

    def load(self, ctx: Context, state: torch.Tensor, noise: PlanNoise, start: Gaussians | None) -> bool:
        """Copy one decision's inputs into the buffers. Returns True when the context buffers had to
        be (re)allocated, which invalidates a captured graph."""
        fresh = self.ctx is None or any(a.shape != b.shape or a.dtype != b.dtype for a, b in
                                        zip((self.ctx.memory, self.ctx.text, self.ctx.text_mask),
                                            (ctx.memory, ctx.text, ctx.text_mask)))
        if fresh:
            self.ctx = Context(ctx.memory.detach().clone(), ctx.text.detach().clone(), ctx.text_mask.clone())
        else:
            self.ctx.memory.copy_(ctx.memory)
            self.ctx.text.copy_(ctx.text)
            self.ctx.text_mask.copy_(ctx.text_mask)
        self.state.copy_(state)
        for name in ("video", "value", "final_video", "final_value", "action"):
            getattr(self.noise, name).copy_(getattr(noise, name))
        src = start or Gaussians.standard(self.backend.model, self.state.device)
        for name in ("video_mean", "video_std", "value_mean", "value_std"):
            getattr(self.start, name).copy_(getattr(src, name))
        return fresh

    def begin(self) -> None:
        for name in ("video_mean", "video_std", "value_mean", "value_std"):
            getattr(self.g, name).copy_(getattr(self.start, name))
        first = draw(self.start, self.noise)
        self.best.video.copy_(first.video)
        self.best.value.copy_(first.value)

    def run_iteration(self) -> None:
        """One iteration on the current Gaussians and the iteration's noise buffers (`select`)."""
        g, scores, best = iterate(Networks.of(self.backend), self.ctx, self.g, self.video_k, self.value_k, self.cfg)
        for name in ("video_mean", "video_std", "value_mean", "value_std"):
            getattr(self.g, name).copy_(getattr(g, name))
        self.best.video.copy_(best.video)
        self.best.value.copy_(best.value)
        self.step_scores[0].copy_(scores.max())
        self.step_scores[1].copy_(scores.mean())

    def select(self, k: int) -> None:
        """Iteration k's noise into the buffers run_iteration reads."""
        self.video_k.copy_(self.noise.video[k])
        self.value_k.copy_(self.noise.value[k])

    def run_decode(self) -> None:
        """The executed chunk from the current Gaussians, as the eager planner decodes it; values stay
        normalised here and are converted to robot units in `result`, outside any captured region."""
        out = self.out
        choice = chosen(self.cfg, self.g, self.noise, self.best)
        actions, values = decode(Networks.of(self.backend), self.ctx, choice, self.noise, self.state,
                                 reads_values(self.backend.model))
        out["actions"].copy_(actions[0])
        out["values"].copy_(values[0])
        out["chosen_snr"].copy_(snr(values, self.cfg.snr_eps)[0])
        out["chosen_score"].copy_(score_values(values, self.cfg.score, self.cfg.snr_eps)[0])
        dst = out["gaussians"]
        for name in ("video_mean", "video_std", "value_mean", "value_std"):
            getattr(dst, name).copy_(getattr(self.g, name))

    def execute(self, iteration: Callable[[], None], final: Callable[[], None], budget: IterationBudget,
                started: float, sync: Callable[[], None]) -> int:
        """A decision: `iteration` (run_iteration or its graph's replay) while the budget allows, at
        most K times, then `final` (run_decode or its replay). The device is waited for after each
        piece only under a deadline, to measure it. Returns the iterations run."""
        self.begin()
        self.iterations = 0
        for k in range(self.cfg.K):
            if not budget.allows(started):
                break
            t = time.perf_counter()
            self.select(k)
            iteration()
            self.out["best_snr"][k].copy_(self.step_scores[0])
            self.out["mean_snr"][k].copy_(self.step_scores[1])
            self.iterations += 1
            if budget.active:
                sync()
                budget.iteration((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        final()
        if budget.active:
            sync()
            budget.final((time.perf_counter() - t) * 1000)
        return self.iterations

    def run(self) -> None:
        """The whole plan eagerly, every iteration."""
        self.execute(self.run_iteration, self.run_decode, IterationBudget(0.0), time.perf_counter(), lambda: None)

    def result(self, timings_ms: dict[str, float]) -> PlanTensors:
        """Copies of the output buffers (the next replay overwrites them)."""
        out = self.out
        g = out["gaussians"]
        return PlanTensors(
            actions=out["actions"].clone(), values=self.normalizer.value_inverse(out["values"].clone()),
            chosen_snr=out["chosen_snr"].clone(), chosen_score=out["chosen_score"].clone(),
            best_snr=list(out["best_snr"][:self.iterations].clone().unbind(0)),
            mean_snr=list(out["mean_snr"][:self.iterations].clone().unbind(0)), iterations=self.iterations,
            gaussians=Gaussians(g.video_mean.clone(), g.video_std.clone(), g.value_mean.clone(), g.value_std.clone()),
            timings_ms=timings_ms,
        )

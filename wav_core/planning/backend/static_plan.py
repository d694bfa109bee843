"""A whole plan as one fixed computation over static buffers, ready for CUDA graph capture.

Every input (observation context, proprio state, all noise, the start Gaussians) lives in a buffer
allocated once and refilled in place before each decision; `run` is pure tensor work with no
data-dependent Python control flow (elites by torch.topk, K a fixed loop count) and writes its
results into output buffers. Captured once, a decision is then a single graph replay. `run` can also
be called eagerly, which is how it is checked against the reference planner on any machine.
"""

from __future__ import annotations

import torch

from ...model.normalize import Normalizer
from ...model.wav import Context
from ..config import PlannerConfig
from ..gaussian import Gaussians
from ..iteration import Networks, decode, iterate
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

    def run(self) -> None:
        """The plan, as the eager planner runs it (the same `iterate` and `decode`), writing into the
        output buffers; values stay normalised here and are converted to robot units in `result`,
        outside any captured region."""
        cfg, noise, out = self.cfg, self.noise, self.out
        nets = Networks.of(self.backend)
        g = self.start
        for k in range(cfg.K):
            g, scores = iterate(nets, self.ctx, g, noise.video[k], noise.value[k], cfg)
            out["best_snr"][k].copy_(scores.max())
            out["mean_snr"][k].copy_(scores.mean())
        actions, values = decode(nets, self.ctx, g, noise, self.state, reads_values(self.backend.model))
        out["actions"].copy_(actions[0])
        out["values"].copy_(values[0])
        out["chosen_snr"].copy_(snr(values, cfg.snr_eps)[0])
        out["chosen_score"].copy_(score_values(values, cfg.score, cfg.snr_eps)[0])
        dst = out["gaussians"]
        for name in ("video_mean", "video_std", "value_mean", "value_std"):
            getattr(dst, name).copy_(getattr(g, name))

    def result(self, timings_ms: dict[str, float]) -> PlanTensors:
        """Copies of the output buffers (the next replay overwrites them)."""
        out = self.out
        g = out["gaussians"]
        return PlanTensors(
            actions=out["actions"].clone(), values=self.normalizer.value_inverse(out["values"].clone()),
            chosen_snr=out["chosen_snr"].clone(), chosen_score=out["chosen_score"].clone(),
            best_snr=list(out["best_snr"].clone().unbind(0)), mean_snr=list(out["mean_snr"].clone().unbind(0)),
            iterations=self.cfg.K,
            gaussians=Gaussians(g.video_mean.clone(), g.video_std.clone(), g.value_mean.clone(), g.value_std.clone()),
            timings_ms=timings_ms,
        )

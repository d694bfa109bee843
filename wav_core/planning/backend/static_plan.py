"""A whole plan as one fixed computation over static buffers, ready for CUDA graph capture.

Every input (observation context, proprio state, all noise, the start Gaussians) lives in a buffer
allocated once and refilled in place before each decision; `run` is pure tensor work with no
data-dependent Python control flow (elites by torch.topk, K a fixed loop count) and writes its
results into output buffers. Captured once, a decision is then a single graph replay. `run` can also
be called eagerly, which is how it is checked against the reference planner on any machine.
"""

from __future__ import annotations

import torch

from ...model.flow import symexp
from ...model.normalize import Normalizer
from ...model.wav import Context
from ..config import PlannerConfig
from ..gaussian import elite_update
from ..noise import PlanNoise
from ..planner import Gaussians, PlanTensors
from ..scoring import snr
from .base import Backend


class StaticPlan:
    def __init__(self, backend: Backend, normalizer: Normalizer, cfg: PlannerConfig):
        self.backend, self.cfg = backend, cfg
        mc = backend.model.cfg
        dev = backend.device
        z = dict(device=dev, dtype=torch.float32)
        # The value un-normalisation as device constants: building them per call would copy from
        # the host inside the captured region.
        self.value_mean = torch.tensor(normalizer.value_mean, **z)
        self.value_std = torch.tensor(normalizer.value_std, **z).clamp(min=1e-6)
        self.ctx: Context | None = None
        self.state = torch.zeros(1, mc.state_dim, **z)
        # Placeholder draws (overwritten by every load) from a private generator, not the global one.
        self.noise = PlanNoise.sample(mc, cfg, torch.Generator(device=dev).manual_seed(0), dev)
        self.start = Gaussians.standard(backend.model, dev)
        h, c = mc.value_shape
        self.out = {
            "actions": torch.zeros(mc.action_horizon, mc.action_dim, **z), "values": torch.zeros(h, c, **z),
            "chosen_snr": torch.zeros((), **z), "best_snr": torch.zeros(cfg.K, **z), "mean_snr": torch.zeros(cfg.K, **z),
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

    def _score(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        real = symexp(values) * self.value_std + self.value_mean
        return real, snr(real, self.cfg.snr_eps)

    def run(self) -> None:
        """The plan: K iterations of sample -> world features -> value solve -> SNR -> elite updates,
        then the final decode. Same order of operations as LatentPlanner.plan."""
        cfg, be, noise, out = self.cfg, self.backend, self.noise, self.out
        mu_v, sd_v, mu_u, sd_u = self.start.video_mean, self.start.video_std, self.start.value_mean, self.start.value_std
        for k in range(cfg.K):
            z_vid = mu_v + sd_v * noise.video[k]
            states = be.features(self.ctx, z_vid)
            z_val = mu_u + sd_u * noise.value[k]
            _, scores = self._score(be.values(states, z_val))
            mu_u, sd_u = elite_update(mu_u, sd_u, z_val, scores, cfg.value_elite_frac, cfg.alpha_smooth, cfg.sigma_decay)
            video_scores = scores.view(cfg.M, cfg.N).amax(dim=1)
            mu_v, sd_v = elite_update(mu_v, sd_v, z_vid, video_scores, cfg.video_elite_frac, cfg.alpha_smooth, cfg.sigma_decay)
            out["best_snr"][k].copy_(scores.max())
            out["mean_snr"][k].copy_(scores.mean())
        z_vid = mu_v + sd_v * noise.final_video
        states = be.features(self.ctx, z_vid)
        z_val = mu_u + sd_u * noise.final_value
        real, chosen = self._score(be.values(states, z_val))
        actions = be.actions(states, z_val, self.state, noise.action)
        out["actions"].copy_(actions[0])
        out["values"].copy_(real[0])
        out["chosen_snr"].copy_(chosen[0])
        g = out["gaussians"]
        for dst, src in zip((g.video_mean, g.video_std, g.value_mean, g.value_std), (mu_v, sd_v, mu_u, sd_u)):
            dst.copy_(src)

    def result(self, timings_ms: dict[str, float]) -> PlanTensors:
        """Copies of the output buffers (the next replay overwrites them)."""
        out = self.out
        g = out["gaussians"]
        return PlanTensors(
            actions=out["actions"].clone(), values=out["values"].clone(), chosen_snr=out["chosen_snr"].clone(),
            best_snr=list(out["best_snr"].clone().unbind(0)), mean_snr=list(out["mean_snr"].clone().unbind(0)),
            iterations=self.cfg.K,
            gaussians=Gaussians(g.video_mean.clone(), g.video_std.clone(), g.value_mean.clone(), g.value_std.clone()),
            timings_ms=timings_ms,
        )

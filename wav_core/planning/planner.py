"""Iterative latent planning (paper section 4.3.5), fully batched.

Each iteration: M video noises -> one batched world forward (fast feature mode) -> M*N value noises
denoised in one batch per flow step -> SNR of each value chunk -> elite updates of the value Gaussian
(top value_elite_frac of M*N) and of the video Gaussian (top video_elite_frac of M, each scored by
the max SNR over its N values). After K iterations one video and one value noise are drawn from the
final Gaussians and decoded into the executed action chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..model.normalize import Normalizer
from ..model.wav import Context, WAVModel
from .backend.base import Backend
from .config import PlannerConfig
from .gaussian import elite_update
from .noise import PlanNoise
from .scoring import snr


@dataclass
class Gaussians:
    video_mean: torch.Tensor
    video_std: torch.Tensor
    value_mean: torch.Tensor
    value_std: torch.Tensor

    @classmethod
    def standard(cls, model: WAVModel, device, dtype=torch.float32) -> "Gaussians":
        vid, val = model.cfg.future_latent_shape, model.cfg.value_shape
        z = dict(device=device, dtype=dtype)
        return cls(torch.zeros(vid, **z), torch.ones(vid, **z), torch.zeros(val, **z), torch.ones(val, **z))

    def blend_toward_standard(self, keep: float) -> "Gaussians":
        """Warm start: keep * previous + (1 - keep) * N(0, I)."""
        return Gaussians(self.video_mean * keep, self.video_std * keep + (1 - keep),
                         self.value_mean * keep, self.value_std * keep + (1 - keep))


@dataclass
class PlanTensors:
    actions: torch.Tensor  # [H, A] normalised
    values: torch.Tensor  # [H, Cv] robot units (reward-to-go)
    chosen_snr: torch.Tensor  # scalar
    best_snr: list[torch.Tensor] = field(default_factory=list)
    mean_snr: list[torch.Tensor] = field(default_factory=list)
    iterations: int = 0
    gaussians: Gaussians | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


class LatentPlanner:
    def __init__(self, model: WAVModel, normalizer: Normalizer, cfg: PlannerConfig, backend: Backend | None = None):
        cfg.validate()
        self.model = model
        self.normalizer = normalizer
        self.cfg = cfg
        if backend is not None and backend.cfg != cfg:
            raise ValueError(f"backend {backend.name!r} was built for {backend.cfg}, the planner runs {cfg}")
        self.backend = backend or Backend(model, cfg)
        self._iter_ms: float | None = None
        self._final_ms: float | None = None
        self._sync = self.backend.sync

    # The three network hooks; subclasses (the naive reference, synthetic test problems) override them.
    def _features(self, ctx: Context, z_vid: torch.Tensor):
        return self.backend.features(ctx, z_vid)

    def _values(self, states, z_val: torch.Tensor) -> torch.Tensor:
        return self.backend.values(states, z_val)

    def _actions(self, states, z_val: torch.Tensor, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.backend.actions(states, z_val, state, noise)

    def _score(self, values: torch.Tensor) -> torch.Tensor:
        return snr(self.normalizer.value_inverse(values), self.cfg.snr_eps)

    def _deadline_allows(self, started: float) -> bool:
        if self.cfg.deadline_ms <= 0 or self._iter_ms is None:
            return True
        elapsed = (time.perf_counter() - started) * 1000
        # Until the final decode has been measured once, budget it like one more iteration.
        final_ms = self._iter_ms if self._final_ms is None else self._final_ms
        return elapsed + self._iter_ms + final_ms <= self.cfg.deadline_ms

    @torch.no_grad()
    def plan(self, ctx: Context, state: torch.Tensor, noise: PlanNoise, start: Gaussians | None = None,
             started: float | None = None) -> PlanTensors:
        """ctx for one observation; state [1, S] normalised; noise as PlanNoise.sample draws it;
        `started` (a time.perf_counter() reading) is when the decision began, so the deadline also
        covers the work done before planning (default: now)."""
        cfg, model = self.cfg, self.model
        noise.check(model.cfg, cfg)
        backend = getattr(self, "backend", None)
        if backend is not None and backend.captures_plan:
            return backend.plan(ctx, state, noise, start, self.normalizer)
        g = start or Gaussians.standard(model, state.device, state.dtype)
        mu_v, sd_v, mu_u, sd_u = g.video_mean, g.video_std, g.value_mean, g.value_std
        timings = {"world": 0.0, "value": 0.0, "action": 0.0}
        best, mean = [], []
        started = time.perf_counter() if started is None else started
        iterations = 0
        for k in range(cfg.K):
            if not self._deadline_allows(started):
                break
            t_iter = time.perf_counter()
            z_vid = mu_v + sd_v * noise.video[k]
            t0 = time.perf_counter()
            states = self._features(ctx, z_vid)
            self._sync()
            t1 = time.perf_counter()
            z_val = mu_u + sd_u * noise.value[k]
            values = self._values(states, z_val)
            scores = self._score(values)
            self._sync()
            t2 = time.perf_counter()
            timings["world"] += (t1 - t0) * 1000
            timings["value"] += (t2 - t1) * 1000
            mu_u, sd_u = elite_update(mu_u, sd_u, z_val, scores, cfg.value_elite_frac, cfg.alpha_smooth, cfg.sigma_decay)
            video_scores = scores.view(cfg.M, cfg.N).amax(dim=1)
            mu_v, sd_v = elite_update(mu_v, sd_v, z_vid, video_scores, cfg.video_elite_frac, cfg.alpha_smooth, cfg.sigma_decay)
            best.append(scores.max())
            mean.append(scores.mean())
            iterations += 1
            ms = (time.perf_counter() - t_iter) * 1000
            self._iter_ms = ms if self._iter_ms is None else 0.8 * self._iter_ms + 0.2 * ms
        t_final = time.perf_counter()
        z_vid = mu_v + sd_v * noise.final_video
        states = self._features(ctx, z_vid)
        self._sync()
        t0 = time.perf_counter()
        z_val = mu_u + sd_u * noise.final_value
        values = self._values(states, z_val)
        self._sync()
        t1 = time.perf_counter()
        actions = self._actions(states, z_val, state, noise.action)
        self._sync()
        t2 = time.perf_counter()
        timings["world"] += (t0 - t_final) * 1000
        timings["value"] += (t1 - t0) * 1000
        timings["action"] = (t2 - t1) * 1000
        timings["total"] = (t2 - started) * 1000
        final_ms = (t2 - t_final) * 1000
        self._final_ms = final_ms if self._final_ms is None else 0.8 * self._final_ms + 0.2 * final_ms
        real_values = self.normalizer.value_inverse(values)
        return PlanTensors(
            actions=actions[0], values=real_values[0], chosen_snr=snr(real_values, cfg.snr_eps)[0],
            best_snr=best, mean_snr=mean, iterations=iterations,
            gaussians=Gaussians(mu_v, sd_v, mu_u, sd_u), timings_ms=timings,
        )

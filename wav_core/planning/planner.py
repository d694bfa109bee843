"""Iterative latent planning (paper section 4.3.5), fully batched.

Each iteration: M video noises -> one batched world forward -> M*N value noises denoised in one batch
per flow step -> a score per value chunk -> elite updates of the value Gaussian (top
value_elite_frac of M*N) and of the video Gaussian (top video_elite_frac of M, each ranked by its
best value sample). After K iterations one video and one value noise are drawn from the final
Gaussians (`final: draw`), or the last iteration's best candidate is taken (`final: best`), and
decoded into the executed action chunk (see `iteration.py`, shared by every backend).
Several observations (episodes evaluated in lockstep) can be planned in one call (`plan_batch`):
their candidates share every network batch, their Gaussians and elites stay their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..model.normalize import Normalizer
from ..model.wav import Context, WAVModel
from .backend.base import Backend
from .budget import IterationBudget
from .config import PlannerConfig
from .gaussian import Gaussians
from .iteration import Networks, chosen, decode, iterate_batch
from .noise import PlanNoise
from .scoring import score_values, snr


@dataclass
class PlanTensors:
    actions: torch.Tensor  # [H, A] normalised
    values: torch.Tensor  # [H, Cv] robot units (reward-to-go)
    chosen_snr: torch.Tensor  # scalar, SNR of the chosen value chunk's total channel (normalised space)
    best_snr: list[torch.Tensor] = field(default_factory=list)
    """Per iteration: the best candidate's score (PlannerConfig.score)."""
    mean_snr: list[torch.Tensor] = field(default_factory=list)
    """Per iteration: the mean score over the M*N candidates."""
    iterations: int = 0
    gaussians: Gaussians | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    chosen_score: torch.Tensor | None = None
    """The chosen value chunk's score (PlannerConfig.score)."""


class _Stopwatch:
    """Per-stage milliseconds, measured after the device has finished the stage's work."""

    def __init__(self, sync):
        self.sync, self.ms = sync, {"world": 0.0, "value": 0.0, "action": 0.0}
        self.last = time.perf_counter()

    def restart(self) -> None:
        self.last = time.perf_counter()

    def mark(self, stage: str) -> None:
        self.sync()
        now = time.perf_counter()
        self.ms[stage] += (now - self.last) * 1000
        self.last = now


class LatentPlanner:
    def __init__(self, model: WAVModel, normalizer: Normalizer, cfg: PlannerConfig, backend: Backend | None = None):
        cfg.validate()
        self.model = model
        self.normalizer = normalizer
        self.cfg = cfg
        if backend is not None and backend.cfg != cfg:
            raise ValueError(f"backend {backend.name!r} was built for {backend.cfg}, the planner runs {cfg}")
        check_feature_time(model, cfg)
        self.backend = backend or Backend(model, cfg)
        self.budget = IterationBudget(cfg.deadline_ms)
        self._sync = self.backend.sync

    # The three network hooks; subclasses (the naive reference, synthetic test problems) override them.
    def _features(self, ctx: Context, z_vid: torch.Tensor):
        return self.backend.features(ctx, z_vid)

    def _values(self, states, z_val: torch.Tensor) -> torch.Tensor:
        return self.backend.values(states, z_val)

    def _actions(self, states, value: torch.Tensor, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.backend.actions(states, value, state, noise)

    @torch.no_grad()
    def plan(self, ctx: Context, state: torch.Tensor, noise: PlanNoise, start: Gaussians | None = None,
             started: float | None = None) -> PlanTensors:
        """ctx for one observation; state [1, S] normalised; noise as PlanNoise.sample draws it;
        `started` (a time.perf_counter() reading) is when the decision began, so the deadline also
        covers the work done before planning (default: now)."""
        noise.check(self.model.cfg, self.cfg)
        backend = getattr(self, "backend", None)
        if backend is not None and backend.captures_plan:
            started = time.perf_counter() if started is None else started
            return backend.plan(ctx, state, noise, start, self.normalizer, started, self.budget)
        return self._plan_batch(ctx, state, PlanNoise.stack([noise]), [start], started)[0]

    @torch.no_grad()
    def plan_batch(self, ctx: Context, state: torch.Tensor, noises: list[PlanNoise],
                   starts: list[Gaussians | None] | None = None, started: float | None = None) -> list[PlanTensors]:
        """B plans made together (episodes stepped in lockstep): ctx of B observations, state [B, S],
        each plan's own noise (as `plan` would draw it) and start. The networks see all B*M
        candidates at once; each plan keeps its own Gaussians and elites, so plan b equals
        `plan(ctx_b, state_b, noises[b], starts[b])` up to the float round-off of larger matrix
        products. All plans run the same iterations (a deadline cuts them together), and the
        timings are the batch's. Backends with fixed-size exported graphs cannot run a batch."""
        b = len(noises)
        starts = [None] * b if starts is None else list(starts)
        if b < 1 or len(starts) != b or state.shape[0] != b:
            raise ValueError(f"plan_batch: got {b} noises, {len(starts)} starts and {state.shape[0]} states, "
                             f"expected one of each per plan (at least one plan)")
        backend = getattr(self, "backend", None)
        if b > 1 and backend is not None and backend.name not in BATCH_BACKENDS:
            raise ValueError(f"plan_batch: backend {backend.name!r} runs exported graphs of fixed batch size; "
                             f"batched plans need one of {list(BATCH_BACKENDS)}")
        for n in noises:
            n.check(self.model.cfg, self.cfg)
        return self._plan_batch(ctx, state, PlanNoise.stack(noises), starts, started)

    def _plan_batch(self, ctx: Context, state: torch.Tensor, noise: PlanNoise, starts: list[Gaussians | None],
                    started: float | None) -> list[PlanTensors]:
        """The eager plan of a batch (one plan is a batch of one), with its stopwatch and deadline."""
        cfg, model = self.cfg, self.model
        standard = None
        if any(s is None for s in starts):
            standard = Gaussians.standard(model, state.device, state.dtype)
        g = Gaussians.stack([s if s is not None else standard for s in starts])
        nets = Networks(self._features, self._values, self._actions)
        watch = _Stopwatch(self._sync)
        best, mean = [], []
        started = time.perf_counter() if started is None else started
        iterations = 0
        pick = None
        for k in range(cfg.K):
            if not self.budget.allows(started):
                break
            t_iter = time.perf_counter()
            watch.restart()
            g, scores, pick = iterate_batch(nets, ctx, g, noise.video[k], noise.value[k], cfg, watch.mark)
            best.append(scores.amax(dim=1))
            mean.append(scores.mean(dim=1))
            iterations += 1
            self.budget.iteration((time.perf_counter() - t_iter) * 1000)
        t_final = time.perf_counter()
        watch.restart()
        actions, values = decode(nets, ctx, chosen(cfg, g, noise, pick), noise, state, reads_values(model),
                                 watch.mark)
        timings = dict(watch.ms)
        timings["total"] = (watch.last - started) * 1000
        self.budget.final((watch.last - t_final) * 1000)
        robot_values = self.normalizer.value_inverse(values)
        chosen_snr = snr(values, cfg.snr_eps)
        chosen_score = score_values(values, cfg.score, cfg.snr_eps)
        return [PlanTensors(
            actions=actions[b], values=robot_values[b], chosen_snr=chosen_snr[b], best_snr=[x[b] for x in best],
            mean_snr=[x[b] for x in mean], iterations=iterations, gaussians=gb, timings_ms=dict(timings),
            chosen_score=chosen_score[b],
        ) for b, gb in enumerate(g.unstack())]


BATCH_BACKENDS = ("torch", "torch-cudagraph")
"""Backends whose networks take any batch size (a CUDA-graph backend's eager networks run a batch;
its captured graph is for one plan)."""


def reads_values(model) -> bool:
    """Whether the action expert reads the denoised value chunk (`future`) or the value noise."""
    return getattr(model.cfg, "conditioning", "paper") == "future"


def check_feature_time(model, cfg: PlannerConfig) -> None:
    """A `future` model only knows the feature times it was trained on."""
    mc = model.cfg
    if getattr(mc, "conditioning", "paper") != "future":
        return
    from ..config.loader import ConfigError

    t = 1.0 - cfg.feature_steps / cfg.S if cfg.feature_steps > 0 else mc.feature_time
    lo, hi = mc.feature_time_range
    if not lo - 1e-9 <= t <= hi + 1e-9:
        raise ConfigError(f"feature_steps: {cfg.feature_steps} of S={cfg.S} takes world features at t={t:.3f}; "
                          f"this model (conditioning future) was trained on feature times [{lo}, {hi}] "
                          f"(feature_steps 0 uses its feature_time {mc.feature_time})")


__all__ = ["BATCH_BACKENDS", "Gaussians", "LatentPlanner", "PlanTensors", "check_feature_time", "reads_values"]

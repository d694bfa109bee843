"""The planning iteration and the final decode, written once.

The eager planner (with its timings and deadline) and every whole-plan backend (the static-buffer
plan that CUDA graphs capture) call these two functions; only the naive reference planner differs,
in how it runs the networks, which is what makes it a check. Several plans made together (episodes
of a batched evaluation) go through the same code with a leading plan dimension: one plan is a
batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..model.wav import Context
from .config import PlannerConfig
from .gaussian import Gaussians, elite_update
from .noise import PlanNoise
from .scoring import score_values

Mark = Callable[[str], None]
"""Called after each network stage ("world", "value", "action"): the eager planner's stopwatch."""


@dataclass
class Networks:
    """What a plan asks of the networks: world features of video noises, denoised value chunks
    (normalised) of value noises against those features, and the action chunk of one future."""

    features: Callable[[Context, torch.Tensor], Any]
    values: Callable[[Any, torch.Tensor], torch.Tensor]
    actions: Callable[[Any, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

    @classmethod
    def of(cls, backend) -> "Networks":
        return cls(backend.features, backend.values, backend.actions)


def _noop(stage: str) -> None:
    pass


@dataclass
class Chosen:
    """The video and value noise the executed chunk is decoded from ([B, ...], one row per plan)."""

    video: torch.Tensor
    value: torch.Tensor


def draw(g: Gaussians, noise: PlanNoise) -> Chosen:
    """`final: draw` (the paper's): one fresh draw from the Gaussians, using the plan's final noises."""
    return Chosen(g.video_mean + g.video_std * noise.final_video, g.value_mean + g.value_std * noise.final_value)


def candidates(ctx: Context, m: int, plans: int) -> Context:
    """The context the world sees for plans x m video candidates, plan-major. One plan's context is
    passed as it is (the world broadcasts one observation); with several, each plan's memory is
    repeated for its m candidates, while its prompt is not: attention folds consecutive query rows
    onto their shared key rows (see layers.sdpa_attention), so plan b's rows read prompt b."""
    if plans == 1:
        return ctx
    if ctx.memory.shape[0] != plans or ctx.text.shape[0] != plans:
        raise ValueError(f"ctx: got memory of {ctx.memory.shape[0]} and prompts of {ctx.text.shape[0]} observations, "
                         f"expected one per plan ({plans})")
    return Context(ctx.memory.repeat_interleave(m, 0), ctx.text, ctx.text_mask)


def iterate(nets: Networks, ctx: Context, g: Gaussians, video_noise: torch.Tensor, value_noise: torch.Tensor,
            cfg: PlannerConfig, mark: Mark = _noop) -> tuple[Gaussians, torch.Tensor, Chosen]:
    """One plan's iteration (`iterate_batch` of a batch of one): g over one candidate's noise,
    video_noise [M, ...], value_noise [M*N, ...]. Returns the updated Gaussians, the M*N scores and
    the best-ranked candidate (a batch of one)."""
    g, scores, best = iterate_batch(nets, ctx, Gaussians.stack([g]), video_noise[None], value_noise[None], cfg, mark)
    return g.unstack()[0], scores[0], best


def iterate_batch(nets: Networks, ctx: Context, g: Gaussians, video_noise: torch.Tensor, value_noise: torch.Tensor,
                  cfg: PlannerConfig, mark: Mark = _noop) -> tuple[Gaussians, torch.Tensor, Chosen]:
    """One iteration of B plans: M video candidates each -> features -> M*N value chunks each ->
    scores -> elite updates of both Gaussians of each plan. The video elites are ranked by each
    candidate's best value sample (or their mean, `video_score`); under `value_noise: shared` every
    candidate is scored with the first candidate's N value noises.

    ctx holds the B observations; g has a leading plan dimension [B, ...]; video_noise [B, M, ...];
    value_noise [B, M*N, ...]. The networks run all B*M candidates (B*M*N value chunks) in one
    batch, plan-major; scores, elites and updates stay within each plan. Returns the updated
    Gaussians, the scores [B, M*N] (the value's own, also under `blind_scores`) and each plan's
    best-ranked candidate, the one `final: best` decodes (under `blind_scores`, ranked blind)."""
    plans = video_noise.shape[0]
    if cfg.value_noise == "shared":  # every candidate takes the first candidate's N draws
        first = value_noise.unflatten(1, (cfg.M, cfg.N))[:, :1]
        value_noise = first.expand(-1, cfg.M, *([-1] * (first.dim() - 2))).flatten(1, 2)
    z_vid = g.video_mean[:, None] + g.video_std[:, None] * video_noise
    states = nets.features(candidates(ctx, cfg.M, plans), z_vid.flatten(0, 1))
    mark("world")
    z_val = g.value_mean[:, None] + g.value_std[:, None] * value_noise
    scores = score_values(nets.values(states, z_val.flatten(0, 1)), cfg.score, cfg.snr_eps).view(plans, -1)
    mark("value")
    ranked = scores.view(plans, cfg.M, cfg.N).roll(1, dims=1).flatten(1) if cfg.blind_scores else scores
    mu_u, sd_u = elite_update(g.value_mean, g.value_std, z_val, ranked, cfg.value_elite_frac, cfg.alpha_smooth,
                              cfg.sigma_decay)
    per = ranked.view(plans, cfg.M, cfg.N)
    video_scores = per.mean(dim=2) if cfg.video_score == "mean" else per.amax(dim=2)
    mu_v, sd_v = elite_update(g.video_mean, g.video_std, z_vid, video_scores, cfg.video_elite_frac, cfg.alpha_smooth,
                              cfg.sigma_decay)
    rows = torch.arange(plans, device=ranked.device)
    top = video_scores.argmax(dim=1)
    best = top * cfg.N + per[rows, top].argmax(dim=1)
    return Gaussians(mu_v, sd_v, mu_u, sd_u), scores, Chosen(z_vid[rows, top], z_val[rows, best])


def chosen(cfg: PlannerConfig, g: Gaussians, noise: PlanNoise, best: Chosen | None) -> Chosen:
    """What the executed chunk is decoded from: a fresh draw from the final Gaussians (`final: draw`),
    or the last iteration's best-ranked candidate (`final: best`; a plan that ran no iteration draws)."""
    return best if cfg.final == "best" and best is not None else draw(g, noise)


def decode(nets: Networks, ctx: Context, choice: Chosen, noise: PlanNoise, state: torch.Tensor,
           reads_values: bool, mark: Mark = _noop) -> tuple[torch.Tensor, torch.Tensor]:
    """The executed chunk: the chosen future's features and denoised value, then the action solve
    from the plan's action noise. `reads_values`: the action expert reads the denoised value chunk
    (`future` conditioning) instead of the value noise (`paper`).
    One plan: choice of one row, noise as PlanNoise.sample draws it, state [1, S]. B plans: choice
    [B, ...], `PlanNoise.stack`ed noise, state [B, S], ctx of B observations (one row each, so
    nothing is repeated). Returns actions [B, H, A] and values [B, H, C] (B = 1 for one plan),
    both normalised."""
    z_vid, z_val = choice.video, choice.value
    states = nets.features(ctx, z_vid)
    mark("world")
    values = nets.values(states, z_val)
    mark("value")
    actions = nets.actions(states, values if reads_values else z_val, state, noise.action)
    mark("action")
    return actions, values

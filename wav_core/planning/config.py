"""Planner settings (FACTS: the paper's defaults; K = 0 is the no-planning ablation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.loader import ConfigError


@dataclass
class PlannerConfig:
    K: int = 3
    """Planning iterations; 0 samples both noises from N(0, I) (the paper's ablation)."""
    M: int = 8
    """Video candidates per iteration."""
    N: int = 4
    """Value samples per video candidate."""
    S: int = 10
    """Flow steps of the value and action solves."""
    value_steps: int = 0
    """Flow steps of the value solves, if not S (0). A score reads one number of each value chunk,
    and the value solves are most of a plan's network calls (K*S + S + 1 of K*S + 2*S + 1 at K >= 1
    with the world's fast features): fewer steps here cut a plan's launches most."""
    value_elite_frac: float = 0.1
    """Top fraction of the M*N value samples kept: 4 of 32 at M=8 N=4, 15 of 150 at M=30 N=5."""
    video_elite_frac: float = 0.25
    """Top fraction of the M video candidates kept: 2 of 8, 4 of 16, 8 of 30. (The paper's 0.9 keeps
    8 of 8 at M=8: no selection at all.)"""
    alpha_smooth: float = 0.9
    sigma_decay: float = 0.5
    snr_eps: float = 1e-6
    score: Literal["snr", "mean"] = "mean"
    """How a value chunk is scored, on the normalised total-value channel: `mean` (default; the
    authors' later release also defaults to it, since SNR misbehaves for signed returns) or `snr`
    (the paper's mean / (std + snr_eps))."""
    final: Literal["draw", "best"] = "draw"
    """What the executed chunk is decoded from: `draw` (the paper's) draws one video and one value
    noise from the final Gaussians; with alpha_smooth 0.9 three iterations move their mean about a
    quarter of the way to the elites, so that draw is nearly as random as K = 0's. `best` decodes the
    last iteration's best-ranked candidate, the future the value chose (as TD-MPC2 acts from its
    elites rather than a fresh sample). K = 0 is the same draw under both."""
    feature_steps: int = 0
    """World denoising steps before features are taken (0 = the fast feature mode at t = 1)."""
    deadline_ms: float = 0.0
    """> 0: stop iterating when the next iteration would end after this budget (best so far is used)."""
    warm_start: float = 0.0
    """Blend of the previous plan's final Gaussians into the next plan's start (0 = cold, N(0, I))."""
    plan_temperature: float = 1.0
    """Scale of the video and value noise the planner starts from: its Gaussians begin at N(0, T^2 I),
    so at K = 0 the final draw is that narrower draw. The control for what planning adds beyond
    drawing nearer the mode: K = 3 shrinks the Gaussians too (sigma_decay)."""
    action_temperature: float = 1.0
    """Scale of the action expert's flow noise. The planner chooses the video and value noises only,
    so the action noise stays a random draw that can move the chunk more than the plan does; at 0 the
    decoded chunk is a function of the observation and the plan alone."""
    action_noise_gated: bool = False
    """With a gated action prior (`action_prior_gate`): each arm's flow noise is scaled by 1 - its
    gate's probability, so an arm the prior steers to a grasp is decoded noise-free while the others
    draw theirs. The noise moved run 42's reach to the block away, and its drawer closed after more
    of its placements with it than without."""

    value_noise: Literal["own", "shared"] = "own"
    """`own` (the paper's): each video candidate draws its own N value noises. `shared`: every
    candidate of an iteration is scored with the same N value noises (common random numbers), so
    candidates differ in score by their futures alone. Run 46's value draws for one future spanned a
    third of the task's phase while its futures differed by 1 %: with own draws a candidate's score
    is mostly its draws' luck."""
    video_score: Literal["best", "mean"] = "best"
    """What ranks a video candidate among its N value samples: `best` (the paper's: its best sample,
    the luckiest of N draws) or `mean` (their mean, the value expected of that future). The chosen
    value under `final: best` is then the best of the chosen candidate's samples either way."""

    blind_scores: bool = False
    """A control for measuring what the value's ranking adds: each video candidate is ranked by the
    previous candidate's value scores (its neighbour's draws, independent of it), so elites are as many
    and the Gaussians move and shrink as much as when planning, while the choice ignores the value."""

    @property
    def value_solve_steps(self) -> int:
        return self.value_steps or self.S

    def validate(self) -> None:
        if self.K < 0:
            raise ConfigError(f"K: got {self.K}, expected >= 0")
        for key in ("M", "N", "S"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected >= 1")
        for key in ("value_elite_frac", "video_elite_frac", "alpha_smooth", "sigma_decay", "warm_start",
                    "plan_temperature", "action_temperature"):
            v = getattr(self, key)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{key}: got {v}, expected a number in [0, 1]")
        if self.value_elite_frac == 0 or self.video_elite_frac == 0:
            raise ConfigError("elite fractions must be > 0")
        if self.value_steps < 0:
            raise ConfigError(f"value_steps: got {self.value_steps}, expected >= 0 (0: S)")
        if self.feature_steps < 0 or self.feature_steps >= self.S:
            raise ConfigError(f"feature_steps: got {self.feature_steps}, expected 0 <= feature_steps < S ({self.S})")
        if self.blind_scores and self.M < 2:
            raise ConfigError(f"blind_scores: needs M >= 2 (a neighbour to take scores from), got M {self.M}")
        if self.final not in ("draw", "best"):
            raise ConfigError(f"final: got {self.final!r}, expected one of ['draw', 'best']")
        if self.score not in ("snr", "mean"):
            raise ConfigError(f"score: got {self.score!r}, expected one of ['snr', 'mean']")
        if self.value_noise not in ("own", "shared"):
            raise ConfigError(f"value_noise: got {self.value_noise!r}, expected one of ['own', 'shared']")
        if self.video_score not in ("best", "mean"):
            raise ConfigError(f"video_score: got {self.video_score!r}, expected one of ['best', 'mean']")
        if self.deadline_ms < 0:
            raise ConfigError(f"deadline_ms: got {self.deadline_ms}, expected >= 0")

"""Mixed-quality recording: which behaviour each episode shows, chosen from its seed alone.

A value module ranks candidate futures, so it must see futures that go wrong as well as ones that
succeed. Besides the clean expert, an episode may carry temporally correlated action noise or one
scripted mistake: a late grasp, a dropped object, a drawer left half open, a wrong approach offset
or a stall (the expert freezes until the time limit). `disturb` episodes teach recovery instead:
the arm is pushed off the expert's path by a correlated disturbance on its servos while the bag
records what the expert commanded, which from the pushed state is the way back. The choice and its
parameters depend only on the episode's seed (never on the worker that records it), and are
written to summary.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config.loader import ConfigError

MODES = ("expert", "noise", "late_grasp", "drop", "half_open", "offset", "stall", "disturb")
TASK_MODES = {"drawer": MODES, "bowl": tuple(m for m in MODES if m != "half_open")}
"""Modes each task can show (the bowl has no drawer to leave open)."""
QUALITIES = ("expert", "mixed")
_SALT = 0x9A11
"""Keeps the quality draw independent of the scene randomisation, which uses the bare seed."""


def _default_mix() -> dict[str, float]:
    return {"expert": 0.4, "noise": 0.2, "late_grasp": 0.08, "drop": 0.08, "half_open": 0.08, "offset": 0.08,
            "stall": 0.08, "disturb": 0.0}


@dataclass
class QualityConfig:
    """The mix of `wav sim record --quality mixed` (the `quality:` section of a YAML, or CLI flags)."""

    mix: dict[str, float] = field(default_factory=_default_mix)
    """Fraction of episodes per mode, summing to 1; a task's inapplicable modes (bowl: half_open)
    have their share spread over the others in proportion."""
    noise_stds: list[float] = field(default_factory=lambda: [0.02, 0.035, 0.05, 0.1])
    """Joint-target noise levels (rad); a `noise` episode uses one, drawn uniformly. With the
    scripted experts, 0.02 still succeeds (more slowly), 0.1 fails both tasks, and in between
    the drawer starts failing before the bowl does."""
    noise_tau_s: float = 0.3
    """Correlation time of the noise (first-order autoregressive): drifts, not per-tick jitter."""
    disturb_stds: list[float] = field(default_factory=lambda: [0.015, 0.025])
    """Servo disturbance levels (rad) of a `disturb` episode, one drawn uniformly; correlated over
    `noise_tau_s`. Small enough that the expert, which corrects from the measured state, still
    succeeds in most episodes: the action stage learns from successful ones."""
    late_grasp_s: tuple[float, float] = (0.3, 0.8)
    """The gripper closes this long after the lift has started (the object is left behind or slips)."""
    drop_after_s: tuple[float, float] = (0.0, 0.2)
    """The gripper opens this long into the carry and stays open. It opens at the expert's gripper
    speed, so a later opening lets the bowl's short carry land the cup anyway."""
    half_open_m: tuple[float, float] = (0.04, 0.08)
    """Drawer opening the push stops at (closed is below 0.012 m)."""
    offset_m: tuple[float, float] = (0.025, 0.045)
    """Horizontal error of the object arm's approach and grasp point, in a random direction."""
    stall_at: tuple[float, float] = (0.15, 0.85)
    """Where in the script the expert freezes, as a fraction of its phases."""

    def validate(self) -> None:
        unknown = sorted(set(self.mix) - set(MODES))
        if unknown:
            raise ConfigError(f"mix: unknown mode {unknown[0]!r}, expected some of {list(MODES)}")
        if any(v < 0 for v in self.mix.values()):
            raise ConfigError(f"mix: got {self.mix}, expected fractions >= 0")
        if abs(sum(self.mix.values()) - 1.0) > 1e-6:
            raise ConfigError(f"mix: fractions sum to {sum(self.mix.values()):.6g}, expected 1")
        if not self.noise_stds or any(s <= 0 for s in self.noise_stds):
            raise ConfigError(f"noise_stds: got {self.noise_stds}, expected a non-empty list of stds > 0 (rad)")
        if not self.disturb_stds or any(s <= 0 for s in self.disturb_stds):
            raise ConfigError(f"disturb_stds: got {self.disturb_stds}, expected a non-empty list of stds > 0 (rad)")
        if self.noise_tau_s <= 0:
            raise ConfigError(f"noise_tau_s: got {self.noise_tau_s}, expected > 0")
        for key in ("late_grasp_s", "drop_after_s", "half_open_m", "offset_m", "stall_at"):
            lo, hi = getattr(self, key)
            if not 0 <= lo <= hi:
                raise ConfigError(f"{key}: got [{lo}, {hi}], expected 0 <= low <= high")
        if self.stall_at[1] > 1:
            raise ConfigError(f"stall_at: got {list(self.stall_at)}, expected fractions within [0, 1]")

    def weights(self, task: str) -> dict[str, float]:
        """The task's modes with their normalised fractions (an error if none is left)."""
        if task not in TASK_MODES:
            raise ValueError(f"task: got {task!r}, expected one of {sorted(TASK_MODES)}")
        w = {m: float(self.mix.get(m, 0.0)) for m in TASK_MODES[task]}
        total = sum(w.values())
        if total <= 0:
            raise ConfigError(f"mix: no episodes left for task {task!r} (its modes are {list(TASK_MODES[task])})")
        return {m: v / total for m, v in w.items()}


@dataclass
class EpisodeQuality:
    """One episode's behaviour: its mode and that mode's parameters (all plain JSON values)."""

    mode: str = "expert"
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.params}


def choose_quality(seed: int, task: str, cfg: QualityConfig) -> EpisodeQuality:
    """The mode of episode `seed` and its parameters: a function of (seed, task, cfg) only."""
    weights = cfg.weights(task)
    rng = np.random.default_rng([int(seed), _SALT])
    modes = list(weights)
    mode = modes[int(rng.choice(len(modes), p=np.array([weights[m] for m in modes])))]

    def pick(lo_hi: tuple[float, float]) -> float:
        return round(float(rng.uniform(*lo_hi)), 4)

    if mode == "noise":
        params: dict[str, Any] = {"std_rad": float(cfg.noise_stds[int(rng.integers(len(cfg.noise_stds)))]),
                                  "tau_s": cfg.noise_tau_s}
    elif mode == "disturb":
        params = {"std_rad": float(cfg.disturb_stds[int(rng.integers(len(cfg.disturb_stds)))]),
                  "tau_s": cfg.noise_tau_s}
    elif mode == "late_grasp":
        params = {"delay_s": pick(cfg.late_grasp_s)}
    elif mode == "drop":
        params = {"after_s": pick(cfg.drop_after_s)}
    elif mode == "half_open":
        params = {"opening_m": pick(cfg.half_open_m)}
    elif mode == "offset":
        params = {"offset_m": pick(cfg.offset_m), "direction_deg": round(float(rng.uniform(0.0, 360.0)), 1)}
    elif mode == "stall":
        params = {"at": pick(cfg.stall_at)}
    else:
        params = {}
    return EpisodeQuality(mode, params)

"""Predicted chunks against what was recorded, aligned on the tick grid.

Chunk step h of a decision at grid tick d is compared with the recorded action of grid tick d + h:
the command the rig was driven with (action_source 'command'), or the joint feedback of grid tick
d + h + 1 (action_source 'feedback', the dataset's "next tick's state"). Ticks missing from the
recording (dropped, or past its end) are skipped and counted.

Gripper agreement (open or closed on the same side of the threshold) is scored only at steps whose
recorded gripper is clearly open or closed: an arm that holds its gripper half open, as the idle arm
of a one-arm task does, would otherwise be scored on noise around the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRIPPER_BAND_M = 0.005
"""Recorded gripper openings within this of the threshold are neither open nor closed (not scored)."""


@dataclass
class Decision:
    index: int
    grid_tick: int
    time_ns: int
    seed: int
    actions: np.ndarray  # [H, 14]
    value_total: float
    snr: float
    latency_ms: float
    iterations: int
    iteration_best_snr: list[float] = field(default_factory=list)
    iteration_mean_snr: list[float] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Recording:
    """Per grid tick: the recorded command (or None) and the observed joint state."""

    commands: dict[int, np.ndarray] = field(default_factory=dict)
    states: dict[int, np.ndarray] = field(default_factory=dict)

    def target(self, grid_tick: int, source: str) -> np.ndarray | None:
        if source == "command":
            return self.commands.get(grid_tick)
        return self.states.get(grid_tick + 1)


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": 0.0, "p90": 0.0}
    return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90))}


def _mean(scored: np.ndarray) -> float | None:
    scored = scored[~np.isnan(scored)]
    return float(scored.mean()) if scored.size else None


def score(decisions: list[Decision], rec: Recording, source: str, joints: list[str], horizon: int,
          gripper_threshold_m: float) -> dict:
    """Error metrics of every compared (decision, step) pair; see the module docstring."""
    grip = [i for i, n in enumerate(joints) if n.endswith("gripper")]
    arm = [i for i in range(len(joints)) if i not in grip]
    errors: list[np.ndarray] = []
    steps: list[int] = []
    agree: list[np.ndarray] = []
    missing = 0
    for d in decisions:
        for h in range(horizon):
            target = rec.target(d.grid_tick + h, source)
            if target is None:
                missing += 1
                continue
            errors.append(d.actions[h] - target)
            steps.append(h)
            agree.append(np.where(np.abs(target[grip] - gripper_threshold_m) > GRIPPER_BAND_M,
                                  (d.actions[h, grip] > gripper_threshold_m) == (target[grip] > gripper_threshold_m),
                                  np.nan))
    out: dict = {"compared_steps": len(errors), "uncompared_steps": missing}
    if not errors:
        nan_joints = {n: None for n in joints}
        out.update(per_joint_mae=nan_joints, per_joint_rmse=dict(nan_joints), mae_by_horizon=[None] * horizon,
                   gripper_mae_by_horizon=[None] * horizon, gripper_agreement={joints[i]: None for i in grip} | {"all": None})
        return out
    err = np.abs(np.stack(errors))
    step = np.asarray(steps)
    ok = np.stack(agree)
    by_h = [err[step == h] for h in range(horizon)]
    out["per_joint_mae"] = {n: float(err[:, i].mean()) for i, n in enumerate(joints)}
    out["per_joint_rmse"] = {n: float(np.sqrt((err[:, i] ** 2).mean())) for i, n in enumerate(joints)}
    out["mae_by_horizon"] = [float(e[:, arm].mean()) if len(e) else None for e in by_h]
    out["gripper_mae_by_horizon"] = [float(e[:, grip].mean()) if len(e) and grip else None for e in by_h]
    out["gripper_agreement"] = {joints[i]: _mean(ok[:, k]) for k, i in enumerate(grip)}
    out["gripper_agreement"]["all"] = _mean(ok.ravel()) if grip else None
    return out


def summarize(decisions: list[Decision], rec: Recording, source: str, joints: list[str], horizon: int,
              gripper_threshold_m: float) -> dict:
    """The deterministic part of metrics.json plus `plan_latency_ms` (the only wall-clock field).

    `mae_by_horizon` averages the revolute joints (rad), `gripper_mae_by_horizon` the grippers (m);
    `value_total` is each plan's predicted total reward-to-go at its first step, `snr` its score.
    """
    out = {"decisions": len(decisions)}
    out.update(score(decisions, rec, source, joints, horizon, gripper_threshold_m))
    out["decision_ticks"] = [d.grid_tick for d in decisions]
    out["decision_seeds"] = [d.seed for d in decisions]
    out["value_total"] = [d.value_total for d in decisions]
    out["snr"] = [d.snr for d in decisions]
    out["plan_iterations"] = [d.iterations for d in decisions]
    out["plan_latency_ms"] = _stats([d.latency_ms for d in decisions])
    return out


LATENCY_FIELDS = ("plan_latency_ms",)
"""metrics.json keys that depend on wall-clock time (everything else is reproducible)."""

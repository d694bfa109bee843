"""Where a policy leaves the expert: both run from the same seed, the task's progress distances
sampled every tick, and the first tick where the policy falls behind named by the expert's phase.

Success rates say that a policy fails; this says where. A distance the expert closes (the tool
reaching the handle) and the policy does not, or one the policy opens again, points at the phase to
look at, with the same control loop the robot runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .closed_loop import EvalConfig, run_episode

DIVERGE_M = 0.03
"""A policy distance this much above the expert's at the same sim time counts as falling behind."""
BEHIND_S = 0.5
"""...for at least this long: a chunk that lags the expert's pace for a moment is not a miss."""


@dataclass
class Trace:
    """One run's progress distances (m) and grippers (m), one row per tick."""

    who: str
    times: list[float] = field(default_factory=list)
    measures: dict[str, list[float]] = field(default_factory=dict)
    grippers: list[list[float]] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    """The expert's script phase at each tick (empty for a policy)."""
    success: bool = False
    subgoals: dict[str, bool] = field(default_factory=dict)

    def sample(self, env, t: float, phase: str | None = None) -> None:
        self.times.append(round(float(t), 4))
        for name, value in env.task.progress(env.model, env.data).items():
            self.measures.setdefault(name, []).append(float(value))
        q = env.joint_state()
        self.grippers.append([float(q[6]), float(q[13])])
        if phase is not None:
            self.phases.append(phase)

    def finish(self, env) -> None:
        info = env.info()
        self.success = bool(info.get("success", False))
        self.subgoals = {k: bool(info[k]) for k in env.task.subgoals}

    def to_dict(self) -> dict:
        return {"who": self.who, "times": self.times, "measures": self.measures, "grippers": self.grippers,
                "phases": self.phases, "success": self.success, "subgoals": self.subgoals}


def expert_trace(env, seed: int, max_seconds: float) -> Trace:
    """The clean scripted expert from `env.reset(seed)`, the same physics the recordings use."""
    from ..sim.experts import make_expert

    obs = env.reset(seed)
    expert = make_expert(env.task.name, env, seed=seed)
    trace = Trace("expert")
    while env.time < max_seconds - 1e-9:
        trace.sample(env, env.time, expert.phase_name)
        obs, _ = env.step(expert.act(obs))
    trace.finish(env)
    return trace


def policy_trace(policy, env, seed: int, cfg: EvalConfig) -> Trace:
    """The policy under the control loop the robot runs (`run_episode`), sampled at each tick."""
    trace = Trace("policy")
    run_episode(policy, env, seed, cfg, on_tick=lambda t: trace.sample(env, t))
    trace.finish(env)
    return trace


def compare(expert: Trace, policy: Trace, diverge_m: float = DIVERGE_M, behind_s: float = BEHIND_S) -> dict[str, dict]:
    """Per distance: each run's closest approach (value, time, the expert's phase then) and the first
    tick from which the policy stays `diverge_m` further than the expert was at the same time for
    `behind_s` (or to the end of the run; None: never)."""
    times = np.array(expert.times)
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    window = max(1, int(round(behind_s / dt)))
    out = {}
    for name, e_vals in expert.measures.items():
        e, p = np.array(e_vals), np.array(policy.measures.get(name, []))
        n = min(len(e), len(p))
        gap = p[:n] - e[:n] > diverge_m
        behind = next((k for k in range(n) if gap[k:k + window].all()), None)
        k_e, k_p = int(np.argmin(e)), int(np.argmin(p)) if len(p) else 0
        out[name] = {
            "expert_min_m": float(e[k_e]), "expert_min_at_s": float(times[k_e]), "expert_min_phase": expert.phases[k_e],
            "policy_min_m": float(p[k_p]) if len(p) else None,
            "policy_min_at_s": float(policy.times[k_p]) if len(p) else None,
            "behind_at_s": None if behind is None else float(times[behind]),
            "behind_phase": None if behind is None else expert.phases[behind],
        }
    return out


def report_lines(comparison: dict[str, dict], expert: Trace, policy: Trace, diverge_m: float = DIVERGE_M) -> list[str]:
    lines = [f"expert: success {expert.success}, sub-goals {expert.subgoals}",
             f"policy: success {policy.success}, sub-goals {policy.subgoals}",
             f"{'distance':22s} {'expert closest':>28s} {'policy closest':>18s}  policy behind by > {diverge_m * 100:.0f} cm"]
    for name, c in comparison.items():
        exp = f"{c['expert_min_m'] * 100:5.1f} cm at {c['expert_min_at_s']:4.1f} s ({c['expert_min_phase']})"
        pol = "-" if c["policy_min_m"] is None else f"{c['policy_min_m'] * 100:5.1f} cm at {c['policy_min_at_s']:4.1f} s"
        behind = "never" if c["behind_at_s"] is None else f"from {c['behind_at_s']:.2f} s (expert: {c['behind_phase']})"
        lines.append(f"{name:22s} {exp:>28s} {pol:>18s}  {behind}")
    return lines


def plot(expert: Trace, policy: Trace, path) -> None:
    """One panel per distance and one for the grippers; the expert's phases as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(expert.measures)
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(10, 2.2 * (len(names) + 1)), sharex=True)
    starts = [(t, ph) for k, (t, ph) in enumerate(zip(expert.times, expert.phases))
              if k == 0 or ph != expert.phases[k - 1]]
    for ax, name in zip(axes, names):
        ax.plot(expert.times, np.array(expert.measures[name]) * 100, "k--", label="expert")
        ax.plot(policy.times, np.array(policy.measures.get(name, [])) * 100, "C0", label="policy")
        ax.set_ylabel(f"{name} (cm)", fontsize=8)
    g_e, g_p = np.array(expert.grippers) * 100, np.array(policy.grippers) * 100
    for j, (arm, colour) in enumerate((("left", "C1"), ("right", "C2"))):
        axes[-1].plot(expert.times, g_e[:, j], "--", color=colour, label=f"expert {arm}")
        axes[-1].plot(policy.times, g_p[:, j], color=colour, label=f"policy {arm}")
    axes[-1].set_ylabel("gripper (cm)", fontsize=8)
    axes[-1].set_xlabel("sim time (s)")
    for ax in axes:
        for t, ph in starts:
            ax.axvline(t, color="0.85", lw=0.8, zorder=0)
    for t, ph in starts:
        axes[0].text(t, 1.02, ph, transform=axes[0].get_xaxis_transform(), rotation=45, fontsize=6, va="bottom")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Plots and the HTML page of a replay run (matplotlib Agg; no display needed)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from .metrics import Decision, Recording

PLOTS = {"joints": "joints.png", "horizon": "error_vs_horizon.png", "value": "value_snr.png"}


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(*args, **kwargs)


def plot_joints(path: Path, decisions: list[Decision], rec: Recording, source: str, joints: list[str],
                tick_hz: float) -> None:
    """Recorded target per joint over the episode, each predicted chunk drawn from its decision tick."""
    plt, fig, axes = _figure(len(joints) // 2, 2, figsize=(12, 1.6 * (len(joints) // 2)), sharex=True, squeeze=False)
    ticks = sorted(rec.commands if source == "command" else rec.states)
    targets = [(g, rec.target(g, source)) for g in ticks]
    targets = [(g, t) for g, t in targets if t is not None]
    for i, name in enumerate(joints):
        ax = axes[i % (len(joints) // 2), i // (len(joints) // 2)]
        if targets:
            ax.plot([g / tick_hz for g, _ in targets], [t[i] for _, t in targets], color="black", lw=1.2, label="recorded")
        for k, d in enumerate(decisions):
            steps = np.arange(len(d.actions))
            ax.plot((d.grid_tick + steps) / tick_hz, d.actions[:, i], color="tab:orange", lw=1.0,
                    label="predicted" if k == 0 else None)
        ax.set_ylabel(name, fontsize=7)
        ax.tick_params(labelsize=6)
    if targets or decisions:
        axes[0, 0].legend(fontsize=6, loc="upper right")
    for ax in axes[-1]:
        ax.set_xlabel("bag time since first tick [s]", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_horizon(path: Path, metrics: dict) -> None:
    plt, fig, ax = _figure(figsize=(6, 3.5))
    arm = [np.nan if v is None else v for v in metrics.get("mae_by_horizon", [])]
    grip = [np.nan if v is None else v for v in metrics.get("gripper_mae_by_horizon", [])]
    ax.plot(range(len(arm)), arm, marker="o", label="arm joints MAE [rad]")
    ax2 = ax.twinx()
    ax2.plot(range(len(grip)), grip, marker="s", color="tab:green", label="gripper MAE [m]")
    ax.set_xlabel("chunk step h")
    ax.set_ylabel("rad")
    ax2.set_ylabel("m")
    fig.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_value(path: Path, decisions: list[Decision], tick_hz: float) -> None:
    plt, fig, (a, b) = _figure(2, 1, figsize=(6, 4), sharex=True)
    t = [d.grid_tick / tick_hz for d in decisions]
    a.plot(t, [d.value_total for d in decisions], marker="o")
    a.set_ylabel("value (total)")
    b.plot(t, [d.snr for d in decisions], marker="o", color="tab:red")
    b.set_ylabel("SNR")
    b.set_xlabel("bag time since first tick [s]")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_report(out: Path, metrics: dict, decisions: list[Decision], rec: Recording, joints: list[str],
                 tick_hz: float) -> None:
    """Plots need at least one decision; the page is always written (it carries the error)."""
    source = metrics["action_source"]
    if not decisions:
        (out / "index.html").write_text(render_html(metrics, with_plots=False))
        return
    plot_joints(out / PLOTS["joints"], decisions, rec, source, joints, tick_hz)
    plot_horizon(out / PLOTS["horizon"], metrics)
    plot_value(out / PLOTS["value"], decisions, tick_hz)
    (out / "index.html").write_text(render_html(metrics))


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def render_html(m: dict, with_plots: bool = True) -> str:
    e = html.escape
    status = "complete" if m.get("complete") else f"INCOMPLETE: {m.get('error', '')}"
    key = [("bag", m.get("bag")), ("model", m.get("model")), ("status", status), ("decisions", m.get("decisions")),
           ("action source", m.get("action_source")), ("seed", m.get("seed")), ("replan after", m.get("replan_after")),
           ("planner", m.get("planner")), ("gripper agreement", _fmt((m.get("gripper_agreement") or {}).get("all"))),
           ("plan latency median / p90 [ms]", f"{_fmt(m['plan_latency_ms']['median'])} / {_fmt(m['plan_latency_ms']['p90'])}")]
    rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in key)
    joint_rows = "".join(f"<tr><td>{e(n)}</td><td>{_fmt(v)}</td><td>{_fmt(m['per_joint_rmse'].get(n))}</td></tr>"
                         for n, v in (m.get("per_joint_mae") or {}).items())
    titles = (("Predicted vs recorded", PLOTS["joints"]), ("Error vs horizon step", PLOTS["horizon"]),
              ("Value and SNR over time", PLOTS["value"]))
    imgs = "".join(f'<h2>{e(t)}</h2><img src="{f}" alt="{e(t)}">' for t, f in titles)
    if not with_plots:
        imgs = "<p>No decision was made: nothing to plot.</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>wav replay: {e(str(m.get('bag')))}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}img{max-width:100%}</style></head><body>"
            f"<h1>wav replay</h1><table>{rows}</table>"
            "<h2>Per-joint error (rad; gripper in m)</h2>"
            f"<table><tr><th>joint</th><th>MAE</th><th>RMSE</th></tr>{joint_rows}</table>"
            f"{imgs}</body></html>")

"""Does the value module know how well things are going? The two checks behind a planning ablation.

Planning can only help if the value module ranks futures correctly. `value_calibration` compares
the reward-to-go the policy predicts for its chosen future with the true reward-to-go of held-out
demonstrations, tick by tick; `snr_by_outcome` asks whether the SNR the planner maximises is higher
in closed-loop episodes that succeeded than in those that failed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.torch_dataset import SampleSpec, WavDataset
from ..planning.policy import WAVPolicy
from .held_out import episode_ticks


def value_calibration(policy: WAVPolicy, dataset_dir: str | Path, ticks_per_episode: int = 20,
                      seed: int = 0, progress: bool = True) -> dict:
    """Predicted vs true reward-to-go (total channel, first step of the chunk) at evenly spaced ticks
    of every episode of a dataset the model was not trained on."""
    if ticks_per_episode < 1:
        raise ValueError(f"ticks_per_episode: got {ticks_per_episode}, expected >= 1")
    ds = WavDataset(str(dataset_dir), SampleSpec.for_model(policy.cfg))
    points = []
    for ep, ticks, start in episode_ticks(ds, ticks_per_episode):
        info = ds.data.episodes[ep]
        for t in ticks:
            sample = ds[start + int(t)]
            images = (sample["history"].permute(0, 1, 3, 4, 2).numpy() * 255).round().astype(np.uint8)
            plan = policy.plan(images, sample["state"].numpy().astype(np.float64), sample["instruction"],
                               seed=seed + start + int(t))
            points.append({"episode": ep, "tick": int(t), "progress": float(t / max(info.ticks - 1, 1)),
                           "true": float(sample["values"][0, -1]), "predicted": float(plan.values[0, -1]),
                           "snr": plan.snr})
        if progress:
            print(f"calibration: episode {ep + 1}/{len(ds.data.episodes)} ({len(ticks)} ticks)", flush=True)
    true = np.array([p["true"] for p in points])
    pred = np.array([p["predicted"] for p in points])
    corr = float(np.corrcoef(true, pred)[0, 1]) if len(points) > 1 and true.std() > 0 and pred.std() > 0 else 0.0
    return {"dataset": str(dataset_dir), "episodes": len(ds.data.episodes), "points": points,
            "pearson_r": corr, "mae": float(np.abs(pred - true).mean()) if points else 0.0,
            "K": policy.planner.cfg.K}


def snr_by_outcome(eval_result: dict) -> dict:
    """Per-episode mean chosen-plan SNR of a `wav eval` result (one run or each K of a sweep),
    split by success."""
    runs = eval_result.get("sweep", [eval_result])
    out = []
    for run in runs:
        eps = run.get("episodes")
        if not isinstance(eps, list):
            raise ValueError("eval result: no 'episodes' list; pass the JSON written by `wav eval --json`")
        won = [e["mean_snr"] for e in eps if e["success"]]
        lost = [e["mean_snr"] for e in eps if not e["success"]]
        out.append({"K": run["K"], "success": won, "failure": lost,
                    "median_success": float(np.median(won)) if won else None,
                    "median_failure": float(np.median(lost)) if lost else None})
    return {"runs": out}


def calibration_plot(calibration: dict | None, snr: dict | None, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in (calibration, snr) if p is not None]
    if not panels:
        raise ValueError("calibration_plot: nothing to plot (no calibration and no eval result)")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    axes = list(axes[0])
    if calibration is not None:
        ax = axes.pop(0)
        true = [p["true"] for p in calibration["points"]]
        pred = [p["predicted"] for p in calibration["points"]]
        sc = ax.scatter(true, pred, c=[p["progress"] for p in calibration["points"]], s=10, cmap="viridis")
        lo, hi = min(true + pred), max(true + pred)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel("true reward-to-go")
        ax.set_ylabel("predicted reward-to-go")
        ax.set_title(f"value calibration (r = {calibration['pearson_r']:.2f}, "
                     f"{calibration['episodes']} held-out episodes)")
        fig.colorbar(sc, ax=ax, label="episode progress")
    if snr is not None:
        ax = axes.pop(0)
        for i, run in enumerate(snr["runs"]):
            for outcome, color, dx in (("success", "tab:green", -0.12), ("failure", "tab:red", 0.12)):
                ys = run[outcome]
                ax.scatter(np.full(len(ys), i + dx), ys, s=12, color=color,
                           label=outcome if i == 0 else None, alpha=0.7)
        ax.set_xticks(range(len(snr["runs"])), [f"K={r['K']}" for r in snr["runs"]])
        ax.set_ylabel("episode mean SNR of the chosen plan")
        ax.set_title("SNR vs outcome")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)

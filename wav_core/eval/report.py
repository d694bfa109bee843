"""The planning ablation as a table and a plot (success and latency vs K)."""

from __future__ import annotations

from pathlib import Path


def sweep_table(results: list[dict]) -> str:
    lines = ["| K | success | plan latency median (ms) | p90 (ms) | mean episode ticks |",
             "|---|---|---|---|---|"]
    for r in results:
        lat = r["plan_latency_ms"]
        lines.append(f"| {r['K']}{' (warm)' if r.get('warm_start') else ''} | {r['success_rate']:.2f} | "
                     f"{lat['median']:.1f} | {lat['p90']:.1f} | {r['mean_episode_ticks']:.0f} |")
    return "\n".join(lines)


def sweep_plot(results: list[dict], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["K"] for r in results]
    fig, ax1 = plt.subplots(figsize=(5, 3.2))
    ax1.plot(ks, [r["success_rate"] for r in results], "o-", color="tab:blue")
    ax1.set_xlabel("planning iterations K")
    ax1.set_ylabel("success rate", color="tab:blue")
    ax1.set_ylim(-0.02, 1.02)
    ax2 = ax1.twinx()
    ax2.plot(ks, [r["plan_latency_ms"]["median"] for r in results], "s--", color="tab:red")
    ax2.set_ylabel("plan latency median (ms)", color="tab:red")
    ax1.set_title(f"{results[0]['task']}: M={results[0]['M']}, N={results[0]['N']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)

"""The planning ablation as a table and a plot (success and latency vs K, or vs the warm-start blend)."""

from __future__ import annotations

from pathlib import Path


def _swept(results: list[dict]) -> str:
    """"warm" when the runs differ in warm-start blend at one K, else "K"."""
    ks = {r["K"] for r in results}
    warms = {r.get("warm_start", 0.0) for r in results}
    return "warm" if len(ks) == 1 and len(warms) > 1 else "K"


def sweep_table(results: list[dict]) -> str:
    lines = ["| K | warm start | success | plan latency median (ms) | p90 (ms) | mean episode ticks | plan-late holds |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lat = r["plan_latency_ms"]
        late = r.get("holds", {}).get("plan_late", 0) if "holds" in r else "n/a"
        lines.append(f"| {r['K']} | {r.get('warm_start', 0.0):g} | {r['success_rate']:.2f} | "
                     f"{lat['median']:.1f} | {lat['p90']:.1f} | {r['mean_episode_ticks']:.0f} | {late} |")
    return "\n".join(lines)


def sweep_plot(results: list[dict], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    swept = _swept(results)
    xs = [r["K"] if swept == "K" else r.get("warm_start", 0.0) for r in results]
    fig, ax1 = plt.subplots(figsize=(5, 3.2))
    ax1.plot(xs, [r["success_rate"] for r in results], "o-", color="tab:blue")
    ax1.set_xlabel("planning iterations K" if swept == "K" else f"warm-start blend (K={results[0]['K']})")
    ax1.set_ylabel("success rate", color="tab:blue")
    ax1.set_ylim(-0.02, 1.02)
    ax2 = ax1.twinx()
    ax2.plot(xs, [r["plan_latency_ms"]["median"] for r in results], "s--", color="tab:red")
    ax2.set_ylabel("plan latency median (ms)", color="tab:red")
    ax1.set_title(f"{results[0]['task']}: M={results[0]['M']}, N={results[0]['N']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)

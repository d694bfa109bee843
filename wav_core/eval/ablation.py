"""The planning ablation as a table and a plot: success and sub-goals per conditioning and K, beside
each model's diagnose figures."""

from __future__ import annotations

from pathlib import Path

from .model_card import read_json


def load_runs(evals: dict[str, str | Path]) -> dict[str, list[dict]]:
    """name -> the K sweep of a `wav eval --sweep K=... --json` file, sorted by K."""
    out = {}
    for name, path in evals.items():
        result = read_json(path, f"--eval {name}")
        runs = result.get("sweep", [result])
        if not all(isinstance(r, dict) and "K" in r and "success_rate" in r for r in runs):
            raise ValueError(f"--eval {name}: {path} is not a `wav eval --json` result (no K / success_rate)")
        out[name] = sorted(runs, key=lambda r: r["K"])
    seeds = {name: [tuple(r.get("seeds", [])) for r in runs] for name, runs in out.items()}
    if len({s for runs in seeds.values() for s in runs}) > 1:
        raise ValueError(f"--eval: the runs were evaluated on different seeds ({seeds}); compare like with like")
    return out


def _cell(run: dict) -> str:
    subs = ", ".join(f"{k} {100 * v:.0f} %" for k, v in run.get("subgoal_rates", {}).items())
    return f"**{100 * run['success_rate']:.0f} %** ({subs})" if subs else f"**{100 * run['success_rate']:.0f} %**"


def table(runs: dict[str, list[dict]], diagnoses: dict[str, dict] | None = None) -> str:
    ks = sorted({r["K"] for rs in runs.values() for r in rs})
    n = max(len(r.get("seeds", [])) for rs in runs.values() for r in rs)
    lines = [f"Success (and sub-goals) on the same {n} held-out seeds per cell:", "",
             "| conditioning | " + " | ".join(f"K = {k}" for k in ks) + " |",
             "|---|" + "---|" * len(ks)]
    for name, rs in runs.items():
        by_k = {r["K"]: r for r in rs}
        lines.append(f"| {name} | " + " | ".join(_cell(by_k[k]) if k in by_k else "" for k in ks) + " |")
    if diagnoses:
        lines += ["", "Does the action follow the plan? (`wav diagnose`: spread of the decoded chunk, normalised "
                  "units, when only one noise varies; value spread across video noises; value ranking on "
                  "held-out ticks)", "",
                  "| conditioning | video noise | value noise | action noise | value spread | spearman |",
                  "|---|---|---|---|---|---|"]
        for name, d in diagnoses.items():
            a, rank = d["action_spread"], d.get("value_rank", {}).get("spearman")
            lines.append(f"| {name} | {a['video']:.4f} | {a['value']:.4f} | {a['action_noise']:.4f} | "
                         f"{d['value_spread']['video']:.4f} | {'' if rank is None else f'{rank:.3f}'} |")
    return "\n".join(lines) + "\n"


def plot(runs: dict[str, list[dict]], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, rs in runs.items():
        ax.plot([r["K"] for r in rs], [100 * r["success_rate"] for r in rs], marker="o", label=name)
    ax.set_xlabel("planning iterations K")
    ax.set_ylabel("success (%)")
    ax.set_ylim(-5, 105)
    ax.set_title("planning ablation")
    ax.legend(title="conditioning")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write(evals: dict[str, str | Path], diagnoses: dict[str, str | Path], out: str | Path) -> tuple[Path, Path]:
    runs = load_runs(evals)
    diag = {name: read_json(p, f"--diagnose {name}") for name, p in diagnoses.items()}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "ablation.md"
    md.write_text(table(runs, diag))
    return md, plot(runs, out / "ablation.png")

"""The planning ablation as a table and a plot: success and sub-goals per conditioning and K, beside
each model's diagnose figures.

Trainings of one configuration differ in closed loop as much as two configurations do, so a row may
pool several trainings (`--eval future@r46=...`, `--eval future@r47=...`); what planning adds is then
measured seed by seed against K = 0 within each training and pooled (an exact McNemar test on the
episodes only one of the two completed); a cell may pool several seed blocks, each of which its
K = 0 must cover. Runs evaluated with `--blind-scores` (the control whose
Gaussians move and shrink as planning's do while its choice ignores the value) or `--final best`
form rows of their own, compared with their own K = 0 or else the plain row's."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .model_card import read_json


def row_name(name: str, run: dict) -> str:
    """The row of a run: its name, tagged with the planner settings that make it a variant."""
    tags = [t for t, on in (("final best", run.get("final", "draw") == "best"),
                            ("shared value noise", run.get("value_noise", "own") == "shared"),
                            ("mean of value samples", run.get("video_score", "best") == "mean"),
                            ("blind scores", bool(run.get("blind_scores")))) if on]
    return f"{name} ({', '.join(tags)})" if tags else name


@dataclass
class Cell:
    """One row's runs at one K: episodes by (training, seed)."""

    K: int
    episodes: dict[tuple[str, int], dict] = field(default_factory=dict)

    @property
    def successes(self) -> int:
        return sum(bool(e["success"]) for e in self.episodes.values())

    def subgoal_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.episodes.values():
            for k, v in e.get("subgoals", {}).items():
                out[k] = out.get(k, 0) + int(bool(v))
        return out


def _episodes(run: dict, name: str, path) -> list[dict]:
    eps = run.get("episodes")
    if not isinstance(eps, list) or not all(isinstance(e, dict) and "seed" in e and "success" in e for e in eps):
        raise ValueError(f"--eval {name}: {path} has no per-episode results (episodes with seed and success)")
    return eps


def load_runs(evals: list[tuple[str, str | Path]]) -> dict[str, dict[int, Cell]]:
    """Rows (conditioning, and a row per variant, see `row_name`) -> K -> pooled cell. `evals` holds
    (NAME or NAME@TRAINING, path of a `wav eval --json` result, one run or a --sweep)."""
    rows: dict[str, dict[int, Cell]] = {}
    for label, path in evals:
        name, _, training = label.partition("@")
        result = read_json(path, f"--eval {label}")
        runs = result.get("sweep", [result])
        if not all(isinstance(r, dict) and "K" in r and "success_rate" in r for r in runs):
            raise ValueError(f"--eval {label}: {path} is not a `wav eval --json` result (no K / success_rate)")
        for run in runs:
            row = row_name(name, run)
            cell = rows.setdefault(row, {}).setdefault(run["K"], Cell(run["K"]))
            for e in _episodes(run, label, path):
                key = (training, int(e["seed"]))
                if key in cell.episodes:
                    raise ValueError(f"--eval {label}: seed {key[1]} at K={run['K']} appears twice for "
                                     f"{row} training {training or '(one)'!r}; give each training its own @NAME")
                cell.episodes[key] = e
    rows = {row: dict(sorted(cells.items())) for row, cells in rows.items()}
    _check_pairs(rows)
    return rows


def _check_pairs(rows: dict[str, dict[int, Cell]]) -> None:
    """Cells may cover several seed blocks, but every planned cell is paired seed by seed with its K = 0:
    an episode its K = 0 lacks would leave the comparison unlike. A row with no K = 0 is not paired."""
    for row, cells in rows.items():
        base = _baseline(rows, row)
        if base is None:
            continue
        for k, cell in cells.items():
            if cell is base:
                continue
            missing = sorted(set(cell.episodes) - set(base.episodes))
            if missing:
                shown = ", ".join(f"{t or '(one)'}:{s}" for t, s in missing[:5]) + (" ..." if len(missing) > 5 else "")
                raise ValueError(f"--eval: {row} K={k} was evaluated on seeds its K = 0 was not ({len(missing)}: "
                                 f"{shown}); evaluate K = 0 on the same seeds of the same training")


def mcnemar(a: Cell, b: Cell) -> dict:
    """Seed by seed within each training: episodes only a completed, only b, and the exact two-sided
    McNemar p (a binomial test of the discordant pairs)."""
    from scipy.stats import binomtest

    keys = sorted(set(a.episodes) & set(b.episodes))
    only_a = sum(bool(a.episodes[k]["success"]) and not b.episodes[k]["success"] for k in keys)
    only_b = sum(bool(b.episodes[k]["success"]) and not a.episodes[k]["success"] for k in keys)
    p = binomtest(only_b, only_a + only_b).pvalue if only_a + only_b else 1.0
    return {"pairs": len(keys), "only_a": only_a, "only_b": only_b, "p": float(p)}


def _cell(cell: Cell) -> str:
    n = len(cell.episodes)
    subs = ", ".join(f"{k} {100 * v / n:.0f} %" for k, v in cell.subgoal_counts().items())
    head = f"**{100 * cell.successes / n:.0f} %** {cell.successes}/{n}"
    return f"{head} ({subs})" if subs else head


def _baseline(rows: dict[str, dict[int, Cell]], row: str) -> Cell | None:
    """The row's own K = 0, else its plain row's (K = 0 plans nothing, so a variant's is the same)."""
    return rows[row].get(0) or rows.get(row.split(" (")[0], {}).get(0)


def table(rows: dict[str, dict[int, Cell]], diagnoses: dict[str, dict] | None = None) -> str:
    ks = sorted({k for cells in rows.values() for k in cells})
    trainings = {row: len({t for c in cells.values() for t, _ in c.episodes}) for row, cells in rows.items()}
    seeds = {len({s for _, s in c.episodes}) for cells in rows.values() for c in cells.values()}
    over = f"on the same {seeds.pop()} held-out seeds per cell" if len(seeds) == 1 else "on each cell's held-out seeds"
    lines = [f"Success (and sub-goals) {over}, pooled over each row's trainings:", "",
             "| conditioning | trainings | " + " | ".join(f"K = {k}" for k in ks) + " |",
             "|---|---|" + "---|" * len(ks)]
    for row, cells in rows.items():
        lines.append(f"| {row} | {trainings[row]} | " + " | ".join(_cell(cells[k]) if k in cells else "" for k in ks)
                     + " |")
    paired = []
    for row, cells in rows.items():
        base = _baseline(rows, row)
        for k, cell in cells.items():
            if base is None or cell is base:
                continue
            m = mcnemar(base, cell)
            if not m["pairs"]:
                continue
            gain = 100 * (m["only_b"] - m["only_a"]) / m["pairs"]
            paired.append(f"| {row} | {k} | {m['pairs']} | {gain:+.0f} | {m['only_b']} | {m['only_a']} | {m['p']:.3f} |")
    if paired:
        lines += ["", "Against K = 0 of the same trainings, seed by seed (exact McNemar):", "",
                  "| conditioning | K | pairs | points | completed only planned | only at K = 0 | p |",
                  "|---|---|---|---|---|---|---|", *paired]
    if diagnoses:
        lines += ["", "Does the action follow the plan? (`wav diagnose`: spread of the decoded chunk, normalised "
                  "units, when only one noise varies; value spread across futures and across value draws; value ranking on "
                  "held-out ticks)", "",
                  "| conditioning | video noise | value noise | action noise | value spread: futures / value draws "
                  "| spearman |",
                  "|---|---|---|---|---|---|"]
        for name, d in diagnoses.items():
            a, v, rank = d["action_spread"], d["value_spread"], d.get("value_rank", {}).get("spearman")
            draws = f" / {v['value']:.4f}" if "value" in v else ""
            lines.append(f"| {name} | {a['video']:.4f} | {a['value']:.4f} | {a['action_noise']:.4f} | "
                         f"{v['video']:.4f}{draws} | {'' if rank is None else f'{rank:.3f}'} |")
    return "\n".join(lines) + "\n"


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a success rate: honest at 20-40 episodes and at 0 or n successes."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def plot(rows: dict[str, dict[int, Cell]], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ks = sorted({k for cells in rows.values() for k in cells})
    for i, (row, cells) in enumerate(rows.items()):
        x = [k + 0.06 * (i - (len(rows) - 1) / 2) for k in cells]  # side by side, not on top of each other
        rate = [100 * c.successes / len(c.episodes) for c in cells.values()]
        lo, hi = zip(*(wilson(c.successes, len(c.episodes)) for c in cells.values()))
        err = [[r - 100 * a for r, a in zip(rate, lo)], [100 * b - r for r, b in zip(rate, hi)]]
        ax.errorbar(x, rate, yerr=err, marker="o", capsize=3, label=row, linestyle="--" if "(" in row else "-")
    ax.set_xticks(ks)
    ax.set_xlabel("planning iterations K")
    ax.set_ylabel("success (%), 95 % interval")
    ax.set_ylim(-5, 105)
    ax.set_title("planning ablation")
    ax.legend(title="conditioning", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write(evals: list[tuple[str, str | Path]], diagnoses: dict[str, str | Path], out: str | Path) -> tuple[Path, Path]:
    rows = load_runs(evals)
    diag = {name: read_json(p, f"--diagnose {name}") for name, p in diagnoses.items()}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "ablation.md"
    md.write_text(table(rows, diag))
    return md, plot(rows, out / "ablation.png")

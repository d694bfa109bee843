"""MODEL_CARD.md for a model directory, written from the files the recipe produced.

Every figure in the card comes from a file (recording summary, the model's own training record,
`wav eval` and `wav calibrate` JSON) and every command is the recipe's, so the card cannot drift
from what was run.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..model.files import load_model
from .report import sweep_table

CARD_FILE = "MODEL_CARD.md"


def read_json(path: str | Path | None, what: str) -> dict | None:
    """A JSON result file another command wrote; a missing or malformed one names `what` and the path."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: {path} is not JSON ({exc})") from None


def model_card(model_dir: str | Path, commands: list[str], recordings: dict[str, str | Path] | None = None,
               eval_json: str | Path | None = None, calibration_json: str | Path | None = None,
               title: str | None = None, bench_json: str | Path | None = None,
               status: list[str] | None = None) -> str:
    """The card as markdown. `recordings`: label -> summary.json of `wav sim record`; `status`: what
    a user must know before running the model (what it does not do), listed first."""
    model_dir = Path(model_dir)
    model, card = load_model(model_dir)
    params = sum(p.numel() for p in model.parameters())
    weights_mb = (model_dir / "weights.safetensors").stat().st_size / 1e6
    lines = [f"# {title or model_dir.name}", "",
             f"WAV policy: {params / 1e6:.1f} M parameters (world module {card.config.world.depth} blocks "
             f"x {card.config.world.dim}, experts {card.config.expert.dim} wide), "
             f"{weights_mb:.1f} MB of weights; cameras {', '.join(card.cameras)} at "
             f"{card.config.image_size[0]}x{card.config.image_size[1]}, {len(card.joints)} joints, "
             f"{card.config.action_horizon}-step action chunks.", "",
             f"Instruction: \"{card.instruction}\"", ""]
    if status:
        lines += ["## Status", "", *[f"- {line}" for line in status], ""]
    if recordings:
        lines += ["## Data", ""]
        for label, path in recordings.items():
            s = read_json(path, f"recording summary ({label})")
            seeds = s["seeds"]
            if s.get("quality") == "mixed":
                modes = ", ".join(f"{m} {v['successes']}/{v['episodes']}" for m, v in s.get("by_mode", {}).items())
                lines.append(f"- {label}: {s['episodes']} episodes of `{s['task']}` of mixed quality (clean, noisy "
                             f"and failing scripted experts), seeds {min(seeds)}-{max(seeds)}, success "
                             f"{s['success_rate']:.0%} (successful/episodes per mode: {modes}).")
            else:
                lines.append(f"- {label}: {s['episodes']} scripted-expert episodes of `{s['task']}`, seeds "
                             f"{min(seeds)}-{max(seeds)}, action noise {s['noise']}, expert success "
                             f"{s['success_rate']:.0%}.")
        lines.append("")
    training = card.notes.get("training", {})
    init = card.notes.get("init") or {}
    if training:
        lines += ["## Training", ""]
        rows = [(stage, rec) for stage, rec in training.items()]
        if init:
            lines += [f"Fine-tuned from `{init['model']}` (`wav train --init`): the first rows are that model's "
                      f"own training (data `{init.get('data', '')}`), the others this run's.", ""]
            rows = [(f"{stage} (base model)", rec) for stage, rec in init.get("training", {}).items()] + rows
        lines += ["| stage | steps | wall time | hardware |", "|---|---|---|---|"]
        total = 0.0
        for stage, rec in rows:
            total += rec["seconds"]
            lines.append(f"| {stage} | {rec['steps']} | {rec['seconds'] / 60:.1f} min | {rec['hardware']} |")
        lines += ["", f"Total training time: {total / 60:.1f} min.", ""]
    ev = read_json(eval_json, "eval result")
    if ev is not None:
        runs = ev.get("sweep", [ev])
        seeds = runs[0]["seeds"]
        lines += ["## Closed-loop evaluation", "",
                  f"`{runs[0]['task']}` in the simulator, {len(seeds)} seeds ({min(seeds)}-{max(seeds)}) not used "
                  f"for training, M={runs[0]['M']}, N={runs[0]['N']}, S={runs[0]['S']}; the same seeds for every K.",
                  "", sweep_table(runs), ""]
        if ev.get("hardware"):
            lines += [f"Ran on {ev['hardware']}; with several workers the latencies above come from shared "
                      "cores, see the next section for one planner alone.", ""]
        lines += ["Sub-goal rates: " + "; ".join(
            f"K={r['K']}: " + ", ".join(f"{k} {v:.0%}" for k, v in r["subgoal_rates"].items()) for r in runs), ""]
    bench = read_json(bench_json, "bench result")
    if bench is not None:
        b = bench["batched"]
        lines += ["## Plan latency", "",
                  f"`wav bench --model` (K={bench['K']}, M={bench['M']}, N={bench['N']}, S={bench['S']}) on "
                  f"{bench.get('machine', 'unknown hardware')}: eager torch median {b['median_ms']:.1f} ms, "
                  f"p90 {b['p90_ms']:.1f} ms."]
        r = bench.get("backend")
        if r:
            lines.append(f"`{r['used']}`: median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms "
                         f"({r['ratio_to_eager']:.2f}x eager, max relative action difference {r['max_rel_diff_actions']:.1e}).")
        lines.append("")
    cal = read_json(calibration_json, "calibration result")
    if cal is not None:
        lines += ["## Does the value module rank futures?", ""]
        c = cal.get("calibration")
        if c:
            lines.append(f"- Value calibration on {c['episodes']} held-out demonstrations ({len(c['points'])} ticks, "
                         f"K={c['K']}): Pearson r {c['pearson_r']:.2f} between predicted and true reward-to-go, "
                         f"MAE {c['mae']:.3f}.")
        for r in cal.get("snr_by_outcome", {}).get("runs", []):
            lines.append(f"- K={r['K']}: median episode SNR {_fmt(r['median_success'])} in successes "
                         f"({len(r['success'])}) vs {_fmt(r['median_failure'])} in failures ({len(r['failure'])}).")
        lines += ["", "Plots: `calibration.png` (value calibration, SNR vs outcome) and `eval.png` (success and "
                  "plan latency vs K).", ""]
    lines += ["## Reproduce", "", "```bash", *commands, "```", ""]
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def write_model_card(model_dir: str | Path, text: str) -> Path:
    path = Path(model_dir) / CARD_FILE
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path

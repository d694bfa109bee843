"""Join single-K `wav eval --json` results into the sweep JSON and plot that `wav eval --sweep` writes.

The GPU recipe runs each K of its sweep as its own time-guarded phase, so a slow K=3 cannot lose the
K=0 and K=1 results; `wav card` and `wav calibrate` then read the joined file like any sweep.
Usage: python scripts/lib/eval_sweep.py --out eval.json eval_K0.json eval_K1.json ...
(missing inputs are left out; the plot goes next to --out as .png)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wav_core.eval.report import sweep_plot, sweep_table

REQUIRED = ("K", "task", "M", "N", "success_rate", "plan_latency_ms", "mean_episode_ticks", "seeds")


def read_run(path: Path) -> dict:
    try:
        run = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(run, dict) or "sweep" in run:
        raise ValueError(f"{path}: expected the JSON of one `wav eval --json` run (one K), not a sweep")
    missing = [k for k in REQUIRED if k not in run]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}; expected a `wav eval --json` result")
    return run


def join(paths: list[Path]) -> dict:
    found = sorted(((p, read_run(p)) for p in paths if p.is_file()), key=lambda pr: pr[1]["K"])
    if not found:
        raise FileNotFoundError(f"none of {', '.join(map(str, paths))} exists: no evaluated K to join")
    runs = [run for _, run in found]
    first = runs[0]
    for path, run in found:
        if (run["task"], run["M"], run["N"], run["seeds"]) != (first["task"], first["M"], first["N"], first["seeds"]):
            raise ValueError(f"{path}: task, M, N or seeds differ from K={first['K']}'s; a sweep compares K alone")
    return {"sweep": runs, "table": sweep_table(runs), "hardware": first.get("hardware", "unknown")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="sweep JSON to write (plot next to it as .png)")
    p.add_argument("runs", nargs="+", help="single-K `wav eval --json` files; missing ones are left out")
    args = p.parse_args(argv)
    try:
        out = join([Path(r) for r in args.runs])
    except (ValueError, FileNotFoundError) as exc:
        print(f"eval_sweep: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text(json.dumps(out, indent=2))
    sweep_plot(out["sweep"], Path(args.out).with_suffix(".png"))
    print(out["table"])
    print(f"wrote {args.out} (K = {', '.join(str(r['K']) for r in out['sweep'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

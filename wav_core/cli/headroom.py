"""`wav headroom`: what choosing among the planner's imagined futures could gain, and how much of it the
model's own value reaches (see wav_core/eval/headroom.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("headroom", help="play each decision's candidate futures ahead in the simulator: the "
                                        "ceiling of planning, and how well the model's value ranks the candidates")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--task", default="drawer", choices=["drawer", "bowl"])
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=1000, help="first seed; episodes use seed, seed+1, ...")
    p.add_argument("--picks", default="first,value,oracle",
                   help="comma-separated pick rules, each run on every seed: first (the policy as it is), value "
                        "(the model's best-scored candidate), oracle (the best candidate played ahead)")
    p.add_argument("--candidates", type=int, default=8, help="futures planned and played ahead per decision")
    p.add_argument("--vary", default="plan", choices=["plan", "video", "all"],
                   help="plan: candidates differ in video and value noise; video: in the video noise alone, scored "
                        "with one shared value draw; all: in the action noise too")
    p.add_argument("--K", type=int, default=0, help="planner iterations before the candidates are drawn")
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=2)
    p.add_argument("--S", type=int, default=5)
    p.add_argument("--max-seconds", type=float, default=20.0)
    p.add_argument("--action-temperature", type=float, default=1.0,
                   help="scale of the action flow noise, as in wav eval (with --vary plan, shared by a decision's candidates)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads per process (0: 1 with --workers > 1)")
    p.add_argument("--journal", help="JSON lines of finished episodes; a rerun with the same settings resumes")
    p.add_argument("--json", required=True, help="output JSON file")
    p.add_argument("--plot", help="PNG of the pick rules' rates and the value against the outcomes "
                                  "(default: next to --json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bench.machine import describe
    from ..eval.closed_loop import EvalConfig, PolicySource
    from ..eval.headroom import PICKS, HeadroomConfig, headroom_plot, headroom_summary, headroom_table, run_headroom
    from ..model.files import load_card
    from ..planning import PlannerConfig

    picks = [p.strip() for p in args.picks.split(",") if p.strip()]
    if not picks or any(p not in PICKS for p in picks):
        raise ValueError(f"--picks: got {args.picks!r}, expected a comma-separated subset of {list(PICKS)}")
    for key in ("episodes", "candidates", "workers"):
        if getattr(args, key) < 1:
            raise ValueError(f"--{key}: got {getattr(args, key)}, expected >= 1")
    if not Path(args.model).is_dir():
        raise FileNotFoundError(f"--model: {args.model} is not a model directory")
    load_card(args.model)
    planner = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S, action_temperature=args.action_temperature)
    planner.validate()
    settings = HeadroomConfig(candidates=args.candidates, vary=args.vary)
    settings.validate()
    eval_cfg = EvalConfig(task=args.task, episodes=args.episodes, seed=args.seed, max_seconds=args.max_seconds,
                          mode="sync")
    journals = None
    if args.journal:
        import dataclasses

        from ..eval.journal import EpisodeJournal, weights_digest

        digest = weights_digest(args.model)
        journals = {p: EpisodeJournal(args.journal, digest, eval_cfg, {"pick": p, **dataclasses.asdict(settings)})
                    for p in picks}
    episodes = run_headroom(PolicySource(args.model), eval_cfg, planner, picks, settings, workers=args.workers,
                            threads=args.threads or None, journals=journals)
    summary = headroom_summary(episodes, eval_cfg, planner, settings)
    summary.update(model=str(args.model), task=args.task, seeds=[args.seed, args.seed + args.episodes - 1],
                   hardware=f"{describe('cpu')}, {args.workers} worker{'s' if args.workers > 1 else ''}")
    table = headroom_table(summary)
    summary["table"] = table
    print(table)
    print(f"plot: {headroom_plot(episodes, args.plot or Path(args.json).with_suffix('.png'))}")
    Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0
